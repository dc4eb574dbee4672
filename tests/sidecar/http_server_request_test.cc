// The HTTP server's pure parts, without sockets: the head scan refuses a
// broken limit as soon as the bytes seen break it (fed byte by byte as a slow
// client sends them), the chunked decoder bounds a body, and ApiAuth decides
// who may do what.
#include "http_server_request.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "api_auth.h"
#include "support/files.h"
#include "support/temp_dir.h"

namespace taskmaster::sidecar {
namespace {

using test_support::TempDir;

// The first scan of `bytes`' prefixes that ends the head or refuses it.
HeadScan ScanBytewise(const std::string& bytes, const HttpLimits& limits, size_t* fed) {
  for (*fed = 1; *fed <= bytes.size(); ++*fed) {
    HeadScan scan = ScanRequestHead(std::string_view(bytes).substr(0, *fed), limits);
    if (scan.refusal || scan.end != 0) return scan;
  }
  return HeadScan();
}

BOOST_AUTO_TEST_SUITE(http_server_request)

BOOST_AUTO_TEST_CASE(a_head_ends_at_its_blank_line) {
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\n";
  size_t fed = 0;
  HeadScan scan = ScanBytewise(head + "body", HttpLimits(), &fed);
  BOOST_CHECK(!scan.refusal);
  BOOST_CHECK_EQUAL(scan.end, head.size());
  Poco::Net::HTTPRequest request;
  BOOST_CHECK(!ParseRequestHead(std::string_view(head).substr(0, scan.end), &request));
  BOOST_CHECK_EQUAL(request.getURI(), "/healthz");
  BOOST_CHECK_EQUAL(request.get("X-A"), "b");
}

BOOST_AUTO_TEST_CASE(a_long_target_is_414_before_the_line_ends) {
  HttpLimits limits;
  limits.max_url_bytes = 100;
  size_t fed = 0;
  HeadScan scan =
      ScanBytewise("GET /" + std::string(1000, 'a') + " HTTP/1.1\r\n\r\n", limits, &fed);
  BOOST_REQUIRE(scan.refusal);
  BOOST_CHECK_EQUAL(scan.refusal->status, 414);
  BOOST_CHECK_LT(fed, 200u);
  // At the limit: accepted.
  scan = ScanBytewise("GET /" + std::string(99, 'a') + " HTTP/1.1\r\n\r\n", limits, &fed);
  BOOST_CHECK(!scan.refusal);
  BOOST_CHECK_GT(scan.end, 0u);
}

BOOST_AUTO_TEST_CASE(too_many_or_too_large_headers_are_431) {
  HttpLimits limits;
  limits.max_headers = 3;
  limits.max_header_bytes = 1024;
  size_t fed = 0;
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 4; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  HeadScan scan = ScanBytewise(many + "\r\n", limits, &fed);
  BOOST_REQUIRE(scan.refusal);
  BOOST_CHECK_EQUAL(scan.refusal->status, 431);
  BOOST_CHECK(scan.refusal->body.find("more than 3 lines") != std::string::npos);

  // One line that never ends: refused once past the byte limit.
  scan = ScanBytewise("GET / HTTP/1.1\r\nX-Big: " + std::string(5000, 'v'), limits, &fed);
  BOOST_REQUIRE(scan.refusal);
  BOOST_CHECK_EQUAL(scan.refusal->status, 431);
  BOOST_CHECK_LE(fed, 16u + 1025u);
}

BOOST_AUTO_TEST_CASE(more_header_lines_than_pocos_default_are_read_when_allowed) {
  HttpLimits limits;
  limits.max_headers = 150;
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 150; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  head += "\r\n";
  size_t fed = 0;
  HeadScan scan = ScanBytewise(head, limits, &fed);
  BOOST_REQUIRE(!scan.refusal);
  Poco::Net::HTTPRequest request;
  auto bad = ParseRequestHead(head, &request);
  BOOST_CHECK_MESSAGE(!bad, (bad ? bad->body : ""));
  BOOST_CHECK_EQUAL(request.get("X-149"), "v");
}

BOOST_AUTO_TEST_CASE(a_head_poco_cannot_read_is_400) {
  Poco::Net::HTTPRequest request;
  auto bad = ParseRequestHead("GET / SPDY/3\r\n\r\n", &request);
  BOOST_REQUIRE(bad);
  BOOST_CHECK_EQUAL(bad->status, 400);
}

BOOST_AUTO_TEST_CASE(chunks_decode_across_any_split) {
  const std::string wire = "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nafter";
  for (size_t split = 0; split <= wire.size(); ++split) {
    ChunkedBody body(100);
    const bool first = body.Feed(std::string_view(wire).substr(0, split));
    const bool done = body.Feed(std::string_view(wire).substr(split)) || first;
    BOOST_REQUIRE_MESSAGE(done && !body.refusal(), "split at " << split);
    BOOST_CHECK_EQUAL(body.body(), "abc0123456789");
  }
}

BOOST_AUTO_TEST_CASE(a_chunked_body_over_the_bound_is_413_from_its_size_line) {
  ChunkedBody body(10);
  BOOST_CHECK(!body.Feed("8\r\n12345678\r\n5\r\n"));
  BOOST_REQUIRE(body.refusal());
  BOOST_CHECK_EQUAL(body.refusal()->status, 413);
  BOOST_CHECK_EQUAL(body.body(), "12345678");
  ChunkedBody huge(10);
  huge.Feed("ffffffffffffffffffffffff\r\n");
  BOOST_REQUIRE(huge.refusal());
  BOOST_CHECK_EQUAL(huge.refusal()->status, 413);
  ChunkedBody bad(10);
  bad.Feed("zz\r\n");
  BOOST_REQUIRE(bad.refusal());
  BOOST_CHECK_EQUAL(bad.refusal()->status, 400);
}

BOOST_AUTO_TEST_CASE(the_token_decides_writes_and_optionally_reads) {
  TempDir tmp("http-auth");
  test_support::WriteFile(tmp / "token", "s3cret\n");
  ApiAuthOptions options;
  options.token_file = tmp / "token";
  options.loopback = false;
  auto auth = ApiAuth::Load(Env::Default(), options);
  BOOST_REQUIRE(auth.ok());
  const std::string right = "Bearer s3cret", wrong = "Bearer s3cres", basic = "Basic czNjcmV0";
  const std::string lower = "bearer s3cret";
  auto status = [&](const char* method, const char* path, const std::string* header) {
    auto r = auth->Check(method, path, header);
    return r ? r->status : 0;
  };
  BOOST_CHECK_EQUAL(status("POST", "/api/workflows/multi-task", nullptr), 401);
  BOOST_CHECK_EQUAL(status("POST", "/api/workflows/multi-task", &basic), 401);
  BOOST_CHECK_EQUAL(status("POST", "/api/workflows/multi-task", &wrong), 403);
  BOOST_CHECK_EQUAL(status("POST", "/api/workflows/multi-task", &right), 0);
  BOOST_CHECK_EQUAL(status("POST", "/api/workflows/multi-task", &lower), 0);
  BOOST_CHECK_EQUAL(status("GET", "/api/workflows/k", nullptr), 0);
  BOOST_CHECK_EQUAL(status("GET", "/metrics", nullptr), 0);
  BOOST_CHECK_EQUAL(status("GET", "/healthz", nullptr), 0);
  auto missing = auth->Check("DELETE", "/api/workflows/k", nullptr);
  BOOST_REQUIRE(missing);
  BOOST_CHECK_EQUAL(missing->headers.at(0).first, "WWW-Authenticate");
  BOOST_CHECK_EQUAL(missing->headers.at(0).second, "Bearer");

  options.auth_reads = options.auth_metrics = true;
  auth = ApiAuth::Load(Env::Default(), options);
  BOOST_REQUIRE(auth.ok());
  BOOST_CHECK_EQUAL(status("GET", "/api/workflows/k", nullptr), 401);
  BOOST_CHECK_EQUAL(status("GET", "/api/workflows/k", &right), 0);
  BOOST_CHECK_EQUAL(status("GET", "/metrics", &wrong), 403);
  BOOST_CHECK_EQUAL(status("GET", "/readyz", nullptr), 0);
}

BOOST_AUTO_TEST_CASE(without_a_token_only_loopback_takes_writes) {
  ApiAuthOptions options;
  auto local = ApiAuth::Load(Env::Default(), options);
  BOOST_REQUIRE(local.ok());
  BOOST_CHECK(!local->Check("POST", "/api/workflows/multi-task", nullptr));
  options.loopback = false;
  auto exposed = ApiAuth::Load(Env::Default(), options);
  BOOST_REQUIRE(exposed.ok());
  auto refused = exposed->Check("POST", "/api/workflows/multi-task", nullptr);
  BOOST_REQUIRE(refused);
  BOOST_CHECK_EQUAL(refused->status, 403);
  BOOST_CHECK(!exposed->Check("GET", "/api/workflows/k", nullptr));
}

BOOST_AUTO_TEST_CASE(a_bad_token_file_is_refused_naming_the_flag) {
  TempDir tmp("http-auth");
  test_support::WriteFile(tmp / "empty", "\n");
  test_support::WriteFile(tmp / "two-lines", "a\nb\n");
  for (const auto& [file, why] : {std::pair{tmp / "empty", "the file is empty"},
                                  {tmp / "two-lines", "the token holds a space"},
                                  {tmp / "missing", "cannot read it"}}) {
    ApiAuthOptions options;
    options.token_file = file;
    auto auth = ApiAuth::Load(Env::Default(), options);
    BOOST_REQUIRE(!auth.ok());
    BOOST_CHECK_MESSAGE(
        auth.status().message().find("--token-file " + file + ": " + why) != std::string::npos,
        auth.status().message());
  }
  ApiAuthOptions reads;
  reads.auth_reads = true;
  BOOST_CHECK(!ApiAuth::Load(Env::Default(), reads).ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
