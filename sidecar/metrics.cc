#include "metrics.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace taskmaster::sidecar {

namespace {

const std::vector<double> kSecondsBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,     2.5,  5,     10,   30,  60,
                                             300,   1800,  3600};
const std::vector<double> kRecordBuckets = {1, 5, 10, 50, 100, 250, 500, 1000};

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

}  // namespace

Metrics::Metrics() {
  Declare("workflow_duration_seconds", Kind::kHistogram,
          "Wall time of the step this sidecar served, by outcome", {"workflow_type", "status"},
          kSecondsBuckets);
  Declare("checkpoint_operations_total", Kind::kCounter, "Checkpoint operations",
          {"operation", "status"});
  Declare("task_duration_seconds", Kind::kHistogram, "Task run time, by final status", {"status"},
          kSecondsBuckets);
  Declare("tasks_total", Kind::kCounter, "Tasks that reached a status durably", {"status"});
  Declare("flush_duration_seconds", Kind::kHistogram, "Time to commit one batch, by store",
          {"store"}, kSecondsBuckets);
  Declare("flush_batch_records", Kind::kHistogram, "Journal records per committed batch", {},
          kRecordBuckets);
  Declare("journal_lag_bytes", Kind::kGauge, "Journal bytes written but not yet acknowledged",
          {});
  Declare("fence_rejections_total", Kind::kCounter,
          "Records refused because a newer attempt owns the state", {});
  Declare("store_errors_total", Kind::kCounter, "Store operations that failed", {"store", "kind"});
  Declare("store_up", Kind::kGauge, "1 when the store answered its last operation", {"store"});
}

void Metrics::Declare(const std::string& name, Kind kind, std::string help,
                      std::vector<std::string> label_names, std::vector<double> buckets) {
  Family f{kind, std::move(help), std::move(label_names), std::move(buckets), {}, {}, {}, {}};
  families_.emplace(name, std::move(f));
}

Metrics::Family& Metrics::Get(const std::string& name, Kind kind) {
  auto it = families_.find(name);
  // Metrics are declared once in the constructor: an unknown name is a bug.
  if (it == families_.end() || it->second.kind != kind) std::abort();
  return it->second;
}

void Metrics::Inc(const std::string& counter, const Labels& labels, double by) {
  std::lock_guard<std::mutex> lock(mu_);
  Get(counter, Kind::kCounter).values[labels] += by;
}

void Metrics::Set(const std::string& gauge, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Get(gauge, Kind::kGauge).values[labels] = value;
}

void Metrics::Observe(const std::string& histogram, const Labels& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = Get(histogram, Kind::kHistogram);
  auto& counts = f.bucket_counts[labels];
  counts.resize(f.buckets.size(), 0);
  for (size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) ++counts[i];
  }
  f.sums[labels] += value;
  f.counts[labels] += 1;
}

double Metrics::Value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  if (it->second.kind == Kind::kHistogram) {
    auto c = it->second.counts.find(labels);
    return c == it->second.counts.end() ? 0 : static_cast<double>(c->second);
  }
  auto v = it->second.values.find(labels);
  return v == it->second.values.end() ? 0 : v->second;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.kind == Kind::kCounter ? "counter"
                       : f.kind == Kind::kGauge ? "gauge"
                                                : "histogram";
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    if (f.kind != Kind::kHistogram) {
      // A metric without labels exists from the start (0), so a scrape can tell
      // "none yet" from "not exported".
      if (f.label_names.empty() && f.values.empty()) out += name + " 0\n";
      for (const auto& [labels, value] : f.values) {
        out += name + LabelSet(f.label_names, labels) + " " + FormatNumber(value) + "\n";
      }
      continue;
    }
    for (const auto& [labels, counts] : f.bucket_counts) {
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        out += name + "_bucket" +
               LabelSet(f.label_names, labels, "le=\"" + FormatNumber(f.buckets[i]) + "\"") + " " +
               std::to_string(counts[i]) + "\n";
      }
      const uint64_t total = f.counts.at(labels);
      out += name + "_bucket" + LabelSet(f.label_names, labels, "le=\"+Inf\"") + " " +
             std::to_string(total) + "\n";
      out += name + "_sum" + LabelSet(f.label_names, labels) + " " +
             FormatNumber(f.sums.at(labels)) + "\n";
      out += name + "_count" + LabelSet(f.label_names, labels) + " " + std::to_string(total) + "\n";
    }
  }
  return out;
}

}  // namespace taskmaster::sidecar
