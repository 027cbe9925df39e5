// The bad input catalogue: malformed requests, most of them written raw to a
// TCP socket, against a real master and storage node. Each case names the
// status it must get and gets a JSON error {"error", "message"}; after each
// one nothing new is stored or listed (master listing, namespace, nodes,
// blob folders, no leftover temp or spool file) and the processes live. At
// the end a normal PUT/GET still works. Slow clients are cut off by the read
// timeout and do not keep others from being served.
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "common/path.h"
#include "tests/hardening/raw_http.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMaxFile = 65536;  // --max-file-size / --max-blob-size of the test cluster
constexpr const char* kReadTimeoutMs = "1000";
const std::string kFixture = "0123456789";
const std::string kBlobId = "0123456789abcdef0123456789abcdef";  // the node fixture blob

enum class Target { kMaster, kNode };

struct Case {
  std::string name;
  Target target;
  std::string request;    // the exact bytes sent
  int status;             // expected; 0: the server closes without an answer
  std::string error;      // expected "error" code; "" = any
  bool half_close = false;  // shut our write side after sending
};

// A request with Host and Connection: close; Content-Length added for bodies
// (and for POST/PUT/PATCH) unless `length` is false.
std::string Req(const std::string& method, const std::string& target, const std::vector<std::string>& headers = {},
                const std::string& body = "", bool length = true) {
  std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) r += h + "\r\n";
  bool has_body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if (length && (has_body_method || !body.empty())) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

std::string Json(const std::string& method, const std::string& target, const std::string& body) {
  return Req(method, target, {"Content-Type: application/json"}, body);
}

std::string Md5Header(const std::string& data) { return std::string(kMd5Header) + ": " + Md5::Of(data); }

// 8000 short header lines (about 100 KB), without the last CRLF.
std::string HugeHead() {
  std::string head;
  for (int i = 0; i < 8000; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  return head.substr(0, head.size() - 2);
}

// A chunked body of `size` bytes in one chunk, then the last chunk.
std::string Chunked(size_t size) {
  char hex[32];
  std::snprintf(hex, sizeof(hex), "%zx", size);
  return std::string(hex) + "\r\n" + std::string(size, 'c') + "\r\n0\r\n\r\n";
}

std::string Part(const std::string& boundary, const std::string& name, const std::string& content,
                 const std::string& filename = "") {
  std::string s = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty()) s += "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream";
  return s + "\r\n\r\n" + content + "\r\n";
}

std::string Upload(const std::string& content_type, const std::string& body) {
  return Req("POST", "/upload", {"Content-Type: " + content_type}, body);
}

std::string UploadOf(const std::string& filename, const std::string& data, const std::string& hash) {
  const std::string b = "dfsboundary";
  return Upload("multipart/form-data; boundary=" + b,
                Part(b, "input_file", data, filename) + Part(b, "file_hash", hash) + "--" + b + "--\r\n");
}

int PortOf(const std::string& url) { return std::stoi(url.substr(url.rfind(':') + 1)); }

// Regular files under dir (recursively), or 0 when it does not exist.
size_t FilesUnder(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) ++n;
  }
  return n;
}

// What the cluster holds; compared before and after every case.
struct Snapshot {
  nlohmann::json files, root, nodes;
  std::vector<nlohmann::json> node_blobs;
  std::vector<size_t> blob_files;
  bool operator==(const Snapshot&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Snapshot& s) {
  out << "files=" << s.files << " root=" << s.root << " nodes=" << s.nodes << " blob files:";
  for (size_t n : s.blob_files) out << " " << n;
  return out;
}

Snapshot Take(TestCluster& c) {
  Snapshot s;
  s.files = Get(c.master_url(), "/api/v1/files?prefix=").json()["files"];
  s.root = Get(c.master_url(), "/api/v1/list").json()["entries"];
  nlohmann::json nodes = nlohmann::json::array();
  const nlohmann::json listed = Get(c.master_url(), "/api/v1/nodes").json();  // outlives the loop
  for (const auto& n : listed["nodes"]) {
    nodes.push_back({{"node_id", n["node_id"]}, {"state", n["state"]}, {"url", n["url"]}});
  }
  s.nodes = nodes;
  for (int i = 0; i < c.node_count(); ++i) {
    s.node_blobs.push_back(Get(c.node_url(i), "/blobs").json()["blobs"]);
    s.blob_files.push_back(FilesUnder(c.node_dir(i) + "/blobs"));
  }
  return s;
}

void ExpectJsonError(const RawAnswer& a, const std::string& code) {
  auto it = a.headers.find("content-type");
  EXPECT_TRUE(it != a.headers.end() && it->second.rfind("application/json", 0) == 0) << a.raw;
  auto json = nlohmann::json::parse(a.body, nullptr, false);
  ASSERT_TRUE(json.is_object()) << "not a JSON object: " << a.raw;
  ASSERT_TRUE(json.contains("error") && json["error"].is_string()) << a.body;
  ASSERT_TRUE(json.contains("message") && json["message"].is_string()) << a.body;
  EXPECT_FALSE(json["message"].get<std::string>().empty()) << a.body;
  if (!code.empty()) {
    EXPECT_EQ(json["error"], code) << a.body;
  }
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.nodes = 2;
    o.node_timeout_ms = 10000;
    o.master_args = {"--max-file-size", std::to_string(kMaxFile), "--read-timeout-ms", kReadTimeoutMs};
    o.storage_args = {"--max-blob-size", std::to_string(kMaxFile), "--read-timeout-ms", kReadTimeoutMs};
    cluster_ = std::make_unique<TestCluster>(o);
    ASSERT_TRUE(cluster_->WaitNodesUp(2));
    spool_ = cluster_->dir() + "/spool";
    ASSERT_TRUE(std::filesystem::is_directory(spool_)) << spool_;
    // One file and one blob to aim Range and rename/PATCH requests at.
    auto put = PutString(Url(), "/api/v1/files/fixture.txt", kFixture, {{kMd5Header, Md5::Of(kFixture)}});
    ASSERT_EQ(put.status, 201) << put.body;
    file_blob_ = Get(Url(), "/api/v1/meta/fixture.txt").json()["blob_id"];
    auto blob = PutString(cluster_->node_url(0), "/blobs/" + kBlobId, kFixture, {{kMd5Header, Md5::Of(kFixture)}});
    ASSERT_EQ(blob.status, 201) << blob.body;
    before_ = Take(*cluster_);
  }

