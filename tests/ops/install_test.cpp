// `cmake --install` into a staging folder: binaries, mount.dfs, systemd
// units (checked by systemd-analyze verify) and sample configuration that
// the installed programs accept, proven by running a cluster from them.
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string BuildDir() { return fs::path(DFS_BIN_DIR).parent_path().string(); }

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string out;
    int rc = RunCommand("DESTDIR=" + root() + " cmake --install " + BuildDir() + " 2>&1", &out);
    ASSERT_EQ(rc, 0) << out;
  }
  std::string root() const { return tmp_.path() + "/root"; }
  std::string bin(const std::string& name) const { return root() + "/usr/local/bin/" + name; }

  TempDir tmp_;
};

TEST_F(InstallTest, PutsProgramsUnitsConfigAndDocsInPlace) {
  for (const char* p : {"/usr/local/bin/dfs-master", "/usr/local/bin/dfs-storage", "/usr/local/bin/dfs-replicator",
                        "/usr/local/bin/dfs", "/sbin/mount.dfs", "/etc/dfs/master.conf", "/etc/dfs/storage-node1.conf",
                        "/etc/dfs/replicator.conf", "/usr/local/share/doc/dfs/README.md"}) {
    EXPECT_TRUE(fs::exists(root() + p)) << p;
  }
  const std::string units = root() + "/usr/local/lib/systemd/system";
  for (const char* u : {"dfs-master.service", "dfs-storage@.service", "dfs-replicator.service", "mnt-dfs.mount"}) {
    EXPECT_TRUE(fs::exists(units + "/" + u)) << u;
  }
  EXPECT_NE(ReadFile(units + "/dfs-master.service").find("ExecStart=/usr/local/bin/dfs-master --config /etc/dfs/master.conf"),
            std::string::npos);
  // DynamicUser services cannot read a root-only token file themselves: systemd hands it over.
  for (const char* u : {"dfs-master.service", "dfs-storage@.service", "dfs-replicator.service"}) {
    EXPECT_NE(ReadFile(units + "/" + u).find("\nLoadCredential=dfs.token\n"), std::string::npos) << u;
    EXPECT_NE(ReadFile(units + "/" + u).find("\nLoadCredential=dfs.tls-key\n"), std::string::npos) << u;
  }
  std::string mount = ReadFile(units + "/mnt-dfs.mount");
  EXPECT_NE(mount.find("Type=dfs"), std::string::npos);
  EXPECT_NE(mount.find("_netdev"), std::string::npos);

  // An operator's edited config survives a reinstall.
  WriteFile(root() + "/etc/dfs/master.conf", "listen = \"127.0.0.1:9999\"\n");
  std::string out;
  ASSERT_EQ(RunCommand("DESTDIR=" + root() + " cmake --install " + BuildDir() + " 2>&1", &out), 0) << out;
  EXPECT_EQ(ReadFile(root() + "/etc/dfs/master.conf"), "listen = \"127.0.0.1:9999\"\n");
}

