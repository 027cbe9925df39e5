// The real dfs binary against a real cluster.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "common/client/dfs_client.h"
#include "common/md5.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

bool NoTempFilesIn(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().find(".dfs-part-") != std::string::npos) return false;
  }
  return true;
}

class CliTest : public ::testing::Test {
 protected:
  TestCluster cluster_;
  TempDir tmp_;
  std::string T(const std::string& name) { return tmp_.path() + "/" + name; }
};

TEST_F(CliTest, PutGetRoundTrips) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{5} << 20}) {
    std::string name = "f" + std::to_string(size);
    std::string md5 = WriteRandomFile(T(name), size, 5);
    std::string out;
    ASSERT_EQ(cluster_.Cli("put " + T(name) + " dir/" + name, &out), 0) << out;
    EXPECT_EQ(out, "dir/" + name + "\n");
    ASSERT_EQ(cluster_.Cli("get dir/" + name + " " + T(name + ".back"), &out), 0) << out;
    EXPECT_EQ(*Md5::OfFile(T(name + ".back")), md5);
  }
  EXPECT_TRUE(NoTempFilesIn(tmp_.path()));
}

TEST_F(CliTest, GetToStdoutAndToAFolder) {
  WriteFile(T("hello.txt"), "hello world\n");
  ASSERT_EQ(cluster_.Cli("put " + T("hello.txt")), 0);
  std::string out;
  ASSERT_EQ(RunCommand(BinaryPath("dfs") + " --master " + cluster_.master_url() + " get hello.txt - 2>/dev/null", &out), 0);
  EXPECT_EQ(out, "hello world\n");
  std::filesystem::create_directories(T("into"));
  ASSERT_EQ(cluster_.Cli("get hello.txt " + T("into")), 0);
  EXPECT_EQ(ReadFile(T("into/hello.txt")), "hello world\n");
}

TEST_F(CliTest, CollisionIsRenamedLoudly) {
  WriteFile(T("a.txt"), "one");
  std::string out;
  ASSERT_EQ(cluster_.Cli("put " + T("a.txt"), &out), 0);
  ASSERT_EQ(cluster_.Cli("put " + T("a.txt"), &out), 0);
  EXPECT_NE(out.find("already exists; stored as 'a_"), std::string::npos) << out;
  EXPECT_EQ(cluster_.Cli("put --fail-if-exists " + T("a.txt"), &out), 6);
  EXPECT_NE(out.find("already exists"), std::string::npos) << out;
  WriteFile(T("a.txt"), "two");
  ASSERT_EQ(cluster_.Cli("put --overwrite " + T("a.txt"), &out), 0) << out;
  EXPECT_EQ(out, "a.txt\n");
  ASSERT_EQ(cluster_.Cli("get a.txt " + T("a.back")), 0);
  EXPECT_EQ(ReadFile(T("a.back")), "two");
}

TEST_F(CliTest, FoldersLeftByRmAreRemovedWithRmdir) {
  // rm keeps the folder (as in the mount); a file of the folder's name then
  // needs `dfs rmdir` first, and the error says why.
  WriteFile(T("x"), "xx");
  std::string out;
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " docs/a"), 0);
  ASSERT_EQ(cluster_.Cli("rm docs/a"), 0);
  EXPECT_NE(cluster_.Cli("put --fail-if-exists " + T("x") + " docs", &out), 0);
  EXPECT_NE(out.find("'docs' is a directory"), std::string::npos) << out;
  ASSERT_EQ(cluster_.Cli("rmdir docs", &out), 0) << out;
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " docs", &out), 0) << out;
  EXPECT_EQ(out, "docs\n");

  ASSERT_EQ(cluster_.Cli("mkdir empty", &out), 0) << out;
  EXPECT_EQ(cluster_.Cli("mkdir empty", &out), 6) << out;
  EXPECT_EQ(cluster_.Cli("mkdir no/such/parent", &out), 3) << out;
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " empty/f"), 0);
  EXPECT_NE(cluster_.Cli("rmdir empty", &out), 0);
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  EXPECT_EQ(cluster_.Cli("rmdir nothing-here", &out), 3) << out;
}

