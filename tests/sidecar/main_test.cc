#define BOOST_TEST_MODULE tm_sidecar
#include <boost/test/unit_test.hpp>
