#include "prometheus.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace taskmaster::sidecar {
namespace {

// A registry of one family of each kind.
struct Registry {
  MetricRegistry registry;
  CounterFamily<1> requests{&registry, "requests_total", "Requests, by path", "path"};
  GaugeFamily<0> up{&registry, "up", "1 when up"};
  HistogramFamily<1> latency{&registry, "latency_seconds", "Latency", HistogramBuckets{{0.5, 1, 2}},
                             "route"};
};

BOOST_AUTO_TEST_SUITE(prometheus)

BOOST_AUTO_TEST_CASE(families_render_sorted_and_unlabelled_ones_start_at_zero) {
  Registry r;
  BOOST_CHECK_EQUAL(r.registry.Render(),
                    "# HELP latency_seconds Latency\n"
                    "# TYPE latency_seconds histogram\n"
                    "# HELP requests_total Requests, by path\n"
                    "# TYPE requests_total counter\n"
                    "# HELP up 1 when up\n"
                    "# TYPE up gauge\n"
                    "up 0\n");
}

BOOST_AUTO_TEST_CASE(series_render_with_their_labels_escaped) {
  Registry r;
  r.requests("/a").Inc();
  r.requests("/a").Inc(2);
  r.requests("q\"b\\c\nd").Inc();
  r.up().Set(7);
  r.up().Set(1);
  for (double v : {0.25, 1.0, 5.0}) r.latency("x").Observe(v);
  BOOST_CHECK_EQUAL(r.registry.Render(),
                    "# HELP latency_seconds Latency\n"
                    "# TYPE latency_seconds histogram\n"
                    "latency_seconds_bucket{route=\"x\",le=\"0.5\"} 1\n"
                    "latency_seconds_bucket{route=\"x\",le=\"1\"} 2\n"
                    "latency_seconds_bucket{route=\"x\",le=\"2\"} 2\n"
                    "latency_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"
                    "latency_seconds_sum{route=\"x\"} 6.25\n"
                    "latency_seconds_count{route=\"x\"} 3\n"
                    "# HELP requests_total Requests, by path\n"
                    "# TYPE requests_total counter\n"
                    "requests_total{path=\"/a\"} 3\n"
                    "requests_total{path=\"q\\\"b\\\\c\\nd\"} 1\n"
                    "# HELP up 1 when up\n"
                    "# TYPE up gauge\n"
                    "up 1\n");
}

BOOST_AUTO_TEST_CASE(series_read_back) {
  Registry r;
  BOOST_CHECK_EQUAL(r.requests("/never").Value(), 0);
  BOOST_CHECK_EQUAL(r.latency("never").Count(), 0u);
  r.requests("/a").Inc(0.5);
  r.latency("x").Observe(3);
  r.latency("x").Observe(4);
  BOOST_CHECK_EQUAL(r.requests("/a").Value(), 0.5);
  BOOST_CHECK_EQUAL(r.latency("x").Count(), 2u);
  BOOST_CHECK_EQUAL(r.latency("y").Count(), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
