#include "cache/backoff.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>
#include <vector>

namespace taskmaster::sidecar {
namespace {

using std::chrono::milliseconds;

// Returns the values in turn; a draw past the end fails the test.
Backoff::RandomSource Sequence(std::vector<double> values) {
  auto next = std::make_shared<size_t>(0);
  return [values = std::move(values), next] {
    BOOST_REQUIRE_MESSAGE(*next < values.size(), "the backoff drew more numbers than expected");
    return values[(*next)++];
  };
}

std::vector<int64_t> Delays(Backoff* backoff, int n) {
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(backoff->NextDelay().count());
  return out;
}

// Just below 1: the largest draw a [0, 1) source can give.
const double kAlmostOne = std::nextafter(1.0, 0.0);

}  // namespace

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(pinned_draw_gives_exact_doubling_delays_up_to_the_cap) {
  Backoff backoff(milliseconds(100), milliseconds(1000), [] { return 0.5; });
  const std::vector<int64_t> expected = {50, 100, 200, 400, 500, 500, 500};
  const std::vector<int64_t> got = Delays(&backoff, 7);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_cap_applies_when_doubling_overshoots_it) {
  Backoff backoff(milliseconds(300), milliseconds(1000), [] { return 0.5; });
  const std::vector<int64_t> expected = {150, 300, 500, 500};  // ceilings 300, 600, 1000, 1000
  const std::vector<int64_t> got = Delays(&backoff, 4);
  BOOST_TEST(got == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(full_jitter_spans_zero_to_just_below_the_ceiling) {
  Backoff low(milliseconds(100), milliseconds(1000), [] { return 0.0; });
  const std::vector<int64_t> zeros = {0, 0, 0, 0, 0};
  BOOST_TEST(Delays(&low, 5) == zeros, boost::test_tools::per_element());

  Backoff high(milliseconds(100), milliseconds(1000), [] { return kAlmostOne; });
  const std::vector<int64_t> highest = {99, 199, 399, 799, 999, 999};
  BOOST_TEST(Delays(&high, 6) == highest, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_draw_scales_its_own_ceiling) {
  Backoff backoff(milliseconds(100), milliseconds(10000), Sequence({0.25, 0.9, 0.1, 0.75}));
  const std::vector<int64_t> expected = {25, 180, 40, 600};
  BOOST_TEST(Delays(&backoff, 4) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reset_starts_again_from_the_initial_delay) {
  Backoff backoff(milliseconds(100), milliseconds(1000), [] { return 0.5; });
  Delays(&backoff, 5);
  backoff.Reset();
  const std::vector<int64_t> expected = {50, 100, 200};
  BOOST_TEST(Delays(&backoff, 3) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(initial_equal_to_max_stays_there) {
  Backoff backoff(milliseconds(200), milliseconds(200), [] { return 0.5; });
  const std::vector<int64_t> expected = {100, 100, 100};
  BOOST_TEST(Delays(&backoff, 3) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_huge_cap_never_overflows) {
  const milliseconds max(std::numeric_limits<int64_t>::max());
  Backoff backoff(milliseconds(1), max, [] { return kAlmostOne; });
  milliseconds last{0};
  for (int i = 0; i < 200; ++i) {
    last = backoff.NextDelay();
    BOOST_REQUIRE_GE(last.count(), 0);
    BOOST_REQUIRE_LE(last.count(), max.count());
  }
  BOOST_TEST(last.count() > max.count() / 2, "the ceiling reached the cap: " << last.count());
}

BOOST_AUTO_TEST_CASE(default_source_draws_from_zero_to_one) {
  Backoff::RandomSource random = DefaultRandomSource();
  std::set<double> seen;
  for (int i = 0; i < 1000; ++i) {
    const double r = random();
    BOOST_REQUIRE_GE(r, 0.0);
    BOOST_REQUIRE_LT(r, 1.0);
    seen.insert(r);
  }
  BOOST_TEST(seen.size() > 990u, "draws repeat: " << seen.size() << " distinct of 1000");
}

BOOST_AUTO_TEST_CASE(transient_statuses) {
  struct Case {
    Status status;
    bool transient;
  };
  const Case cases[] = {
      {Status::Unavailable("redis down"), true},
      {Status::Timeout("no reply"), true},
      {Status::IOError("disk"), true},
      {Status::Busy("locked"), true},
      {Status::OK(), false},
      {Status::InvalidArgument("bad"), false},
      {Status::Corruption("checksum"), false},
      {Status::Fenced("newer attempt"), false},
      {Status::NotFound("gone"), false},
      {Status::TooLarge("big"), false},
  };
  for (const Case& c : cases) {
    BOOST_TEST(IsTransient(c.status) == c.transient, c.status.ToString());
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster::sidecar
