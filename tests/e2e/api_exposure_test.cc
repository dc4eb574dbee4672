// `tm-sidecar api` safe to expose (README.md "HTTP API", docs/argo.md): a
// bearer token for writes and, when asked, reads; bounds on the URL, headers,
// body and connections; and a client that sends a byte a second neither holds
// a worker past --request-timeout nor keeps others from their answers. Real
// sockets on loopback against a real server on the test services' stores.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "api_client.h"
#include "harness.h"

namespace taskmaster::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kToken = "tok-3f9a71c2d6e84b5f";

std::string SubmitBody(const std::string& key) {
  return R"({"task_list": ["a", "b"], "state_key": ")" + key + "\"}";
}

// A POST of SubmitBody(key) with `headers` (curl -H each); the status and body.
CurlResult Submit(const ApiServer& api, const std::string& key,
                  const std::vector<std::string>& headers = {}) {
  std::string args =
      "-X POST " + api.Url("/api/workflows/multi-task") + " -H 'Content-Type: application/json'";
  for (const std::string& h : headers) args += " -H " + ShellQuote(h);
  return Curl(args + " -d " + ShellQuote(SubmitBody(key)));
}

std::string Bearer(const std::string& token) {
  return "Authorization: Bearer " + token;
}

// Nothing of the workflow `key` in the store, nor in Redis when it is used.
void CheckNothingWritten(const StoreSpec& store, const std::string& key, bool redis) {
  BOOST_CHECK_EQUAL(StoredRows(store, key), StoredRows(store, UniqueKey("never-written")));
  if (redis) BOOST_CHECK_EQUAL(RedisCli("EXISTS " + ShellQuote("workflow:state:" + key)), "0\n");
}

// A client of one connection that sends a request a byte at a time.
class SlowClient {
 public:
  SlowClient(uint16_t port, std::string request) : request_(std::move(request)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    connected_ = Clock::now();
  }
  ~SlowClient() { ::close(fd_); }

  // Sends the next byte unless the server already answered or closed.
  void Drip() {
    if (!closed_ && sent_ < request_.size()) {
      if (::send(fd_, request_.data() + sent_, 1, MSG_NOSIGNAL) == 1) ++sent_;
    }
  }
  // Reads what the server sent, waiting up to `wait`; true once it closed.
  bool Closed(std::chrono::milliseconds wait) {
    if (closed_) return true;
    struct pollfd p = {fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      answer_.append(buf, static_cast<size_t>(n));
      return false;
    }
    closed_ = true;
    lasted_ = Clock::now() - connected_;
    return true;
  }
  const std::string& answer() const { return answer_; }
  size_t sent() const { return sent_; }
  Clock::duration lasted() const { return lasted_; }

