// The sidecar's Prometheus metrics (DESIGN.md §7, §9), declared once here and
// rendered in the text exposition format (checked with `promtool check metrics`).
// Thread-safe: the flush loop updates them while the HTTP server renders them.
#ifndef TASKMASTER_SIDECAR_METRICS_H_
#define TASKMASTER_SIDECAR_METRICS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace taskmaster::sidecar {

// Label values in declaration order of the metric's label names.
using Labels = std::vector<std::string>;

class Metrics {
 public:
  Metrics();

  void Inc(const std::string& counter, const Labels& labels = {}, double by = 1);
  void Set(const std::string& gauge, const Labels& labels, double value);
  void Observe(const std::string& histogram, const Labels& labels, double value);
  // Current value of a counter or gauge (0 when never touched), for tests.
  double Value(const std::string& name, const Labels& labels = {}) const;

  // The whole registry in Prometheus text format 0.0.4.
  std::string Render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> buckets;  // histograms: upper bounds, ascending
    std::map<Labels, double> values;
    std::map<Labels, std::vector<uint64_t>> bucket_counts;  // cumulative per bound
    std::map<Labels, double> sums;
    std::map<Labels, uint64_t> counts;
  };
  void Declare(const std::string& name, Kind kind, std::string help,
               std::vector<std::string> label_names, std::vector<double> buckets = {});
  Family& Get(const std::string& name, Kind kind);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_METRICS_H_