TEST_F(InstallTest, SystemdAcceptsTheUnits) {
  if (RunCommand("command -v systemd-analyze") != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed (Debian package systemd; scripts/install-deps.sh installs it)";
  }
  // Point the units at the staged programs and config, then let systemd check them.
  const std::string units = root() + "/usr/local/lib/systemd/system";
  const std::string check = tmp_.path() + "/units";
  fs::create_directories(check);
  for (const char* u : {"dfs-master.service", "dfs-storage@.service", "dfs-replicator.service", "mnt-dfs.mount"}) {
    std::string text = ReadFile(units + "/" + u);
    text = Replace(text, "/usr/local/bin/", root() + "/usr/local/bin/");
    text = Replace(text, "/etc/dfs/", root() + "/etc/dfs/");
    WriteFile(check + "/" + u, text);
  }
  std::string out;
  int rc = RunCommand("cd " + check +
                          " && systemd-analyze verify --man=no dfs-master.service dfs-storage@node1.service "
                          "dfs-replicator.service mnt-dfs.mount 2>&1",
                      &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << "systemd-analyze complained";
}

TEST_F(InstallTest, InstalledProgramsRunWithTheSampleConfig) {
  // The sample files as shipped, with ports and folders overridden by flags
  // (flags win over the file) so the test stays on free loopback ports.
  const std::string etc = root() + "/etc/dfs";
  int master_port = FreePort(), node_port = FreePort(), metrics_port = FreePort();
  const std::string master_url = "http://127.0.0.1:" + std::to_string(master_port);
  Subprocess master({bin("dfs-master"), "--config", etc + "/master.conf", "--listen",
                     "127.0.0.1:" + std::to_string(master_port), "--db", tmp_.path() + "/master.db", "--redis", ""},
                    tmp_.path() + "/master.log");
  ASSERT_TRUE(WaitHttpOk(master_url, milliseconds(10000))) << ReadFile(tmp_.path() + "/master.log");
  const std::string node_url = "http://127.0.0.1:" + std::to_string(node_port);
  Subprocess node({bin("dfs-storage"), "--config", etc + "/storage-node1.conf", "--data", tmp_.path() + "/node",
                   "--listen", "127.0.0.1:" + std::to_string(node_port), "--advertise", node_url, "--master",
                   master_url},
                  tmp_.path() + "/node.log");
  ASSERT_TRUE(WaitUntil([&] { return Get(master_url, "/api/v1/nodes").body.find("\"up\"") != std::string::npos; },
                        milliseconds(10000)))
      << ReadFile(tmp_.path() + "/node.log");
  auto put = PutString(master_url, "/api/v1/files/installed.txt", "it runs");
  ASSERT_EQ(put.status, 201) << put.body;
  EXPECT_EQ(Get(master_url, "/api/v1/files/installed.txt").body, "it runs");

  // The replicator's sample config parses, and its metrics port answers.
  Subprocess replicator({bin("dfs-replicator"), "--config", etc + "/replicator.conf", "--master", master_url,
                         "--redis", "127.0.0.1:" + std::to_string(FreePort()), "--metrics-listen",
                         "127.0.0.1:" + std::to_string(metrics_port)},
                        tmp_.path() + "/replicator.log");
  EXPECT_TRUE(WaitHttpOk("http://127.0.0.1:" + std::to_string(metrics_port), milliseconds(10000)))
      << ReadFile(tmp_.path() + "/replicator.log");
  EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(metrics_port), "/metrics").body.find("dfs_redis_up 0") !=
                std::string::npos,
            true);
}

TEST_F(InstallTest, InstalledProgramsTakeTheirSecretsFromSystemdCredentials) {
  // What systemd gives a unit with LoadCredential=: $CREDENTIALS_DIRECTORY
  // with one file per credential found (dfs.token here, no TLS files).
  const std::string creds = tmp_.path() + "/credentials";
  fs::create_directories(creds);
  WriteFile(creds + "/dfs.token", "credential-token-7f3a\n");
  const std::string env = "CREDENTIALS_DIRECTORY=" + creds;
  int master_port = FreePort(), node_port = FreePort();
  const std::string master_url = "http://127.0.0.1:" + std::to_string(master_port);
  Subprocess master({bin("dfs-master"), "--config", root() + "/etc/dfs/master.conf", "--listen",
                     "127.0.0.1:" + std::to_string(master_port), "--db", tmp_.path() + "/master.db", "--redis", ""},
                    tmp_.path() + "/master.log", {env});
  ASSERT_TRUE(WaitHttpOk(master_url, milliseconds(10000))) << ReadFile(tmp_.path() + "/master.log");
  EXPECT_EQ(Get(master_url, "/api/v1/nodes").status, 401) << "the credential's token is required";
  const httplib::Headers auth = {{"Authorization", "Bearer credential-token-7f3a"}};
  EXPECT_EQ(Get(master_url, "/api/v1/nodes", auth).status, 200);

  // A storage node with the same credential registers (it sends the token).
  const std::string node_url = "http://127.0.0.1:" + std::to_string(node_port);
  Subprocess node({bin("dfs-storage"), "--config", root() + "/etc/dfs/storage-node1.conf", "--data",
                   tmp_.path() + "/node", "--listen", "127.0.0.1:" + std::to_string(node_port), "--advertise",
                   node_url, "--master", master_url},
                  tmp_.path() + "/node.log", {env});
  EXPECT_TRUE(WaitUntil(
      [&] { return Get(master_url, "/api/v1/nodes", auth).body.find("\"up\"") != std::string::npos; },
      milliseconds(10000)))
      << ReadFile(tmp_.path() + "/node.log");
  EXPECT_EQ(Get(node_url, "/stats").status, 401) << "the node wants the token too";
}

}  // namespace
}  // namespace dfs::testing