 private:
  int fd_ = -1;
  std::string request_;
  size_t sent_ = 0;
  bool closed_ = false;
  std::string answer_;
  Clock::time_point connected_;
  Clock::duration lasted_{};
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

BOOST_AUTO_TEST_SUITE(api_exposure)

// Writes need the token; reads too with --auth-reads, /metrics with
// --auth-metrics; /healthz and /readyz never. On PostgreSQL + Redis.
BOOST_AUTO_TEST_CASE(the_token_guards_writes_and_asked_for_reads) {
  TempDir tmp;
  WriteFile(tmp / "token", std::string(kToken) + "\n");
  const StoreSpec store = PostgresStore(/*with_redis=*/true);
  {
    ApiServer api(tmp.path(), store, {"--token-file", tmp / "token"});
    const std::string key = UniqueKey("auth");
    CheckError(Submit(api, key), 401, "missing Authorization header");
    CheckError(Submit(api, key, {"Authorization: Basic dG9rZW4="}), 401,
               "malformed Authorization header");
    CheckError(Submit(api, key, {Bearer("tok-3f9a71c2d6e84b5e")}), 403, "wrong token");
    CheckError(Submit(api, key, {Bearer(std::string(kToken) + "x")}), 403, "wrong token");
    CheckNothingWritten(store, key, /*redis=*/true);
    // The challenge of RFC 6750 with the 401.
    ShellResult head =
        Shell("curl -s -o /dev/null -D - -X POST " + api.Url("/api/workflows/multi-task"));
    BOOST_CHECK_MESSAGE(head.out.find("WWW-Authenticate: Bearer\r\n") != std::string::npos,
                        head.out);

    const CurlResult created = Submit(api, key, {Bearer(kToken)});
    BOOST_REQUIRE_MESSAGE(created.status == 201, created.body << "\n" << api.Logs());
    BOOST_CHECK_EQUAL(Str(Parse(created.body), "workflow_id"), key);
    // Reads and the scrape stay open by default.
    BOOST_CHECK_EQUAL(Curl(api.Url("/api/workflows/" + key + "/progress")).status, 200);
    BOOST_CHECK_EQUAL(Curl(api.Url("/metrics")).status, 200);
    BOOST_CHECK_EQUAL(api.Stop(), 0);
  }
  {
    // The same through the environment, with reads and /metrics guarded too.
    std::filesystem::remove(tmp / "port");
    ApiServer api(tmp.path(), store, {"--auth-reads"},
                  {{"TM_API_TOKEN_FILE", tmp / "token"}, {"TM_API_AUTH_METRICS", "1"}});
    const std::string key = UniqueKey("auth-reads");
    CheckError(Submit(api, key), 401, "missing Authorization header");
    CheckNothingWritten(store, key, /*redis=*/true);
    BOOST_REQUIRE_EQUAL(Submit(api, key, {Bearer(kToken)}).status, 201);
    const std::string progress = api.Url("/api/workflows/" + key + "/progress");
    CheckError(Curl(progress), 401, "missing Authorization header");
    CheckError(Curl("-H " + ShellQuote(Bearer("nope")) + " " + progress), 403, "wrong token");
    BOOST_CHECK_EQUAL(Curl("-H " + ShellQuote(Bearer(kToken)) + " " + progress).status, 200);
    CheckError(Curl(api.Url("/metrics")), 401, "missing Authorization header");
    BOOST_CHECK_EQUAL(Curl("-H " + ShellQuote(Bearer(kToken)) + " " + api.Url("/metrics")).status,
                      200);
    BOOST_CHECK_EQUAL(Curl(api.Url("/healthz")).status, 200);
    BOOST_CHECK_EQUAL(Curl(api.Url("/readyz")).status, 200);
    BOOST_CHECK_EQUAL(api.Stop(), 0);
  }
}

// Without a token, a server bound beyond loopback refuses writes and still
// answers reads; a bad token file stops the start with exit 2, nothing written.
BOOST_AUTO_TEST_CASE(no_token_beyond_loopback_takes_no_writes_and_bad_token_files_exit_2) {
  TempDir tmp;
  const StoreSpec store = SqliteStore(tmp / "state.db");
  ApiServer api(tmp.path(), store, {"--listen", "0.0.0.0:0"});
  BOOST_CHECK_MESSAGE(api.Logs().find("writes are refused (403)") != std::string::npos, api.Logs());
  const std::string key = UniqueKey("open");
  CheckError(Submit(api, key), 403, "writes are disabled");
  CheckNothingWritten(store, key, /*redis=*/false);
  CheckError(Curl(api.Url("/api/workflows/" + key)), 404, "not found");
  BOOST_CHECK_EQUAL(api.Stop(), 0);

  WriteFile(tmp / "empty", "\n");
  WriteFile(tmp / "spaced", "two words\n");
  for (const auto& [args, message] :
       {std::pair{"--token-file " + tmp / "empty", "the file is empty"},
        {"--token-file " + tmp / "spaced", "holds a space"},
        {"--token-file " + tmp / "missing", "cannot read it"},
        {std::string("--auth-reads"), "--auth-reads needs a token"},
        {std::string("--max-body-bytes 0"),
         "--max-body-bytes: 0 is not a whole number between 1 and"},
        {std::string("--request-timeout 0s"),
         "--request-timeout: 0s is not a duration between 1 s and 1 hour"}}) {
    ShellResult r = Shell(std::string(kSidecarBinary) + " api --store sqlite:" + tmp / "new.db" +
                          " --listen 127.0.0.1:0 " + args + " 2>&1");
    BOOST_CHECK_MESSAGE(r.exit_code == 2, args << ": exit " << r.exit_code << ": " << r.out);
    BOOST_CHECK_MESSAGE(r.out.find(message) != std::string::npos, args << ": " << r.out);
    BOOST_CHECK(!FileExists(tmp / "new.db"));
  }
}

// 414, 431 and 413 (declared and chunked), each JSON and with nothing written;
// a chunked body and an Expect: 100-continue within the bounds are served.
BOOST_AUTO_TEST_CASE(oversized_urls_headers_and_bodies_are_refused) {
  TempDir tmp;
  const StoreSpec store = SqliteStore(tmp / "state.db");
  ApiServer api(tmp.path(), store,
                {"--max-url-bytes", "200", "--max-header-bytes", "1024", "--max-headers", "8",
                 "--max-body-bytes", "300"});
  auto exchange = [&](const std::string& request, int status, const std::string& part) {
    auto r = HttpExchange(api.port(), request);
    BOOST_REQUIRE_MESSAGE(r.has_value(), "no answer to " << request.substr(0, 80));
    CheckError(CurlResult{r->status, r->body}, status, part);
  };
  const std::string post = "POST /api/workflows/multi-task HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  exchange("GET /api/workflows/" + std::string(300, 'k') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414,
           "over the limit of 200 bytes");
  std::string many = post;
  for (int i = 0; i < 9; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  exchange(many + "\r\n", 431, "more than 8 lines");
  exchange(post + "X-Big: " + std::string(2000, 'v') + "\r\n\r\n", 431, "more than 1024 bytes");

  const std::string key = UniqueKey("limits");
  const std::string big =
      R"({"task_list": [")" + std::string(400, 'a') + R"("], "state_key": ")" + key + "\"}";
  exchange(post + "Content-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big, 413,
           "over the limit of 300 bytes");
  std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < big.size(); at += 100) {
    const std::string piece = big.substr(at, 100);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  exchange(chunked + "0\r\n\r\n", 413, "over the limit of 300 bytes");
  CheckNothingWritten(store, key, /*redis=*/false);

  // Within the bounds: chunked (curl sends a body from stdin so), then with
  // Expect: 100-continue.
  ShellResult sent = Shell("printf '%s' " + ShellQuote(SubmitBody(key)) +
                           " | curl -s -w '\\n%{http_code}' -X POST -H 'Transfer-Encoding: chunked'"
                           " -H 'Content-Type: application/json' --data-binary @- " +
                           api.Url("/api/workflows/multi-task"));
  BOOST_CHECK_MESSAGE(sent.out.size() > 3 && sent.out.substr(sent.out.size() - 3) == "201",
                      sent.out);
  const CurlResult again = Submit(api, key, {"Expect: 100-continue"});
  BOOST_CHECK_MESSAGE(again.status == 200, again.status << ": " << again.body);
  BOOST_CHECK_EQUAL(api.Stop(), 0);
}