  std::string Url() const { return cluster_->master_url(); }

  void Run(const std::vector<Case>& cases) {
    for (const auto& c : cases) {
      SCOPED_TRACE("case: " + c.name);
      int port = c.target == Target::kMaster ? cluster_->master_port() : PortOf(cluster_->node_url(0));
      RawConnection conn(port);
      ASSERT_TRUE(conn.ok());
      conn.Send(c.request);  // the server may answer and close before taking it all
      if (c.half_close) conn.ShutdownWrite();
      RawAnswer a = conn.ReadAnswer(std::chrono::seconds(15));
      if (c.status == 0) {
        EXPECT_FALSE(a.answered) << a.raw;
        EXPECT_TRUE(a.closed) << "the server neither answered nor closed";
      } else {
        ASSERT_TRUE(a.answered) << (a.timed_out ? "no answer in 15 s" : "closed without an answer") << " " << a.raw;
        EXPECT_EQ(a.status, c.status) << a.raw;
        ExpectJsonError(a, c.error);
      }
      ExpectNothingStored();
      ++ran_;
    }
  }

  void ExpectNothingStored() {
    EXPECT_TRUE(cluster_->master().running()) << "master died";
    for (int i = 0; i < cluster_->node_count(); ++i) EXPECT_TRUE(cluster_->node(i).running()) << "node " << i;
    // The handler of a request cut short may still be finishing: wait for
    // its temp files to go, then compare.
    EXPECT_TRUE(WaitUntil([&] { return FilesUnder(spool_) == 0; }, milliseconds(5000)))
        << FilesUnder(spool_) << " spool files left";
    for (int i = 0; i < cluster_->node_count(); ++i) {
      const std::string tmp = cluster_->node_dir(i) + "/tmp";
      EXPECT_TRUE(WaitUntil([&] { return FilesUnder(tmp) == 0; }, milliseconds(5000))) << "temp files on node " << i;
    }
    Snapshot now = Take(*cluster_);
    EXPECT_EQ(now, before_);
    before_ = now;  // one failure, not a cascade
  }

  void ExpectStillServing() {
    const std::string data = "still serving";
    auto put = PutString(Url(), "/api/v1/files/after/ok.txt", data, {{kMd5Header, Md5::Of(data)}});
    ASSERT_EQ(put.status, 201) << put.body;
    auto get = Get(Url(), "/api/v1/files/after/ok.txt");
    EXPECT_EQ(get.status, 200);
    EXPECT_EQ(get.body, data);
    EXPECT_EQ(Get(Url(), "/api/v1/files/fixture.txt").body, kFixture);
    EXPECT_EQ(Get(cluster_->node_url(0), "/blobs/" + kBlobId).body, kFixture);
    EXPECT_TRUE(cluster_->master().running());
    for (int i = 0; i < cluster_->node_count(); ++i) EXPECT_TRUE(cluster_->node(i).running());
  }

  std::unique_ptr<TestCluster> cluster_;
  std::string spool_;
  std::string file_blob_;
  Snapshot before_;
  size_t ran_ = 0;
};

