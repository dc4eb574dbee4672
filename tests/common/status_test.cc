#include "taskmaster/status.h"

#include <boost/test/unit_test.hpp>
#include <cerrno>

using taskmaster::Result;
using taskmaster::Status;

BOOST_AUTO_TEST_SUITE(status)

BOOST_AUTO_TEST_CASE(ok_and_errors_render) {
  BOOST_TEST(Status::OK().ok());
  BOOST_TEST(Status::OK().ToString() == "OK");
  Status s = Status::Corruption("checksum mismatch");
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.ToString() == "corruption: checksum mismatch");
  BOOST_TEST(s.WithContext("journal").message() == "journal: checksum mismatch");
}

BOOST_AUTO_TEST_CASE(errno_maps_not_found) {
  BOOST_TEST(Status::FromErrno("open x", ENOENT).IsNotFound());
  BOOST_TEST(Status::FromErrno("open x", EACCES).IsIOError());
  BOOST_TEST(Status::FromErrno("open x", EACCES).message() == "open x: Permission denied");
}

BOOST_AUTO_TEST_CASE(result_holds_value_or_status) {
  Result<int> good(7);
  BOOST_TEST(good.ok());
  BOOST_TEST(*good == 7);
  Result<int> bad(Status::NotFound("no such task"));
  BOOST_TEST(!bad.ok());
  BOOST_TEST(bad.status().IsNotFound());
}

BOOST_AUTO_TEST_SUITE_END()