// --max-connections 2: two slow clients hold both; a third is told 503 at
// once. A client that sends one byte a second is answered 408 and dropped at
// --request-timeout (3 s), and meanwhile others are answered.
BOOST_AUTO_TEST_CASE(slow_clients_are_dropped_and_others_answered_meanwhile) {
  TempDir tmp;
  ApiServer api(tmp.path(), SqliteStore(tmp / "state.db"),
                {"--max-connections", "2", "--request-timeout", "3s"});
  const std::string request =
      "GET /api/workflows/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(200, ' ') + "\r\n";
  SlowClient first(api.port(), request);
  first.Drip();
  // One slow client: the next is answered at once.
  const auto asked = Clock::now();
  auto health = HttpGet(api.port(), "/healthz");
  BOOST_REQUIRE(health.has_value());
  BOOST_CHECK_EQUAL(health->status, 200);
  BOOST_CHECK_LT(Seconds(Clock::now() - asked), 1.0);

  // Answered to its end, that client no longer counts: the second slow one
  // takes the other slot, and the next is refused at once.
  SlowClient second(api.port(), request);
  second.Drip();
  const auto refused = Clock::now();
  auto busy = HttpGet(api.port(), "/healthz");
  BOOST_REQUIRE(busy.has_value());
  BOOST_CHECK_EQUAL(busy->status, 503);
  BOOST_CHECK_MESSAGE(busy->body.find("too many connections: 2") != std::string::npos, busy->body);
  BOOST_CHECK_MESSAGE((busy->head + "\r\n").find("\r\nRetry-After: 1\r\n") != std::string::npos,
                      busy->head);
  BOOST_CHECK_LT(Seconds(Clock::now() - refused), 1.0);

  // A byte a second from each until the server drops them (bounded: 10 s).
  for (int tick = 0; tick < 10; ++tick) {
    SlowClient* open = !first.Closed(milliseconds(0))    ? &first
                       : !second.Closed(milliseconds(0)) ? &second
                                                         : nullptr;
    if (open == nullptr) break;
    first.Drip();
    second.Drip();
    open->Closed(milliseconds(1000));  // the pace: a second, or until it hears back
  }
  for (SlowClient* slow : {&first, &second}) {
    BOOST_REQUIRE_MESSAGE(slow->Closed(milliseconds(2000)), "a slow client was never dropped");
    BOOST_CHECK_MESSAGE(slow->answer().find(" 408 ") != std::string::npos &&
                            slow->answer().find("not received within 3 s") != std::string::npos,
                        slow->answer());
    BOOST_CHECK_LT(slow->sent(), request.size());
    BOOST_CHECK_GE(Seconds(slow->lasted()), 2.9);
    BOOST_CHECK_LE(Seconds(slow->lasted()), 5.5);
  }
  // Both were answered to their end: the slots are free again.
  auto again = HttpGet(api.port(), "/healthz");
  BOOST_REQUIRE(again.has_value());
  BOOST_CHECK_EQUAL(again->status, 200);
  BOOST_CHECK_EQUAL(api.Stop(), 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
