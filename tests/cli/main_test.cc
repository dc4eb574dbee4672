#define BOOST_TEST_MODULE tm_cli
#include <boost/test/unit_test.hpp>
