#define BOOST_TEST_MODULE tm_step
#include <boost/test/unit_test.hpp>