TEST_F(CliTest, LsRmStatNodesAndJson) {
  WriteFile(T("x"), "xx");
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " logs/x1"), 0);
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " logs/x2"), 0);
  ASSERT_EQ(cluster_.Cli("put " + T("x") + " other"), 0);
  std::string out;
  ASSERT_EQ(cluster_.Cli("ls logs/", &out), 0);
  EXPECT_NE(out.find("logs/x1"), std::string::npos);
  EXPECT_EQ(out.find("other"), std::string::npos);
  ASSERT_EQ(cluster_.Cli("--json ls 2>/dev/null", &out), 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["files"].size(), 3u);
  ASSERT_EQ(cluster_.Cli("--json stat logs/x1 2>/dev/null", &out), 0);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["md5"], Md5::Of("xx"));
  EXPECT_EQ(j["replicas"].size(), 1u);
  ASSERT_EQ(cluster_.Cli("stat logs/x1", &out), 0);
  EXPECT_NE(out.find("md5:      " + Md5::Of("xx")), std::string::npos) << out;
  ASSERT_EQ(cluster_.Cli("--json nodes 2>/dev/null", &out), 0);
  EXPECT_EQ(nlohmann::json::parse(out)["nodes"].size(), 3u);
  ASSERT_EQ(cluster_.Cli("nodes", &out), 0);
  EXPECT_NE(out.find(cluster_.node_id(0)), std::string::npos);
  ASSERT_EQ(cluster_.Cli("rm logs/x1"), 0);
  EXPECT_EQ(cluster_.Cli("rm logs/x1", &out), 3);
  EXPECT_EQ(cluster_.Cli("stat logs/x1", &out), 3);
}

TEST_F(CliTest, MissingFileExitsThreeAndLeavesNothing) {
  std::string out;
  EXPECT_EQ(cluster_.Cli("get nope " + T("nope"), &out), 3);
  EXPECT_NE(out.find("no file 'nope'"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(T("nope")));
  EXPECT_TRUE(NoTempFilesIn(tmp_.path()));
  EXPECT_EQ(cluster_.Cli("put " + T("does-not-exist"), &out), 3);
  EXPECT_EQ(cluster_.Cli("put", &out), 2) << "usage error";
  EXPECT_EQ(cluster_.Cli("put " + tmp_.path() + " '../evil'", &out), 1);
}

TEST_F(CliTest, DfsMasterEnvironmentIsHonoured) {
  WriteFile(T("e"), "env");
  std::string out;
  ASSERT_EQ(RunCommand("DFS_MASTER=" + cluster_.master_url() + " " + BinaryPath("dfs") + " put " + T("e"), &out), 0)
      << out;
  EXPECT_EQ(RunCommand("DFS_MASTER=" + cluster_.master_url() + " " + BinaryPath("dfs") + " ls", &out), 0);
  EXPECT_NE(out.find(" e\n"), std::string::npos) << out;
}

// The CLI as another user: setpriv runs it with that uid, gid and groups (as
// root), and the master checks and records what the CLI says it is.
class CliCredentialsTest : public CliTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "running the CLI as another uid needs root";
    if (RunCommand("command -v setpriv") != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
    // The other user reads the files put from here.
    std::filesystem::permissions(tmp_.path(), std::filesystem::perms(0755));
  }
  // `groups`: the supplementary groups, "" for none.
  int CliAs(int uid, int gid, const std::string& groups, const std::string& args, std::string* out = nullptr) {
    const std::string as = "setpriv --reuid=" + std::to_string(uid) + " --regid=" + std::to_string(gid) +
                           (groups.empty() ? " --clear-groups " : " --groups=" + groups + " ");
    return RunCommand(as + BinaryPath("dfs") + " --master " + cluster_.master_url() + " " + args, out);
  }
  // Requests without credentials, which the master does not check.
  DfsClient Admin() {
    ClientOptions options;
    options.master_url = cluster_.master_url();
    return DfsClient(options);
  }
  std::string File(const std::string& name) {
    WriteFile(T(name), "data of " + name + "\n");
    std::filesystem::permissions(T(name), std::filesystem::perms(0644));
    return T(name);
  }
  void ExpectOwner(const std::string& path, int uid, int gid) {
    auto info = Admin().StatPath(path);
    ASSERT_TRUE(info.ok()) << path << ": " << info.status().ToString();
    EXPECT_EQ(info->uid, uid) << path;
    EXPECT_EQ(info->gid, gid) << path;
  }
};

