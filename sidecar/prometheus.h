// Prometheus metric families, registered in a MetricRegistry that renders them
// in the text exposition format 0.0.4 (what `promtool check metrics` accepts):
// families sorted by name, series by label values.
//
// A family's type and label count are part of its C++ type, so a series is
// picked with exactly as many label values as the family has label names, and
// only a counter has Inc, a gauge Set, a histogram Observe; a mistake does not
// compile:
//
//   CounterFamily<2> errors{&registry, "store_errors_total", "Store operations that failed",
//                           "store", "kind"};
//   errors("postgres", "timeout").Inc();
//
// Ownership: a family registers itself with the registry it is built with;
// the registry must outlive it and does not own it. Thread-safe: every family
// of a registry is guarded by the registry's one mutex, so one may update
// series while another thread renders.
#ifndef TASKMASTER_SIDECAR_PROMETHEUS_H_
#define TASKMASTER_SIDECAR_PROMETHEUS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace taskmaster::sidecar {

// The label values of one series, in the order of its family's label names.
using Labels = std::vector<std::string>;

enum class MetricType { kCounter, kGauge, kHistogram };

// The upper bounds of a histogram's buckets, ascending (+Inf is implied).
struct HistogramBuckets {
  std::vector<double> upper_bounds;
};

class MetricFamily;

class MetricRegistry {
 public:
  MetricRegistry() = default;
  MetricRegistry(const MetricRegistry&) = delete;
  MetricRegistry& operator=(const MetricRegistry&) = delete;

  // Every family in the text format 0.0.4.
  std::string Render() const;

 private:
  friend class MetricFamily;
  // Aborts when the name is taken: two declarations of one metric are a bug.
  void Register(const MetricFamily* family);

  mutable std::mutex mu_;
  std::map<std::string, const MetricFamily*> families_;
};

// What every family holds: its declaration and its series. Used through the
// typed Family below.
class MetricFamily {
 public:
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

 protected:
  MetricFamily(MetricRegistry* registry, std::string name, MetricType type, std::string help,
               std::vector<std::string> label_names, std::vector<double> buckets);

  void Add(const Labels& labels, double by);
  void Set(const Labels& labels, double value);
  void Observe(const Labels& labels, double value);
  // A counter's or gauge's value; 0 when the series was never touched.
  double Value(const Labels& labels) const;
  // A histogram's number of observations.
  uint64_t Count(const Labels& labels) const;

 private:
  friend class MetricRegistry;
  struct Observations {
    std::vector<uint64_t> cumulative;  // per upper bound
    double sum = 0;
    uint64_t count = 0;
  };
  // Appends the family's lines; the caller holds the registry's mutex.
  void Render(std::string* out) const;

  std::mutex* mu_;  // the registry's
  const std::string name_;
  const MetricType type_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;
  std::map<Labels, double> values_;              // counters and gauges
  std::map<Labels, Observations> observations_;  // histograms
};

// A family of `kType` with `kLabels` labels. Calling it with the label values
// gives the series, a cheap handle to update or read.
template <MetricType kType, size_t kLabels>
class Family : public MetricFamily {
 public:
  class Series {
   public:
    void Inc(double by = 1) const {
      static_assert(kType == MetricType::kCounter, "only a counter has Inc");
      family_->Add(labels_, by);
    }
    void Set(double value) const {
      static_assert(kType == MetricType::kGauge, "only a gauge has Set");
      family_->Set(labels_, value);
    }
    void Observe(double value) const {
      static_assert(kType == MetricType::kHistogram, "only a histogram has Observe");
      family_->Observe(labels_, value);
    }
    // A counter's or gauge's current value (0 when never touched).
    double Value() const { return family_->Value(labels_); }
    // A histogram's number of observations.
    uint64_t Count() const { return family_->Count(labels_); }

   private:
    friend class Family;
    Series(Family* family, Labels labels) : family_(family), labels_(std::move(labels)) {}
    Family* family_;
    Labels labels_;
  };

  // A counter or a gauge: its name, help and label names.
  template <typename... Names>
  Family(MetricRegistry* registry, std::string name, std::string help, Names... label_names)
      : MetricFamily(registry, std::move(name), kType, std::move(help),
                     {std::string(label_names)...}, {}) {
    static_assert(kType != MetricType::kHistogram, "a histogram needs its buckets");
    static_assert(sizeof...(Names) == kLabels, "one name per label");
  }
  // A histogram: its name, help, buckets and label names.
  template <typename... Names>
  Family(MetricRegistry* registry, std::string name, std::string help,
         const HistogramBuckets& buckets, Names... label_names)
      : MetricFamily(registry, std::move(name), kType, std::move(help),
                     {std::string(label_names)...}, buckets.upper_bounds) {
    static_assert(kType == MetricType::kHistogram, "only a histogram has buckets");
    static_assert(sizeof...(Names) == kLabels, "one name per label");
  }

  template <typename... Values>
  Series operator()(Values&&... label_values) {
    static_assert(sizeof...(Values) == kLabels, "one value per label");
    return Series(this, Labels{std::string(std::forward<Values>(label_values))...});
  }
};

template <size_t kLabels>
using CounterFamily = Family<MetricType::kCounter, kLabels>;
template <size_t kLabels>
using GaugeFamily = Family<MetricType::kGauge, kLabels>;
template <size_t kLabels>
using HistogramFamily = Family<MetricType::kHistogram, kLabels>;

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_PROMETHEUS_H_
