#define BOOST_TEST_MODULE tm_chaos
#include <sys/prctl.h>

#include <boost/test/unit_test.hpp>

// Orphaned tasks of a killed run are reparented to the test process, which can
// then wait for every one of them (local/local_harness.h).
struct ChildSubreaper {
  ChildSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
};
BOOST_TEST_GLOBAL_FIXTURE(ChildSubreaper);
