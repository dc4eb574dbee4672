#define BOOST_TEST_MODULE tm_e2e
#include <boost/test/unit_test.hpp>