TEST_F(CliCredentialsTest, WhatAUserPutsIsOwnedByIt) {
  ASSERT_TRUE(Admin().MakeDir("home").ok());
  SetAttrRequest chown;
  chown.uid = 1000;
  chown.gid = 1000;
  ASSERT_TRUE(Admin().SetAttr("home", chown).ok());
  std::string out;
  ASSERT_EQ(CliAs(1000, 1000, "", "put " + File("a.txt") + " home/a.txt", &out), 0) << out;
  ASSERT_EQ(CliAs(1000, 1000, "", "mkdir home/sub", &out), 0) << out;
  ExpectOwner("home/a.txt", 1000, 1000);
  ExpectOwner("home/sub", 1000, 1000);
  // Its own file it reads back and removes.
  ASSERT_EQ(CliAs(1000, 1000, "", "get home/a.txt -", &out), 0) << out;
  EXPECT_NE(out.find("data of a.txt"), std::string::npos) << out;
  ASSERT_EQ(CliAs(1000, 1000, "", "rm home/a.txt", &out), 0) << out;
  // Root's CLI makes root's files, as before.
  ASSERT_EQ(cluster_.Cli("put " + File("b.txt") + " home/b.txt", &out), 0) << out;
  ExpectOwner("home/b.txt", 0, 0);
}

TEST_F(CliCredentialsTest, RefusalsAreClearErrorsWithExitSeven) {
  std::string out;
  // The root folder is root's, 0755.
  EXPECT_EQ(CliAs(1000, 1000, "", "put " + File("a.txt") + " top.txt", &out), 7) << out;
  EXPECT_NE(out.find("dfs: put top.txt: permission denied (as uid 1000, gid 1000)"), std::string::npos) << out;
  EXPECT_EQ(Admin().StatPath("top.txt").status().code(), Code::kNotFound);
  ASSERT_EQ(cluster_.Cli("put " + File("b.txt") + " b.txt", &out), 0) << out;
  EXPECT_EQ(CliAs(1000, 1000, "", "rm b.txt", &out), 7) << out;
  EXPECT_NE(out.find("dfs: rm b.txt: permission denied (as uid 1000, gid 1000)"), std::string::npos) << out;
  EXPECT_EQ(CliAs(1000, 1000, "", "mkdir d", &out), 7) << out;
  EXPECT_NE(out.find("dfs: mkdir d: permission denied"), std::string::npos) << out;
  ExpectOwner("b.txt", 0, 0);
}

TEST_F(CliCredentialsTest, SupplementaryGroupsAreSent) {
  ASSERT_TRUE(Admin().MakeDir("team", 0775).ok());
  SetAttrRequest chgrp;
  chgrp.gid = 2000;
  ASSERT_TRUE(Admin().SetAttr("team", chgrp).ok());
  std::string out;
  EXPECT_EQ(CliAs(1000, 1000, "", "put " + File("a.txt") + " team/a.txt", &out), 7) << out;
  ASSERT_EQ(CliAs(1000, 1000, "2000", "put " + File("a.txt") + " team/a.txt", &out), 0) << out;
  ExpectOwner("team/a.txt", 1000, 1000);
}

TEST(CliUnavailableTest, DeadMasterExitsFiveAndLeavesNothing) {
  TempDir tmp;
  std::string dead = "http://127.0.0.1:" + std::to_string(FreePort());
  std::string out;
  int rc = RunCommand(BinaryPath("dfs") + " --master " + dead + " --attempts 2 get f " + tmp.path() + "/f", &out);
  EXPECT_EQ(rc, 5) << out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/f"));
  EXPECT_TRUE(NoTempFilesIn(tmp.path()));
}

// A real HTTP server that serves bytes whose md5 is not the one it announces.
TEST(CliChecksumTest, CorruptDownloadExitsFourAndLeavesNothing) {
  httplib::Server liar;
  liar.Get(R"(/api/v1/files/(.+))", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Dfs-Md5", Md5::Of("the real contents"));
    res.set_content("corrupted contents", "application/octet-stream");
  });
  int port = FreePort();
  ASSERT_TRUE(liar.bind_to_port("127.0.0.1", port));
  std::thread t([&] { liar.listen_after_bind(); });
  TempDir tmp;
  std::string out;
  int rc = RunCommand(BinaryPath("dfs") + " --master http://127.0.0.1:" + std::to_string(port) + " get f " +
                          tmp.path() + "/f",
                      &out);
  liar.stop();
  t.join();
  EXPECT_EQ(rc, 4) << out;
  EXPECT_NE(out.find("md5"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path() + "/f"));
  EXPECT_TRUE(NoTempFilesIn(tmp.path()));
}

}  // namespace
}  // namespace dfs::testing
