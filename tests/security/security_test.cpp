// Access control and TLS against a real cluster: the cluster token guards
// the master, every node (registration included) and the replicator's
// metrics; a read-only token reads and nothing else; the whole cluster
// (CLI, replication, replica fallback, the FUSE mount) runs over TLS with
// certificates made by the openssl command; Redis with a password.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "common/security.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

const std::string kToken = "tok-7d1e5b0c9a4f4e2b8c61";
const std::string kReadToken = "read-3f9a2c71e04b";

// Runs `fn` with this process's clients sending `token` (or none).
template <typename Fn>
auto WithToken(const std::string& token, Fn fn) {
  SecurityConfig saved = Security();
  SecurityConfig changed = saved;
  changed.token = token;
  SetSecurity(changed);
  auto result = fn();
  SetSecurity(saved);
  return result;
}

bool FullyReplicated(const std::string& master, const std::string& name, int copies) {
  auto res = Get(master, "/api/v1/files/" + EncodePathForUrl(name) + "/locations");
  if (res.status != 200) return false;
  auto json = res.json();
  int ok = 0;
  for (const auto& r : json.value("replicas", nlohmann::json::array())) ok += r.value("state", "") == "ok";
  return ok >= copies;
}

std::string Cmdline(pid_t pid) {
  std::string raw = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  return raw;
}

// The replicator's --metrics-listen port, when Secured() asked for one.
int g_replicator_metrics_port = 0;

ClusterOptions Secured(bool tls) {
  ClusterOptions o;
  g_replicator_metrics_port = FreePort();
  o.replicator_args = {"--metrics-listen", "127.0.0.1:" + std::to_string(g_replicator_metrics_port)};
  o.redis = true;
  o.replicator = true;
  o.token = kToken;
  o.read_token = kReadToken;
  o.tls = tls;
  o.redis_password = "redis-pass-51c2";
  return o;
}

