#include "prometheus.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace taskmaster::sidecar {

namespace {

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

std::string LabelSet(const std::vector<std::string>& names, const Labels& values,
                     const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ',';
    out += names[i] + "=\"" + EscapeLabel(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void MetricRegistry::Register(const MetricFamily* family) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!families_.emplace(family->name_, family).second) std::abort();
}

std::string MetricRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

MetricFamily::MetricFamily(MetricRegistry* registry, std::string name, MetricType type,
                           std::string help, std::vector<std::string> label_names,
                           std::vector<double> buckets)
    : mu_(&registry->mu_),
      name_(std::move(name)),
      type_(type),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {
  registry->Register(this);
}

void MetricFamily::Add(const Labels& labels, double by) {
  std::lock_guard<std::mutex> lock(*mu_);
  values_[labels] += by;
}

void MetricFamily::Set(const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(*mu_);
  values_[labels] = value;
}

void MetricFamily::Observe(const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(*mu_);
  Observations& o = observations_[labels];
  o.cumulative.resize(buckets_.size(), 0);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (value <= buckets_[i]) ++o.cumulative[i];
  }
  o.sum += value;
  o.count += 1;
}

double MetricFamily::Value(const Labels& labels) const {
  std::lock_guard<std::mutex> lock(*mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

uint64_t MetricFamily::Count(const Labels& labels) const {
  std::lock_guard<std::mutex> lock(*mu_);
  auto it = observations_.find(labels);
  return it == observations_.end() ? 0 : it->second.count;
}

void MetricFamily::Render(std::string* out) const {
  *out += "# HELP " + name_ + " " + help_ + "\n";
  *out += "# TYPE " + name_ + " " + TypeName(type_) + "\n";
  if (type_ != MetricType::kHistogram) {
    // A metric without labels exists from the start (0), so a scrape can tell
    // "none yet" from "not exported".
    if (label_names_.empty() && values_.empty()) *out += name_ + " 0\n";
    for (const auto& [labels, value] : values_) {
      *out += name_ + LabelSet(label_names_, labels) + " " + FormatNumber(value) + "\n";
    }
    return;
  }
  for (const auto& [labels, o] : observations_) {
    for (size_t i = 0; i < buckets_.size(); ++i) {
      *out += name_ + "_bucket" +
              LabelSet(label_names_, labels, "le=\"" + FormatNumber(buckets_[i]) + "\"") + " " +
              std::to_string(o.cumulative[i]) + "\n";
    }
    *out += name_ + "_bucket" + LabelSet(label_names_, labels, "le=\"+Inf\"") + " " +
            std::to_string(o.count) + "\n";
    *out += name_ + "_sum" + LabelSet(label_names_, labels) + " " + FormatNumber(o.sum) + "\n";
    *out +=
        name_ + "_count" + LabelSet(label_names_, labels) + " " + std::to_string(o.count) + "\n";
  }
}

}  // namespace taskmaster::sidecar