std::vector<Case> MasterCases(const std::string& file_blob) {
  const auto M = Target::kMaster;
  const std::string body = "hello";
  const std::string put_md5 = Md5Header(body);
  auto Put = [&](const std::string& target, std::vector<std::string> headers = {}) {
    headers.push_back(put_md5);
    return Req("PUT", target, headers, body);
  };
  const std::string long_path = "/api/v1/files/" + [] {
    std::string p;
    while (p.size() <= dfs::kMaxPathBytes + 100) p += std::string(200, 'd') + "/";
    return p + "f";
  }();
  const std::string too_long_uri = "/api/v1/files/" + std::string(9000, 'u');
  std::string many_headers;
  for (int i = 0; i < 500; ++i) many_headers += "X-Many-" + std::to_string(i) + ": v\r\n";
  const std::string b = "dfsboundary";
  const std::string whole = "hello, and more than promised";

  return {
      // Names: traversal, empty/absolute, NUL and control characters, invalid UTF-8, lengths.
      {"PUT a/../b", M, Put("/api/v1/files/a/../b"), 400, "bad_request"},
      {"PUT encoded ../escape", M, Put("/api/v1/files/..%2Fescape"), 400, "bad_request"},
      {"PUT a/%2E%2E/b", M, Put("/api/v1/files/a/%2E%2E/b"), 400, "bad_request"},
      {"PUT empty name", M, Put("/api/v1/files/"), 400, "bad_request"},
      {"PUT a//b", M, Put("/api/v1/files/a//b"), 400, "bad_request"},
      {"PUT //abs (leading slash)", M, Put("/api/v1/files//abs"), 400, "bad_request"},
      {"PUT trailing slash", M, Put("/api/v1/files/dir/"), 400, "bad_request"},
      {"PUT single dot", M, Put("/api/v1/files/a/./b"), 400, "bad_request"},
      {"PUT NUL %00", M, Put("/api/v1/files/a%00b"), 400, "bad_request"},
      {"PUT newline %0A", M, Put("/api/v1/files/a%0Ab"), 400, "bad_request"},
      {"PUT escape %1B", M, Put("/api/v1/files/a%1Bb"), 400, "bad_request"},
      {"PUT DEL %7F", M, Put("/api/v1/files/a%7Fb"), 400, "bad_request"},
      {"PUT invalid UTF-8 %C3%28", M, Put("/api/v1/files/a%C3%28"), 400, "bad_request"},
      {"PUT UTF-8 surrogate %ED%A0%80", M, Put("/api/v1/files/%ED%A0%80"), 400, "bad_request"},
      {"PUT overlong UTF-8 %C0%AF", M, Put("/api/v1/files/%C0%AF"), 400, "bad_request"},
      {"PUT lone continuation byte %80", M, Put("/api/v1/files/x%80"), 400, "bad_request"},
      {"PUT component of 256 bytes", M, Put("/api/v1/files/" + std::string(256, 'c')), 400, "bad_request"},
      {"PUT path over kMaxPathBytes", M, Put(long_path), 400, "bad_request"},
      {"PUT request line over 8 KiB", M, Put(too_long_uri), 414, "uri_too_long"},
      {"GET traversal", M, Req("GET", "/api/v1/files/a/../../etc/passwd"), 400, "bad_request"},
      {"GET /download traversal", M, Req("GET", "/download?filename=../../etc/passwd"), 400, "bad_request"},
      {"DELETE NUL", M, Req("DELETE", "/api/v1/files/fixture.txt%00"), 400, "bad_request"},
      {"GET list traversal", M, Req("GET", "/api/v1/list/..%2F.."), 400, "bad_request"},
      {"GET meta control char", M, Req("GET", "/api/v1/meta/a%01"), 400, "bad_request"},
      {"mkdir traversal", M, Json("POST", "/api/v1/dirs/a/../b", "{}"), 400, "bad_request"},

      // Headers and parameters.
      {"PUT md5 not hex", M, Req("PUT", "/api/v1/files/m1", {"X-Dfs-Md5: zz"}, body), 400, "bad_request"},
      {"PUT md5 of 33 digits", M, Req("PUT", "/api/v1/files/m2", {"X-Dfs-Md5: " + std::string(33, 'a')}, body), 400,
       "bad_request"},
      {"PUT wrong md5", M, Req("PUT", "/api/v1/files/m3", {Md5Header("other")}, body), 422, "checksum_mismatch"},
      {"PUT conflict=bogus", M, Put("/api/v1/files/m4?conflict=bogus"), 400, "bad_request"},
      {"PUT replicas=abc", M, Put("/api/v1/files/m5?replicas=abc"), 400, "bad_request"},
      {"PUT replicas=99", M, Put("/api/v1/files/m6?replicas=99"), 400, "bad_request"},
      {"PUT conflict=fail on existing", M, Req("PUT", "/api/v1/files/fixture.txt?conflict=fail", {}, body), 409,
       "already_exists"},

      // Body framing.
      {"PUT body shorter than Content-Length, client stalls", M,
       Req("PUT", "/api/v1/files/short1", {"Content-Length: 1000"}, "0123456789", false), 408, "timeout"},
      {"PUT body shorter than Content-Length, write side closed", M,
       Req("PUT", "/api/v1/files/short2", {"Content-Length: 1000"}, "0123456789", false), 400, "bad_request", true},
      {"PUT body longer than Content-Length", M,
       Req("PUT", "/api/v1/files/longer", {"Content-Length: 5", Md5Header(whole)}, whole, false), 422,
       "checksum_mismatch"},
      {"PUT chunked body cut off, client stalls", M,
       Req("PUT", "/api/v1/files/chunk1", {"Transfer-Encoding: chunked", put_md5}, "a\r\n0123456789\r\n", false), 408,
       "timeout"},
      {"PUT chunk size not hex", M,
       Req("PUT", "/api/v1/files/chunk2", {"Transfer-Encoding: chunked", put_md5}, "zz\r\nhello\r\n0\r\n\r\n", false), 400,
       "bad_request"},
      // cpp-httplib 0.11 takes "2\r\nhello..." as a complete body "he": only the md5 catches it.
      {"PUT chunk longer than its size", M,
       Req("PUT", "/api/v1/files/chunk3", {"Transfer-Encoding: chunked", put_md5}, "2\r\nhello\r\n0\r\n\r\n", false),
       422, "checksum_mismatch"},
      {"PUT chunked without X-Dfs-Md5", M,
       Req("PUT", "/api/v1/files/chunk4", {"Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\n\r\n", false), 411,
       "length_required"},
      // X-Dfs-Md5: trailing (the body ends with its md5 in hex).
      {"PUT md5 trailing, body shorter than an md5", M,
       Req("PUT", "/api/v1/files/tr1", {"X-Dfs-Md5: trailing"}, "hello"), 400, "bad_request"},
      {"PUT md5 trailing, the last 32 bytes not hex", M,
       Req("PUT", "/api/v1/files/tr2", {"X-Dfs-Md5: trailing"}, "hello" + std::string(32, 'z')), 400, "bad_request"},
      {"PUT md5 trailing, the wrong md5", M,
       Req("PUT", "/api/v1/files/tr3", {"X-Dfs-Md5: trailing"}, "hello" + Md5::Of("other")), 422,
       "checksum_mismatch"},
      {"PUT md5 trailing, chunked, cut short by a garbled chunk", M,
       Req("PUT", "/api/v1/files/tr4", {"X-Dfs-Md5: trailing", "Transfer-Encoding: chunked"},
           "2\r\nhello" + Md5::Of("hello") + "\r\n0\r\n\r\n", false),
       400, "bad_request"},
      {"PUT md5 trailing on a range write", M,
       Req("PUT", "/api/v1/files/fixture.txt?offset=0", {"X-Dfs-Md5: trailing"}, "x" + Md5::Of("x")), 400,
       "bad_request"},
      {"PUT md5 trailing with a Content-MD5", M,
       Req("PUT", "/api/v1/files/tr5", {"X-Dfs-Md5: trailing", "Content-MD5: XUFAKrxLKna5cZ2REBfFkg=="},
           "hello" + Md5::Of("hello")),
       400, "bad_request"},
      {"PUT Content-Length not a number", M, Req("PUT", "/api/v1/files/cl1", {"Content-Length: abc"}, body, false),
       400, "bad_request"},
      {"PUT negative Content-Length", M, Req("PUT", "/api/v1/files/cl2", {"Content-Length: -5"}, body, false), 400,
       "bad_request"},
      {"PUT two different Content-Lengths", M,
       Req("PUT", "/api/v1/files/cl3", {"Content-Length: 5", "Content-Length: 6"}, body, false), 400, "bad_request"},
      {"PUT Content-Length and chunked", M,
       Req("PUT", "/api/v1/files/cl4", {"Content-Length: 5", "Transfer-Encoding: chunked"}, "5\r\nhello\r\n0\r\n\r\n",
           false),
       400, "bad_request"},
      {"PUT Transfer-Encoding gzip", M,
       Req("PUT", "/api/v1/files/te1", {"Transfer-Encoding: gzip"}, body, false), 400, "bad_request"},
      {"PUT without any length", M, Req("PUT", "/api/v1/files/nolen", {}, body, false), 411, "length_required"},
      {"POST without any length", M, Req("POST", "/api/v1/nodes/x/drain", {}, "", false), 411, "length_required"},

      // Header sizes, request line.
      {"header line of 100 KB", M, Req("GET", "/healthz", {"X-Big: " + std::string(100000, 'h')}), 431,
       "headers_too_large"},
      {"500 headers", M, Req("GET", "/healthz", {many_headers.substr(0, many_headers.size() - 2)}), 431,
       "headers_too_large"},
      {"request head over 64 KiB in short lines", M, Req("GET", "/healthz", {HugeHead()}), 431, "headers_too_large"},
      {"garbage request line", M, std::string("\x01\x02 garbage\r\n\r\n"), 400, "bad_request"},
      {"HTTP/2.0 in the request line", M, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 400, "bad_request"},

      // Multipart /upload (the seed system's endpoint).
      {"upload without the file part", M,
       Upload("multipart/form-data; boundary=" + b, Part(b, "file_hash", Md5::Of(body)) + "--" + b + "--\r\n"), 400,
       "bad_request"},
      {"upload without file_hash", M,
       Upload("multipart/form-data; boundary=" + b, Part(b, "input_file", body, "nohash.txt") + "--" + b + "--\r\n"),
       400, "bad_request"},
      {"upload filename ../../etc/passwd", M, UploadOf("../../etc/passwd", body, Md5::Of(body)), 400, "bad_request"},
      {"upload filename /abs", M, UploadOf("/abs", body, Md5::Of(body)), 400, "bad_request"},
      {"upload filename a/../../b", M, UploadOf("a/../../b", body, Md5::Of(body)), 400, "bad_request"},
      {"upload without a filename", M,
       Upload("multipart/form-data; boundary=" + b,
              Part(b, "input_file", body) + Part(b, "file_hash", Md5::Of(body)) + "--" + b + "--\r\n"),
       400, "bad_request"},
      {"upload file_hash not hex", M, UploadOf("h1.txt", body, "not-an-md5"), 400, "bad_request"},
      {"upload wrong file_hash", M, UploadOf("h2.txt", body, Md5::Of("other")), 422, "checksum_mismatch"},
      {"upload without a boundary", M,
       Upload("multipart/form-data", Part(b, "input_file", body, "nb.txt") + "--" + b + "--\r\n"), 400,
       "bad_request"},
      {"upload with another boundary in the body", M,
       Upload("multipart/form-data; boundary=other",
              Part(b, "input_file", body, "ob.txt") + Part(b, "file_hash", Md5::Of(body)) + "--" + b + "--\r\n"),
       400, "bad_request"},
      {"upload part cut off", M,
       Upload("multipart/form-data; boundary=" + b, "--" + b + "\r\nContent-Disposition: form-data; name=\"inp"),
       400, "bad_request"},
      {"upload not multipart", M, Upload("text/plain", body), 400, "bad_request"},

      // JSON of the wrong shape on every JSON route.
      {"rename: not JSON", M, Json("POST", "/api/v1/rename", "nope"), 400, "bad_request"},
      {"rename: array", M, Json("POST", "/api/v1/rename", "[\"a\",\"b\"]"), 400, "bad_request"},
      {"rename: from is a number", M, Json("POST", "/api/v1/rename", R"({"from":1,"to":"b"})"), 400, "bad_request"},
      {"rename: no to", M, Json("POST", "/api/v1/rename", R"({"from":"fixture.txt"})"), 400, "bad_request"},
      {"rename: to ../etc/x", M, Json("POST", "/api/v1/rename", R"({"from":"fixture.txt","to":"../etc/x"})"), 400,
       "bad_request"},
      {"rename: from NUL", M, Json("POST", "/api/v1/rename", R"({"from":"fixture.txt\u0000","to":"x"})"), 400,
       "bad_request"},
      {"rename: chunked body", M,
       Req("POST", "/api/v1/rename", {"Transfer-Encoding: chunked"}, "2\r\n{}\r\n0\r\n\r\n", false), 411,
       "length_required"},
      {"rename: body of 2 MB declared", M,
       Req("POST", "/api/v1/rename", {"Content-Length: 2000000"}, "", false), 413, "too_large"},
      {"setattr: mode is a string", M, Json("PATCH", "/api/v1/files/fixture.txt", R"({"mode":"rwx"})"), 400,
       "bad_request"},
      {"setattr: mode out of range", M, Json("PATCH", "/api/v1/files/fixture.txt", R"({"mode":99999})"), 400,
       "bad_request"},
      {"setattr: negative size", M, Json("PATCH", "/api/v1/files/fixture.txt", R"({"size":-1})"), 400,
       "bad_request"},
      {"setattr: mtime is a string", M, Json("PATCH", "/api/v1/files/fixture.txt", R"({"mtime":"yesterday"})"), 400,
       "bad_request"},
      {"setattr: array", M, Json("PATCH", "/api/v1/files/fixture.txt", "[1]"), 400, "bad_request"},
      {"mkdir: mode is a string", M, Json("POST", "/api/v1/dirs/newdir", R"({"mode":"x"})"), 400, "bad_request"},
      {"mkdir: not JSON", M, Json("POST", "/api/v1/dirs/newdir", "{"), 400, "bad_request"},
      {"node register: url is a number", M, Json("PUT", "/api/v1/nodes/evil", R"({"url":5})"), 400, "bad_request"},
      {"node register: not a URL", M, Json("PUT", "/api/v1/nodes/evil", R"({"url":"ftp://x/y"})"), 400,
       "bad_request"},
      {"node heartbeat: capacity is a string", M,
       Json("PUT", "/api/v1/nodes/evil", R"({"url":"http://127.0.0.1:1","capacity":"lots"})"), 400, "bad_request"},
      {"node heartbeat: negative free", M,
       Json("PUT", "/api/v1/nodes/evil", R"({"url":"http://127.0.0.1:1","free":-1})"), 400, "bad_request"},
      {"node register: array", M, Json("PUT", "/api/v1/nodes/evil", "[]"), 400, "bad_request"},
      {"node register: id with traversal", M, Json("PUT", "/api/v1/nodes/..%2Fevil", R"({"url":"http://x:1"})"),
       404, "not_found"},
      {"replica report: node_id is a number", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/replicas", R"({"node_id":1,"md5":")" + Md5::Of("x") + "\"}"),
       400, "bad_request"},
      {"replica report: md5 not hex", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/replicas", R"({"node_id":"n","md5":"zz"})"), 400,
       "bad_request"},
      {"replica report: bad blob id", M, Json("POST", "/api/v1/blobs/XYZ/replicas", R"({"node_id":"n"})"), 404,
       "not_found"},
      {"replica report: node_ids not an array", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/replicas",
            R"({"node_id":"n","node_ids":"n","md5":")" + Md5::Of("x") + "\"}"),
       400, "bad_request"},
      {"replica report: node_ids empty", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/replicas",
            R"({"node_id":"n","node_ids":[],"md5":")" + Md5::Of("x") + "\"}"),
       400, "bad_request"},
      {"replica report: node_id not in node_ids", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/replicas",
            R"({"node_id":"n","node_ids":["m"],"md5":")" + Md5::Of("x") + "\"}"),
       400, "bad_request"},
      {"bad-copy report: array", M, Json("POST", "/api/v1/blobs/" + file_blob + "/bad", "[]"), 400, "bad_request"},
      {"bad-copy report: node_id is an object", M,
       Json("POST", "/api/v1/blobs/" + file_blob + "/bad", R"({"node_id":{}})"), 400, "bad_request"},
      {"drain: unknown node", M, Json("POST", "/api/v1/nodes/no-such-node/drain", ""), 404, "not_found"},
      {"drain: chunked body", M,
       Req("POST", "/api/v1/nodes/no-such-node/drain", {"Transfer-Encoding: chunked"}, "0\r\n\r\n", false), 411,
       "length_required"},
      {"requeue: bad id", M, Json("POST", "/api/v1/replication/dead/abc/requeue", ""), 404, "not_found"},
      {"requeue: body of 2 MB declared", M,
       Req("POST", "/api/v1/replication/dead/1-1/requeue", {"Content-Length: 2000000"}, "", false), 413,
       "too_large"},

      // Unlink batches.
      {"unlink: not JSON", M, Json("POST", "/api/v1/unlink", "rm *"), 400, "bad_request"},
      {"unlink: no entries", M, Json("POST", "/api/v1/unlink", R"({"entries": []})"), 400, "bad_request"},
      {"unlink: entries not a list", M, Json("POST", "/api/v1/unlink", R"({"entries": "a"})"), 400, "bad_request"},
      {"unlink: entry without path", M, Json("POST", "/api/v1/unlink", R"({"entries": [{"ino": 3}]})"), 400,
       "bad_request"},
      {"unlink: path ..", M, Json("POST", "/api/v1/unlink", R"({"entries": [{"path": "a/../fixture.txt"}]})"), 400,
       "bad_request"},
      {"unlink: absolute path", M, Json("POST", "/api/v1/unlink", R"({"entries": [{"path": "/fixture.txt"}]})"), 400,
       "bad_request"},
      {"unlink: negative ino", M,
       Json("POST", "/api/v1/unlink", R"({"entries": [{"path": "fixture.txt", "ino": -1}]})"), 400, "bad_request"},
      {"unlink: 1001 entries", M,
       Json("POST", "/api/v1/unlink",
            [] {
              std::string b = R"({"entries": [)";
              for (int i = 0; i < 1001; ++i) b += std::string(i ? "," : "") + "{\"path\": \"n" + std::to_string(i) + "\"}";
              return b + "]}";
            }()),
       400, "bad_request"},

      // Methods.
      {"unknown method FOO", M, Req("FOO", "/healthz"), 405, "method_not_allowed"},
      {"TRACE", M, Req("TRACE", "/"), 405, "method_not_allowed"},
      {"OPTIONS", M, Req("OPTIONS", "/api/v1/files"), 405, "method_not_allowed"},
      {"POST on a file", M, Req("POST", "/api/v1/files/fixture.txt", {}, body), 405, "method_not_allowed"},
      {"DELETE on the node list", M, Req("DELETE", "/api/v1/nodes"), 404, "not_found"},

      // Range.
      {"Range past the end", M, Req("GET", "/api/v1/files/fixture.txt", {"Range: bytes=100-200"}), 416, "bad_range"},
      {"Range first > last", M, Req("GET", "/api/v1/files/fixture.txt", {"Range: bytes=5-2"}), 416, "bad_range"},
      {"Range malformed", M, Req("GET", "/api/v1/files/fixture.txt", {"Range: bytes=abc"}), 416, "bad_range"},
      {"Range of two parts", M, Req("GET", "/api/v1/files/fixture.txt", {"Range: bytes=0-1,4-5"}), 416, "bad_range"},
      {"Range on a missing file", M, Req("GET", "/api/v1/files/missing.txt", {"Range: bytes=2-4"}), 404,
       "not_found"},

      // Size limit (--max-file-size 65536).
      {"PUT Content-Length one over the limit", M,
       Req("PUT", "/api/v1/files/big1", {"Content-Length: " + std::to_string(kMaxFile + 1)}, "", false), 413,
       "too_large"},
      {"PUT Content-Length of 1 TB", M,
       Req("PUT", "/api/v1/files/big2", {"Content-Length: 1000000000000"}, "", false), 413, "too_large"},
      {"PUT chunked over the limit", M,
       Req("PUT", "/api/v1/files/big3", {"Transfer-Encoding: chunked", put_md5}, Chunked(kMaxFile + 4000), false), 413,
       "too_large"},
      {"upload Content-Length of 1 TB", M,
       Req("POST", "/upload", {"Content-Type: multipart/form-data; boundary=x", "Content-Length: 1000000000000"}, "",
           false),
       413, "too_large"},
      {"upload chunked over the limit", M,
       Req("POST", "/upload", {"Content-Type: multipart/form-data; boundary=" + b, "Transfer-Encoding: chunked"},
           [&] {
             std::string mp = Part(b, "input_file", std::string(kMaxFile + 4000, 'u'), "u.bin");
             char hex[32];
             std::snprintf(hex, sizeof(hex), "%zx", mp.size());
             return std::string(hex) + "\r\n" + mp + "\r\n0\r\n\r\n";
           }(),
           false),
       413, "too_large"},
  };
}

std::vector<Case> NodeCases() {
  const auto N = Target::kNode;
  const std::string data = "blob data";
  const std::string md5 = Md5Header(data);
  const std::string id = "fedcba9876543210fedcba9876543210";
  auto Put = [&](const std::string& blob) { return Req("PUT", "/blobs/" + blob, {md5}, data); };
  return {
      {"blob id not hex", N, Put("xyz"), 400, "bad_request"},
      {"blob id upper-case", N, Put("FEDCBA9876543210FEDCBA9876543210"), 400, "bad_request"},
      {"blob id of 31 digits", N, Put(id.substr(1)), 400, "bad_request"},
      {"blob id of 33 digits", N, Put(id + "0"), 400, "bad_request"},
      {"blob id ../../node_id", N, Put("..%2F..%2Fnode_id"), 400, "bad_request"},
      {"blob id <id>/../x", N, Put(id + "%2F..%2Fx"), 400, "bad_request"},
      {"blob id with NUL", N, Put(id.substr(1) + "%00"), 400, "bad_request"},
      {"GET blob ../node_id", N, Req("GET", "/blobs/..%2Fnode_id"), 400, "bad_request"},
      {"DELETE blob ../../blobs", N, Req("DELETE", "/blobs/..%2F..%2Fblobs"), 400, "bad_request"},
      {"PUT without md5", N, Req("PUT", "/blobs/" + id, {}, data), 400, "bad_request"},
      {"PUT md5 not hex", N, Req("PUT", "/blobs/" + id, {"X-Dfs-Md5: xyz"}, data), 400, "bad_request"},
      {"PUT wrong md5", N, Req("PUT", "/blobs/" + id, {Md5Header("other")}, data), 422, "checksum_mismatch"},
      {"PUT over an existing blob with another md5", N, Req("PUT", "/blobs/" + kBlobId, {md5}, data), 409,
       "already_exists"},
      {"PUT truncated body, client stalls", N,
       Req("PUT", "/blobs/" + id, {md5, "Content-Length: 1000"}, "0123456789", false), 408, "timeout"},
      {"PUT truncated body, write side closed", N,
       Req("PUT", "/blobs/" + id, {md5, "Content-Length: 1000"}, "0123456789", false), 400, "bad_request", true},
      {"PUT chunked body cut off, client stalls", N,
       Req("PUT", "/blobs/" + id, {md5, "Transfer-Encoding: chunked"}, "a\r\n0123456789\r\n", false), 408,
       "timeout"},
      {"PUT without any length", N, Req("PUT", "/blobs/" + id, {md5}, data, false), 411, "length_required"},
      {"PUT Content-Length over --max-blob-size", N,
       Req("PUT", "/blobs/" + id, {md5, "Content-Length: " + std::to_string(kMaxFile + 1)}, "", false), 413,
       "too_large"},
      {"PUT chunked over --max-blob-size", N,
       Req("PUT", "/blobs/" + id, {md5, "Transfer-Encoding: chunked"}, Chunked(kMaxFile + 4000), false), 413,
       "too_large"},
      {"GET Range past the end", N, Req("GET", "/blobs/" + kBlobId, {"Range: bytes=100-"}), 416, "bad_range"},
      {"GET Range of two parts", N, Req("GET", "/blobs/" + kBlobId, {"Range: bytes=0-1,3-4"}), 416, "bad_range"},
      {"GET Range malformed", N, Req("GET", "/blobs/" + kBlobId, {"Range: lines=1-2"}), 416, "bad_range"},
      {"GET missing blob with Range", N, Req("GET", "/blobs/" + id, {"Range: bytes=2-4"}), 404, "not_found"},
      {"POST on a blob", N, Req("POST", "/blobs/" + id, {}, data), 405, "method_not_allowed"},
      {"header line of 100 KB", N, Req("GET", "/stats", {"X-Big: " + std::string(100000, 'h')}), 431,
       "headers_too_large"},
      {"request head over 64 KiB in short lines", N, Req("PUT", "/blobs/" + id, {md5, HugeHead()}, data), 431,
       "headers_too_large"},
      {"DELETE with a 2 MB body declared", N, Req("DELETE", "/blobs/" + id, {"Content-Length: 2000000"}, "", false),
       413, "too_large"},
  };
}

TEST_F(BadInputTest, MasterCatalogue) {
  auto cases = MasterCases(file_blob_);
  ASSERT_GE(cases.size(), 40u);
  Run(cases);
  EXPECT_EQ(ran_, cases.size());
  ExpectStillServing();
}

TEST_F(BadInputTest, StorageNodeCatalogue) {
  auto cases = NodeCases();
  Run(cases);
  EXPECT_EQ(ran_, cases.size());
  ExpectStillServing();
}

// The limits are "over", not "at": a file of exactly --max-file-size bytes is
// stored, through a PUT, a chunked PUT and /upload; a blob of exactly
// --max-blob-size too.
TEST_F(BadInputTest, BodiesUpToTheLimitAreTaken) {
  const std::string data(kMaxFile, 'L');
  auto put = PutString(Url(), "/api/v1/files/limit/exact.bin", data, {{kMd5Header, Md5::Of(data)}});
  ASSERT_EQ(put.status, 201) << put.body;
  auto chunked = SendRaw(cluster_->master_port(),
                         Req("PUT", "/api/v1/files/limit/chunked.bin",
                             {"Transfer-Encoding: chunked", Md5Header(std::string(kMaxFile, 'c'))}, Chunked(kMaxFile),
                             false));
  ASSERT_TRUE(chunked.answered) << chunked.raw;
  EXPECT_EQ(chunked.status, 201) << chunked.raw;
  auto upload = SendRaw(cluster_->master_port(), UploadOf("limit/upload.bin", data, Md5::Of(data)));
  EXPECT_EQ(upload.status, 200) << upload.raw;
  auto blob = PutString(cluster_->node_url(1), "/blobs/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", data,
                        {{kMd5Header, Md5::Of(data)}});
  EXPECT_EQ(blob.status, 201) << blob.body;
  EXPECT_EQ(Get(Url(), "/api/v1/files/limit/exact.bin").body, data);
  EXPECT_EQ(Get(Url(), "/api/v1/files?prefix=limit/").json()["files"].size(), 3u);
}

// X-Dfs-Md5: trailing (the mount's write-behind): the last 32 bytes of the
// body are its md5, checked and never stored, whether they arrive in one
// chunk of the body or split over several, with a Content-Length or chunked.
TEST_F(BadInputTest, AnMd5TrailingTheBodyIsCheckedAndNotStored) {
  const std::string data = "hello, trailing md5";
  const std::string framed = data + Md5::Of(data);
  std::string chunked;
  for (size_t at = 0; at < framed.size(); at += 7) {  // pieces that cut the md5 in parts
    const std::string piece = framed.substr(at, 7);
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%zx", piece.size());
    chunked += std::string(hex) + "\r\n" + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  auto sent = SendRaw(cluster_->master_port(), Req("PUT", "/api/v1/files/trailing/chunked.txt",
                                                   {"X-Dfs-Md5: trailing", "Transfer-Encoding: chunked"}, chunked,
                                                   false));
  ASSERT_TRUE(sent.answered) << sent.raw;
  EXPECT_EQ(sent.status, 201) << sent.raw;
  auto whole = PutString(Url(), "/api/v1/files/trailing/length.txt", framed, {{kMd5Header, kMd5Trailing}});
  EXPECT_EQ(whole.status, 201) << whole.body;
  for (const char* name : {"trailing/chunked.txt", "trailing/length.txt"}) {
    auto got = Get(Url(), std::string("/api/v1/files/") + name);
    EXPECT_EQ(got.body, data) << name;
    EXPECT_EQ(Get(Url(), std::string("/api/v1/meta/") + name).json().value("md5", ""), Md5::Of(data)) << name;
  }
  auto wrong = PutString(Url(), "/api/v1/files/trailing/wrong.txt", data + Md5::Of("other"),
                         {{kMd5Header, kMd5Trailing}});
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_EQ(Get(Url(), "/api/v1/meta/trailing/wrong.txt").status, 404) << "nothing stored";
}

// Slow clients: stalled uploads, half-sent request lines, and requests whose
// head or body trickles in, hold the master's 4 threads only for about the
// read timeout; a normal request made behind them is still answered, every
// slow connection is answered 408 and cut off, and nothing is stored.
TEST(BadInputSlowClients, StalledAndTricklingClientsAreCutOff) {
  ClusterOptions o;
  o.nodes = 1;
  o.node_timeout_ms = 60000;  // heartbeats wait behind the slow clients too
  o.master_args = {"--threads", "4", "--read-timeout-ms", kReadTimeoutMs};
  o.storage_args = {"--read-timeout-ms", kReadTimeoutMs};
  TestCluster cluster(o);
  ASSERT_TRUE(cluster.WaitNodesUp(1));
  const int master = cluster.master_port();
  const int node = PortOf(cluster.node_url(0));

  std::vector<std::unique_ptr<RawConnection>> stalled;  // answered 408, then closed
  for (int i = 0; i < 6; ++i) {
    auto c = std::make_unique<RawConnection>(master);
    ASSERT_TRUE(c->Send(Req("PUT", "/api/v1/files/stalled-" + std::to_string(i), {"Content-Length: 1000"},
                            "only ten b", false)));
    stalled.push_back(std::move(c));
  }
  for (int i = 0; i < 2; ++i) {
    auto c = std::make_unique<RawConnection>(node);
    ASSERT_TRUE(c->Send(Req("PUT", "/blobs/0123456789abcdef0123456789abcde" + std::to_string(i),
                            {Md5Header("x"), "Content-Length: 1000"}, "only ten b", false)));
    stalled.push_back(std::move(c));
  }
  std::vector<std::unique_ptr<RawConnection>> silent;  // half a request line: 408, closed
  for (int i = 0; i < 2; ++i) {
    auto c = std::make_unique<RawConnection>(master);
    ASSERT_TRUE(c->Send("GET /heal"));
    silent.push_back(std::move(c));
  }
  // Tricklers, one byte every 100 ms: of a body (a streamed file upload and
  // a small JSON body, which cpp-httplib reads itself), of a request line,
  // and of headers (an endless header line, and endless short headers).
  struct Trickler {
    std::string name;
    int port;
    std::string start, trickle;
  };
  const std::vector<Trickler> plan = {
      {"file body", master, Req("PUT", "/api/v1/files/trickle", {"Content-Length: 100000"}, "", false), "t"},
      {"JSON body", master, Req("POST", "/api/v1/rename", {"Content-Type: application/json", "Content-Length: 50000"},
                                "", false), " "},
      {"request line", master, "GET /", "a"},
      {"header line", master, "GET /healthz HTTP/1.1\r\nX-Slow: ", "s"},
      {"short headers", node, "GET /stats HTTP/1.1\r\n", "X: y\r\n"},
      {"blob body", node, Req("PUT", "/blobs/" + kBlobId, {Md5Header("x"), "Content-Length: 100000"}, "", false), "b"},
  };
  std::vector<RawAnswer> trickled(plan.size());
  std::vector<std::thread> tricklers;
  for (size_t i = 0; i < plan.size(); ++i) {
    tricklers.emplace_back([&, i] { trickled[i] = Trickle(plan[i].port, plan[i].start, plan[i].trickle); });
  }

  // A normal request behind the ten slow ones: answered well within the
  // 30 s the slow ones could otherwise hold the threads for.
  auto ep = ParseEndpoint(cluster.master_url());
  auto client = MakeClient(*ep, {milliseconds(3000), milliseconds(10000), milliseconds(10000)});
  auto health = client->Get("/healthz");
  ASSERT_TRUE(health) << "no answer behind the slow clients: " << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);

  for (size_t i = 0; i < stalled.size(); ++i) {
    SCOPED_TRACE("stalled upload " + std::to_string(i));
    RawAnswer a = stalled[i]->ReadAnswer(std::chrono::seconds(20));
    ASSERT_TRUE(a.answered) << a.raw;
    EXPECT_EQ(a.status, 408) << a.raw;
    ExpectJsonError(a, "timeout");
    EXPECT_TRUE(stalled[i]->WaitClosed(std::chrono::seconds(20))) << "connection kept open";
  }
  for (auto& c : silent) {
    RawAnswer a = c->ReadAnswer(std::chrono::seconds(20));
    EXPECT_EQ(a.status, 408) << a.raw;
    EXPECT_TRUE(c->WaitClosed(std::chrono::seconds(20))) << "half request line kept open";
  }
  for (auto& t : tricklers) t.join();
  for (size_t i = 0; i < plan.size(); ++i) {
    SCOPED_TRACE("trickled " + plan[i].name);
    ASSERT_TRUE(trickled[i].answered) << "trickler not cut off in 30 s: " << trickled[i].raw;
    EXPECT_EQ(trickled[i].status, 408) << trickled[i].raw;
    ExpectJsonError(trickled[i], "timeout");
  }

  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/files?prefix=").json()["files"].size(), 0u);
  EXPECT_TRUE(WaitUntil([&] { return FilesUnder(cluster.dir() + "/spool") == 0; }, milliseconds(5000)));
  EXPECT_EQ(FilesUnder(cluster.node_dir(0) + "/blobs"), 0u);
  EXPECT_TRUE(WaitUntil([&] { return FilesUnder(cluster.node_dir(0) + "/tmp") == 0; }, milliseconds(5000)));
  ASSERT_TRUE(cluster.WaitNodesUp(1));
  const std::string data = "after the slow clients";
  auto put = PutString(cluster.master_url(), "/api/v1/files/after.txt", data, {{kMd5Header, Md5::Of(data)}});
  EXPECT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/files/after.txt").body, data);
  EXPECT_TRUE(cluster.master().running());
  EXPECT_TRUE(cluster.node(0).running());
}

}  // namespace
}  // namespace dfs::testing
