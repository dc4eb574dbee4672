#define BOOST_TEST_MODULE tm_common
#include <boost/test/unit_test.hpp>