TEST(SecurityTest, TokenGuardsMasterNodesRegistrationAndMetrics) {
  TestCluster cluster(Secured(/*tls=*/false));
  const std::string master = cluster.master_url();
  ASSERT_EQ(PutString(master, "/api/v1/files/secret.txt", "top secret").status, 201);

  for (const std::string& token : {std::string(), std::string("wrong-token")}) {
    WithToken(token, [&] {
      auto get = Get(master, "/api/v1/files/secret.txt");
      EXPECT_EQ(get.status, 401) << get.body;
      EXPECT_EQ(get.json().value("error", ""), "unauthorized") << get.body;
      EXPECT_EQ(get.body.find("top secret"), std::string::npos);
      EXPECT_EQ(get.header("WWW-Authenticate"), "Bearer realm=\"dfs\"");
      EXPECT_EQ(PutString(master, "/api/v1/files/intruder.txt", "x").status, 401);
      EXPECT_EQ(Delete(master, "/api/v1/files/secret.txt").status, 401);
      EXPECT_EQ(Get(master, "/api/v1/files?prefix=").status, 401);
      EXPECT_EQ(Get(master, "/api/v1/nodes").status, 401);
      EXPECT_EQ(Get(master, "/api/v1/status").status, 401);
      EXPECT_EQ(Get(master, "/metrics").status, 401);
      EXPECT_EQ(Get(master, "/download?filename=secret.txt").status, 401);
      // The original system's upload is guarded like the rest.
      const std::string boundary = "b0undary";
      auto upload = Client(master)->Post(
          "/upload",
          "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file_hash\"\r\n\r\n" + Md5::Of("x") +
              "\r\n--" + boundary +
              "\r\nContent-Disposition: form-data; name=\"input_file\"; filename=\"intruder-upload.txt\"\r\n\r\nx\r\n--" +
              boundary + "--\r\n",
          "multipart/form-data; boundary=" + boundary);
      EXPECT_TRUE(upload && upload->status == 401) << (upload ? upload->body : "no answer");
      // The replicator's metrics want the token too (they name blobs and nodes).
      const std::string replicator = "http://127.0.0.1:" + std::to_string(g_replicator_metrics_port);
      // The replicator starts after the cluster (slowly under ASan): wait for it.
      EXPECT_TRUE(WaitHttpOk(replicator, std::chrono::milliseconds(20000))) << "replicator metrics not up";
      EXPECT_EQ(Get(replicator, "/metrics").status, 401);
      EXPECT_EQ(Get(replicator, "/healthz").status, 200);
      // A rogue node cannot join.
      auto reg = Client(master)->Put("/api/v1/nodes/rogue1", R"({"url":"http://127.0.0.1:1","capacity":1,"free":1})",
                                     "application/json");
      EXPECT_TRUE(reg && reg->status == 401);
      // Nobody gets around the master by asking a node.
      for (int i = 0; i < cluster.node_count(); ++i) {
        EXPECT_EQ(Get(cluster.node_url(i), "/stats").status, 401);
        EXPECT_EQ(Get(cluster.node_url(i), "/blobs/0123456789abcdef0123456789abcdef").status, 401);
        EXPECT_EQ(PutString(cluster.node_url(i), "/blobs/0123456789abcdef0123456789abcdef", "x").status, 401);
        EXPECT_EQ(Get(cluster.node_url(i), "/healthz").status, 200);
      }
      EXPECT_EQ(Get(master, "/healthz").status, 200);
      EXPECT_EQ(Get(master, "/").status, 200);  // the page's HTML; its data wants the token
      return 0;
    });
  }
  // Nothing was stored or registered by the refused requests.
  auto list = Get(master, "/api/v1/files?prefix=");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("intruder"), std::string::npos);
  EXPECT_EQ(Get(master, "/api/v1/nodes").body.find("rogue1"), std::string::npos);

  // A storage node without the token is turned away at registration.
  int port = FreePort();
  Subprocess rogue({BinaryPath("dfs-storage"), "--data", cluster.dir() + "/rogue", "--listen",
                    "127.0.0.1:" + std::to_string(port), "--master", master, "--heartbeat-ms", "100"},
                   cluster.dir() + "/rogue.log");
  EXPECT_TRUE(WaitUntil([&] { return ReadFile(cluster.dir() + "/rogue.log").find("401") != std::string::npos ||
                                     ReadFile(cluster.dir() + "/rogue.log").find("unauthorized") != std::string::npos; },
                        milliseconds(10000)))
      << ReadFile(cluster.dir() + "/rogue.log");
  EXPECT_EQ(Get(master, "/api/v1/nodes").json()["nodes"].size(), 3u);
  rogue.Stop();

  // The read-only token reads, and only reads; nodes do not take it.
  WithToken(kReadToken, [&] {
    EXPECT_EQ(Get(master, "/api/v1/files/secret.txt").body, "top secret");
    EXPECT_EQ(Get(master, "/api/v1/files?prefix=").status, 200);
    EXPECT_EQ(Head(master, "/api/v1/files/secret.txt").status, 200);
    auto put = PutString(master, "/api/v1/files/reader.txt", "x");
    EXPECT_EQ(put.status, 403) << put.body;
    EXPECT_EQ(put.json().value("error", ""), "forbidden");
    EXPECT_EQ(Delete(master, "/api/v1/files/secret.txt").status, 403);
    EXPECT_EQ(Get(cluster.node_url(0), "/stats").status, 401);
    return 0;
  });

  // With the token, everything works end to end: the replicator (token,
  // Redis password) brings every file to 3 copies.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(PutString(master, "/api/v1/files/r" + std::to_string(i), std::string(5000 + i, 'r')).status, 201);
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(WaitUntil([&] { return FullyReplicated(master, "r" + std::to_string(i), 3); }, milliseconds(20000)))
        << "r" << i;
  }
  EXPECT_EQ(Get(master, "/metrics").status, 200);
  auto replicator_metrics = Get("http://127.0.0.1:" + std::to_string(g_replicator_metrics_port), "/metrics");
  EXPECT_EQ(replicator_metrics.status, 200);
  EXPECT_NE(replicator_metrics.body.find("dfs_replication_"), std::string::npos);

  // The CLI: no token -> exit 7 and a clear message; the token from a file or the environment works.
  std::string out;
  EXPECT_EQ(RunCommand(BinaryPath("dfs") + " --master " + master + " ls 2>&1", &out), 7) << out;
  EXPECT_NE(out.find("token"), std::string::npos) << out;
  EXPECT_EQ(RunCommand("DFS_TOKEN=" + kToken + " " + BinaryPath("dfs") + " --master " + master + " ls 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("secret.txt"), std::string::npos);
  EXPECT_EQ(cluster.Cli("ls", &out), 0) << out;

  // The token never appears on a command line (ps).
  for (pid_t pid : {cluster.master().pid(), cluster.node(0).pid(), cluster.replicator().pid()}) {
    EXPECT_EQ(Cmdline(pid).find(kToken), std::string::npos) << Cmdline(pid);
  }
}

TEST(SecurityTest, WholeClusterOverTlsWithTokenAndRedisPassword) {
  TestCluster cluster(Secured(/*tls=*/true));
  const std::string master = cluster.master_url();
  ASSERT_EQ(master.rfind("https://", 0), 0u);
  TempDir tmp;
  const std::string src = tmp.path() + "/big.bin";
  const std::string md5 = WriteRandomFile(src, 3 << 20, 7);
  std::string out;
  ASSERT_EQ(cluster.Cli("put " + src + " big.bin", &out), 0) << out;
  ASSERT_TRUE(WaitUntil([&] { return FullyReplicated(master, "big.bin", 3); }, milliseconds(20000)));
  ASSERT_EQ(cluster.Cli("get big.bin " + tmp.path() + "/copy.bin", &out), 0) << out;
  EXPECT_EQ(Md5::OfFile(tmp.path() + "/copy.bin").value(), md5);

  // Replica fallback over TLS: the primary dies, the file still reads.
  auto meta = Get(master, "/api/v1/files/big.bin/locations").json();
  std::string primary = meta.value("primary_node", "");
  for (int i = 0; i < cluster.node_count(); ++i) {
    if (cluster.node_id(i) == primary) cluster.KillNode(i);
  }
  std::string got_md5;
  auto get = GetToFile(master, "/api/v1/files/big.bin", tmp.path() + "/again.bin", &got_md5);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(got_md5, md5);

  // Plain HTTP to a TLS port gets nothing; a client that does not trust
  // the CA refuses the server.
  auto plain = Get("http://127.0.0.1:" + std::to_string(cluster.master_port()), "/healthz");
  EXPECT_NE(plain.status, 200);
  int rc = RunCommand(BinaryPath("dfs") + " --master " + master + " --token-file " + cluster.token_path() +
                          " --attempts 1 ls 2>&1",
                      &out);
  EXPECT_EQ(rc, 5) << out;  // unavailable: certificate not verified
  EXPECT_EQ(cluster.Cli("ls", &out), 0) << out;
}

TEST(SecurityTest, MountOverTlsWithTokenFile) {
  ClusterOptions o = Secured(/*tls=*/true);
  o.redis = o.replicator = false;
  o.redis_password.clear();
  TestCluster cluster(o);
  TempDir tmp;
  const std::string mnt = tmp.path() + "/mnt";
  std::filesystem::create_directories(mnt);

  // Without the token the mount is refused up front, with a clear error.
  std::string out;
  int rc = RunCommand(BinaryPath("mount.dfs") + " " + cluster.master_url() + " " + mnt + " -o ca=" +
                          cluster.ca_path() + ",cache_dir=" + tmp.path() + "/cache 2>&1",
                      &out);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("refused"), std::string::npos) << out;
  EXPECT_FALSE(IsFuseMounted(mnt));
  // A token on the mount's command line is refused too (it would show in ps).
  rc = RunCommand(BinaryPath("mount.dfs") + " " + cluster.master_url() + " " + mnt + " -o token=" + kToken + " 2>&1",
                  &out);
  EXPECT_NE(rc, 0);
  EXPECT_FALSE(IsFuseMounted(mnt));

  // A server certificate that the given CA did not sign is refused, token or not.
  ASSERT_EQ(RunCommand("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + tmp.path() + "/other.key -out " +
                       tmp.path() + "/other-ca.pem -subj /CN=other-ca -days 1 >/dev/null 2>&1"),
            0);
  for (const std::string& ca : {",ca=" + tmp.path() + "/other-ca.pem", std::string()}) {
    rc = RunCommand(BinaryPath("mount.dfs") + " " + cluster.master_url() + " " + mnt + " -o token_file=" +
                        cluster.token_path() + ca + ",cache_dir=" + tmp.path() + "/cache,timeout=5 2>&1",
                    &out);
    EXPECT_NE(rc, 0) << out;
    EXPECT_FALSE(IsFuseMounted(mnt)) << "mounted with an untrusted certificate (" << ca << ")";
  }

  Subprocess mount({BinaryPath("mount.dfs"), cluster.master_url(), mnt, "-f", "-o",
                    "token_file=" + cluster.token_path() + ",ca=" + cluster.ca_path() + ",cache_dir=" + tmp.path() +
                        "/cache,timeout=5"},
                   tmp.path() + "/mount.log");
  ASSERT_TRUE(WaitUntil([&] { return IsFuseMounted(mnt); }, milliseconds(10000))) << ReadFile(tmp.path() + "/mount.log");
  const std::string src = tmp.path() + "/in.bin";
  WriteRandomFile(src, 1 << 20, 11);
  EXPECT_EQ(RunCommand("cp " + src + " " + mnt + "/in.bin && cmp " + src + " " + mnt + "/in.bin"), 0)
      << ReadFile(tmp.path() + "/mount.log");
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/files/in.bin").body, ReadFile(src));
  RunCommand("fusermount3 -u " + mnt);
  if (IsFuseMounted(mnt)) RunCommand("umount -l " + mnt);
  mount.Stop();
}

}  // namespace
}  // namespace dfs::testing
