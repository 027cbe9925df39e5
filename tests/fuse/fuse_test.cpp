// mount.dfs end to end: a real cluster (redis, master, nodes, replicator), a
// real FUSE mount, and ordinary tools (cp, cat, ls, mv, rm, mkdir, df, diff)
// run through a shell against it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/http_util.h"
#include "common/md5.h"
#include "fuse_client/dfs_fs.h"
#include "tests/support/cluster.h"
#include "tests/support/http_helpers.h"

namespace dfs::testing {
namespace {

using std::chrono::milliseconds;

// Runs a shell command; returns its exit code and appends its output to *out.
int Sh(const std::string& command, std::string* out = nullptr) {
  std::string output;
  int rc = RunCommand("bash -c '" + command + "'", &output);
  if (out) *out = output;
  return rc;
}

// Short enough that a dead master shows quickly; under ASan (several times
// slower) a 100 MiB upload's answer may take longer than that on a busy machine.
#ifdef DFS_SANITIZED
const std::string kTimeout = "30";
#else
const std::string kTimeout = "5";
#endif
constexpr int kAttempts = 2;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Bytes in the regular files of a folder (0 when it does not exist).
uint64_t BytesIn(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

bool HasFileOfSize(const std::string& dir, uint64_t size) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.file_size(ec) == size) return true;
  }
  return false;
}

class FuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions options;
    options.redis = options.replicator = true;
    options.master_args = {"--heal-interval-ms", "300", "--heal-retry-ms", "2000"};
    options.master_args.insert(options.master_args.end(), extra_master_args_.begin(), extra_master_args_.end());
    cluster_ = std::make_unique<TestCluster>(options);
    mnt_ = tmp_.path() + "/mnt";
    std::filesystem::create_directories(mnt_);
    Mount();
  }

  void TearDown() override { Unmount(); }

  void Mount(const std::string& extra_options = "") {
    mount_ = Subprocess({BinaryPath("mount.dfs"), cluster_->master_url(), mnt_, "-f", "-o",
                         "cache_dir=" + tmp_.path() + "/cache,timeout=" + kTimeout + ",attempts=" +
                             std::to_string(kAttempts) + ",attr_timeout=1" + extra_options},
                        tmp_.path() + "/mount.log");
    ASSERT_TRUE(WaitUntil([&] { return IsFuseMounted(mnt_); }, milliseconds(10000))) << ReadFile(tmp_.path() + "/mount.log");
  }

  void Unmount() {
    if (IsFuseMounted(mnt_)) RunCommand("fusermount3 -u " + mnt_);
    if (IsFuseMounted(mnt_)) RunCommand("umount -l " + mnt_);
    mount_.Stop();
  }

  std::string M(const std::string& rel) const { return mnt_ + "/" + rel; }
  // The master's count of requests answered on `route` (its metrics).
  double MasterRequests(const std::string& route, const std::string& method, const std::string& status) const {
    const std::string body = Get(cluster_->master_url(), "/metrics").body;
    const std::string series =
        "dfs_http_requests_total{route=\"" + route + "\",method=\"" + method + "\",status=\"" + status + "\"} ";
    size_t at = body.find(series);
    return at == std::string::npos ? 0.0 : std::stod(body.substr(at + series.size()));
  }
  std::string L(const std::string& rel) const { return tmp_.path() + "/" + rel; }

  std::vector<std::string> extra_master_args_;  // set by a derived fixture's constructor
  std::unique_ptr<TestCluster> cluster_;
  TempDir tmp_;
  std::string mnt_;
  Subprocess mount_;
};

TEST_F(FuseTest, CopiesFilesOfZeroOneAndHundredMiBInAndOut) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{100} << 20}) {
    std::string name = "f" + std::to_string(size);
    WriteRandomFile(L(name), size, static_cast<unsigned>(size) + 1);
    std::string out;
    ASSERT_EQ(Sh("cp " + L(name) + " " + M(name), &out), 0) << out;
    ASSERT_EQ(Sh("cmp " + L(name) + " " + M(name), &out), 0) << out;
    ASSERT_EQ(Sh("cp " + M(name) + " " + L(name + ".back") + " && cmp " + L(name) + " " + L(name + ".back"), &out), 0)
        << out;
    struct stat st {};
    ASSERT_EQ(::stat(M(name).c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), size);
    EXPECT_TRUE(S_ISREG(st.st_mode));
  }
  std::string out;
  ASSERT_EQ(Sh("echo hello > " + M("hello.txt") + " && cat " + M("hello.txt"), &out), 0);
  EXPECT_EQ(out, "hello\n");
  ASSERT_EQ(Sh("ls -l " + mnt_, &out), 0);
  EXPECT_NE(out.find(std::to_string(100 << 20)), std::string::npos) << out;
  EXPECT_NE(out.find("hello.txt"), std::string::npos) << out;
}

TEST_F(FuseTest, OverwriteAppendMoveRemoveAndDirectories) {
  std::string out;
  ASSERT_EQ(Sh("mkdir -p " + M("a/b/c") + " && ls -d " + M("a/b/c"), &out), 0) << out;
  ASSERT_EQ(Sh("echo one > " + M("a/b/f.txt") + " && echo two > " + L("two") + " && cp " + L("two") + " " +
                   M("a/b/f.txt") + " && cat " + M("a/b/f.txt"),
               &out),
            0);
  EXPECT_EQ(out, "two\n");
  ASSERT_EQ(Sh("echo three >> " + M("a/b/f.txt") + " && cat " + M("a/b/f.txt"), &out), 0);
  EXPECT_EQ(out, "two\nthree\n");
  // mv of a file, then of a whole directory.
  ASSERT_EQ(Sh("mv " + M("a/b/f.txt") + " " + M("a/g.txt") + " && cat " + M("a/g.txt"), &out), 0) << out;
  EXPECT_NE(Sh("ls " + M("a/b/f.txt")), 0);
  ASSERT_EQ(Sh("mv " + M("a") + " " + M("z") + " && cat " + M("z/g.txt") + " && ls -d " + M("z/b/c"), &out), 0)
      << out;
  EXPECT_NE(Sh("ls " + M("a")), 0);
  // rmdir refuses a folder with something in it; rm and rmdir empty it.
  EXPECT_NE(Sh("rmdir " + M("z/b"), &out), 0);
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  ASSERT_EQ(Sh("rmdir " + M("z/b/c") + " " + M("z/b") + " && rm " + M("z/g.txt") + " && rmdir " + M("z"), &out), 0)
      << out;
  ASSERT_EQ(Sh("ls -A " + mnt_, &out), 0);
  EXPECT_EQ(out, "");
  // Rename over an existing file replaces it.
  ASSERT_EQ(Sh("echo x > " + M("x") + " && echo y > " + M("y") + " && mv " + M("x") + " " + M("y") + " && cat " + M("y"),
               &out),
            0);
  EXPECT_EQ(out, "x\n");
  // Truncate, chmod and times.
  ASSERT_EQ(Sh("truncate -s 1 " + M("y") + " && chmod 600 " + M("y") + " && touch -d 2020-01-02 " + M("y"), &out), 0)
      << out;
  struct stat st {};
  ASSERT_EQ(::stat(M("y").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Sh("date -u -d @" + std::to_string(st.st_mtime) + " +%Y", &out), 0);
  EXPECT_EQ(out, "2020\n");
  // Symlinks and hard links (refused with EPERM before inodes).
  ASSERT_EQ(Sh("ln -s y " + M("link") + " && ln " + M("y") + " " + M("hard") + " && cat " + M("link") + " " + M("hard"),
               &out),
            0)
      << out;
  EXPECT_EQ(out, "xx") << "y was cut to one byte";
}

// The case-only names of the issue: `mv a b` must not take A's files along.
TEST_F(FuseTest, FoldersWhoseNamesDifferOnlyInCaseStayApart) {
  std::string out;
  ASSERT_EQ(Sh("cd " + mnt_ + " && mkdir a A && echo 1 > a/x && echo 2 > A/y && mv a b", &out), 0) << out;
  ASSERT_EQ(Sh("cd " + mnt_ + " && ls A && echo -- && ls b", &out), 0) << out;
  EXPECT_EQ(out, "y\n--\nx\n");
  ASSERT_EQ(Sh("cd " + mnt_ + " && cat A/y b/x && rm b/x && rmdir b && ls", &out), 0) << out;
  EXPECT_EQ(out, "2\n1\nA\n");
}

// POSIX through the mount: owners come from the calling process, chown and
// hard links, symlinks and fifos are real, and another user is refused what
// the mode bits refuse (as the README says to share a mount).
TEST_F(FuseTest, OwnersLinksSymlinksAndFifosBehaveAsOnALocalDisk) {
  Unmount();
  Mount(",allow_other,default_permissions,attr_timeout=0");
  ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);  // let another user reach the mount point
  std::string out;
  ASSERT_EQ(Sh("cd " + mnt_ + " && echo data > f && ln f g && ln -s f s && mkfifo p && mkdir -m 1777 shared"
               " && chown 65534:65534 f && stat -c \"%n %F %u:%g %h %a\" f g s p shared && readlink s && cat s",
               &out),
            0)
      << out;
  EXPECT_EQ(out,
            "f regular file 65534:65534 2 644\ng regular file 65534:65534 2 644\ns symbolic link 0:0 1 777\n"
            "p fifo 0:0 1 644\nshared directory 0:0 2 1777\nf\ndata\n");
  const std::string nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  ASSERT_EQ(Sh(nobody + "bash -c \"echo x > " + M("shared/mine") + " && stat -c %u:%g " + M("shared/mine") + "\"", &out),
            0)
      << out;
  EXPECT_EQ(out, "65534:65534\n") << "a new file belongs to the process that made it";
  EXPECT_NE(Sh(nobody + "touch " + M("rootfile"), &out), 0) << "the root folder is root's, 0755";
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  ASSERT_EQ(Sh("echo r > " + M("shared/rootfile")), 0);
  EXPECT_NE(Sh(nobody + "rm -f " + M("shared/rootfile"), &out), 0) << "sticky folder: not nobody's to remove";
  EXPECT_NE(Sh(nobody + "chown 0 " + M("shared/mine"), &out), 0) << "only root gives files away";
  // The content stays while a link is left.
  ASSERT_EQ(Sh("cd " + mnt_ + " && rm f && cat g && stat -c %h g && rm g s p", &out), 0) << out;
  EXPECT_EQ(out, "data\n1\n");
}

// A folder bigger than a listing page: readdir goes through the master's
// pages (1,000 entries each), one request per page, every name once.
TEST_F(FuseTest, ABigFolderListsPageByPage) {
  constexpr int kFiles = 2345;
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      for (int i = w; i < kFiles; i += 8) {
        if (PutString(cluster_->master_url(), "/api/v1/files/big/f" + std::to_string(i), "x").status != 201) ++failed;
      }
    });
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failed.load(), 0);
  auto list_requests = [&] {
    auto m = Get(cluster_->master_url(), "/metrics");
    const std::string series = "dfs_http_requests_total{route=\"/api/v1/list\",method=\"GET\",status=\"200\"} ";
    size_t at = m.body.find(series);
    return at == std::string::npos ? 0.0 : std::stod(m.body.substr(at + series.size()));
  };
  const double before = list_requests();
  std::string out;
  ASSERT_EQ(Sh("ls -1 " + M("big") + " | sort -u | wc -l", &out), 0) << out;
  EXPECT_EQ(out, std::to_string(kFiles) + "\n");
  const double requests = list_requests() - before;
  EXPECT_GE(requests, 3) << "2,345 entries are three pages";
  EXPECT_LE(requests, 4) << "one request per page, not per readdir call";
  ASSERT_EQ(Sh("ls -l " + M("big") + " | grep -c \" f[0-9]\"", &out), 0) << out;
  EXPECT_EQ(out, std::to_string(kFiles) + "\n");
}

// tar and cp -a keep what they keep on ext4: owners, modes, times, symlinks, hard links.
TEST_F(FuseTest, TarAndCpAKeepOwnersModesTimesAndLinks) {
  std::string out;
  const std::string src = L("tree");
  ASSERT_EQ(Sh("mkdir -p " + src + "/d/e && cd " + src + " && echo a > d/a && echo b > d/e/b && ln d/a d/hard"
               " && ln -s e/b d/sym && chmod 0640 d/a && chmod 0750 d/e && chown 1234:2345 d/e/b"
               " && touch -h -d 2001-02-03T04:05:06 d/sym && touch -d 2002-03-04T05:06:07 d/a d/e/b d/e d",
               &out),
            0)
      << out;
  const std::string listing = "find . -printf \"%p %y %u:%g %m %TY-%Tm-%Td %TH:%TM:%.2TS %n %l\\n\" | sort";
  std::string want;
  ASSERT_EQ(Sh("cd " + src + " && " + listing, &want), 0);
  ASSERT_EQ(Sh("tar cf " + L("t.tar") + " -C " + src + " . && mkdir " + M("x") + " && tar xpf " + L("t.tar") + " -C " +
               M("x") + " && cp -a " + src + " " + M("y"),
               &out),
            0)
      << out;
  for (const char* copy : {"x", "y"}) {
    ASSERT_EQ(Sh("cd " + M(copy) + " && " + listing, &out), 0) << out;
    EXPECT_EQ(out, want) << copy;
  }
}

TEST_F(FuseTest, RecursiveCopyOfATreeComesBackIdentical) {
  std::string out;
  ASSERT_EQ(Sh("mkdir -p " + L("tree") + " && cd " + L("tree") +
                   " && for d in 1 2 3 4; do for e in 1 2 3 4 5; do mkdir -p d$d/e$e; for f in $(seq 1 10); do "
                   "head -c $((d*e*f*37)) /dev/urandom > d$d/e$e/f$f; done; done; done && find . -type f | wc -l",
               &out),
            0);
  EXPECT_EQ(out, "200\n");
  ASSERT_EQ(Sh("cp -r " + L("tree") + " " + M("tree"), &out), 0) << out;
  ASSERT_EQ(Sh("diff -r " + L("tree") + " " + M("tree"), &out), 0) << out;
  ASSERT_EQ(Sh("cp -r " + M("tree") + " " + L("back") + " && diff -r " + L("tree") + " " + L("back"), &out), 0) << out;
  ASSERT_EQ(Sh("ls -lR " + M("tree") + " | grep -c ^-", &out), 0);
  EXPECT_EQ(out, "200\n");
}

TEST_F(FuseTest, FilesFromTheCliShowInTheMountAndBack) {
  std::string out;
  WriteRandomFile(L("cli.bin"), 12345, 5);
  ASSERT_EQ(cluster_->Cli("put " + L("cli.bin") + " docs/cli.bin", &out), 0) << out;
  ASSERT_EQ(Sh("cmp " + L("cli.bin") + " " + M("docs/cli.bin"), &out), 0) << out;
  ASSERT_EQ(Sh("cp " + L("cli.bin") + " " + M("docs/mount.bin"), &out), 0) << out;
  ASSERT_EQ(cluster_->Cli("get docs/mount.bin " + L("fetched.bin"), &out), 0) << out;
  EXPECT_EQ(Sh("cmp " + L("cli.bin") + " " + L("fetched.bin")), 0);
}

// df reports what the master's /api/v1/cluster says (capacity and free of
// the nodes that are up), in statfs's 4 KiB blocks.
TEST_F(FuseTest, DfShowsTheClustersCapacityAndFreeSpace) {
  auto cluster = [&] { return Get(cluster_->master_url(), "/api/v1/cluster").json(); };
  const nlohmann::json before = cluster();
  std::string out;
  ASSERT_EQ(Sh("df -B1 --output=size,avail " + mnt_ + " | tail -1", &out), 0) << out;
  const nlohmann::json after = cluster();
  uint64_t size = 0, avail = 0;
  std::istringstream(out) >> size >> avail;
  auto in_range = [&](uint64_t v, const char* key) {
    uint64_t a = before.value(key, uint64_t{0}) / 4096 * 4096, b = after.value(key, uint64_t{0}) / 4096 * 4096;
    return v >= std::min(a, b) && v <= std::max(a, b);
  };
  ASSERT_GT(before.value("capacity", uint64_t{0}), 0u) << before.dump();
  EXPECT_TRUE(in_range(size, "capacity")) << out << before.dump() << after.dump();
  EXPECT_TRUE(in_range(avail, "free")) << out << before.dump() << after.dump();
}

TEST_F(FuseTest, EightParallelWritersAndReadersAllVerify) {
  std::string out;
  ASSERT_EQ(Sh("cd " + tmp_.path() + " && for i in $(seq 1 8); do head -c $((i*300000)) /dev/urandom > p$i; done", &out),
            0);
  ASSERT_EQ(Sh("cd " + tmp_.path() + " && for i in $(seq 1 8); do cp p$i " + mnt_ + "/p$i & done; wait", &out), 0)
      << out;
  ASSERT_EQ(Sh("cd " + tmp_.path() + " && for i in $(seq 1 8); do (cp " + mnt_ + "/p$i r$i; cp p$i " + mnt_ +
                   "/q$i) & done; wait",
               &out),
            0)
      << out;
  ASSERT_EQ(Sh("cd " + tmp_.path() + " && md5sum p? | sed s/p/X/ > a && md5sum r? | sed s/r/X/ > b && "
                   "(cd " + mnt_ + " && md5sum q? | sed s/q/X/) > c && diff a b && diff a c",
               &out),
            0)
      << out;
}

TEST_F(FuseTest, ReadsSurviveADeadPrimaryAndFailCleanlyWhenEveryCopyIsBad) {
  std::string out;
  WriteRandomFile(L("r.bin"), 200000, 9);
  ASSERT_EQ(Sh("cp " + L("r.bin") + " " + M("r.bin")), 0);
  auto meta = [&] { return Get(cluster_->master_url(), "/api/v1/meta/r.bin").json(); };
  ASSERT_TRUE(WaitUntil([&] { return meta().value("good_copies", 0) == 3; }, milliseconds(30000)));
  const nlohmann::json m = meta();
  std::string primary = m["primary"]["node_id"];
  for (int i = 0; i < cluster_->node_count(); ++i) {
    if (cluster_->node_id(i) == primary) cluster_->KillNode(i);
  }
  std::filesystem::remove_all(tmp_.path() + "/cache/blobs");  // no local copy to fall back on
  std::filesystem::create_directories(tmp_.path() + "/cache/blobs");
  ASSERT_EQ(Sh("cmp " + L("r.bin") + " " + M("r.bin"), &out), 0) << out;

  // Every copy corrupt (the dead node's too): open fails with EIO, promptly.
  WriteRandomFile(L("c.bin"), 50000, 10);
  ASSERT_EQ(Sh("cp " + L("c.bin") + " " + M("c.bin"), &out), 0) << out;
  auto cmeta = [&] { return Get(cluster_->master_url(), "/api/v1/meta/c.bin").json(); };
  ASSERT_TRUE(WaitUntil([&] { return cmeta().value("good_copies", 0) == 2; }, milliseconds(30000)));
  const nlohmann::json cm = cmeta();
  for (int i = 0; i < cluster_->node_count(); ++i) {
    std::string blob = cluster_->blob_path(i, cm["blob_id"]);
    if (std::filesystem::exists(blob)) WriteRandomFile(blob, 50000, 11);
  }
  std::filesystem::remove_all(tmp_.path() + "/cache/blobs");
  std::filesystem::create_directories(tmp_.path() + "/cache/blobs");
  EXPECT_NE(Sh("timeout 60 cat " + M("c.bin") + " > /dev/null", &out), 0);
  EXPECT_NE(out.find("Input/output error"), std::string::npos) << out;
  EXPECT_EQ(Sh("ls " + mnt_ + " > /dev/null"), 0);  // the mount still answers
}

TEST_F(FuseTest, DeadMasterGivesErrorsNotHangsAndUnmountLeavesNoProcess) {
  std::string out;
  ASSERT_EQ(Sh("echo hi > " + M("f")), 0);
  cluster_->KillMaster();
  std::this_thread::sleep_for(milliseconds(1200));  // past attr_timeout: nothing cached
  // Failing within the mount's bound (timeout x attempts, doubled for a busy
  // machine) is the point: `timeout` only keeps a hang from hanging the test.
  const double bound = 2 * std::stod(kTimeout) * kAttempts;
  auto start = std::chrono::steady_clock::now();
  int rc = Sh("timeout 60 ls -l " + mnt_ + "/", &out);
  EXPECT_LT(SecondsSince(start), bound) << out;
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(rc, 124) << "ls hung until timeout killed it: " << out;
  start = std::chrono::steady_clock::now();
  rc = Sh("timeout 60 bash -c \"echo x > " + M("g") + "\"", &out);
  EXPECT_LT(SecondsSince(start), bound) << out;
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(rc, 124) << out;
  cluster_->StartMaster();
  ASSERT_TRUE(WaitUntil([&] { return Sh("cat " + M("f")) == 0; }, milliseconds(15000)));

  ASSERT_EQ(RunCommand("fusermount3 -u " + mnt_), 0);
  EXPECT_FALSE(IsFuseMounted(mnt_));
  EXPECT_TRUE(WaitUntil([&] { return !mount_.running(); }, milliseconds(10000)));
}

// The nodes die after the file was opened and written: the upload at close
// fails, so cp must fail (EIO) and the master must not have the file.
TEST_F(FuseTest, AnUploadFailingAtCloseMakesCpFail) {
  std::string cp_out;
  int cp_rc = -1;
  std::thread cp([&] {
    cp_rc = Sh("(head -c 300000 /dev/urandom; sleep 3) | cp /dev/stdin " + M("lost.bin"), &cp_out);
  });
  bool open = WaitUntil([&] { return Sh("ls " + M("lost.bin")) == 0; }, milliseconds(10000));
  for (int i = 0; i < cluster_->node_count(); ++i) cluster_->KillNode(i);
  cp.join();
  ASSERT_TRUE(open);
  EXPECT_NE(cp_rc, 0) << cp_out;
  EXPECT_NE(cp_out.find("Input/output error"), std::string::npos) << cp_out;
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/meta/lost.bin").status, 404);
}

// A rename issued while cp's close is uploading the new file: the data ends
// under the new name, nothing under the old. (The kernel holds this rename
// back until the flush returns, so this checks the outcome end to end;
// FuseDaemonTest below reaches the daemon-side race itself.)
TEST_F(FuseTest, RenameDuringTheUploadOfANewFileKeepsTheDataUnderTheNewName) {
  Unmount();
  Mount(",attr_timeout=60");
  const size_t size = size_t{100} << 20;
  WriteRandomFile(L("big"), size, 21);
  std::string cp_out, out;
  int cp_rc = -1;
  std::thread cp([&] { cp_rc = Sh("cp " + L("big") + " " + M("old.bin"), &cp_out); });
  // All bytes spooled: cp is in close(), which uploads.
  bool spooled = WaitUntil([&] { return HasFileOfSize(tmp_.path() + "/cache/spool", size); }, milliseconds(60000));
  int mv_rc = Sh("perl -e \"rename(q(" + M("old.bin") + "), q(" + M("new.bin") + ")) or exit 1\"", &out);
  cp.join();
  ASSERT_TRUE(spooled);
  EXPECT_EQ(mv_rc, 0) << out;
  EXPECT_EQ(cp_rc, 0) << cp_out;
  EXPECT_EQ(Sh("cmp " + L("big") + " " + M("new.bin"), &out), 0) << out;
  EXPECT_NE(Sh("ls " + M("old.bin")), 0);
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/meta/old.bin").status, 404);
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/meta/new.bin").json().value("size", uint64_t{0}), size);
}

// While one program's close uploads a big file, other programs' stats,
// listings, opens and small writes go on (the mount serves many requests at
// once and an upload holds only its own file). Checked by order, not time:
// all of that finishes while the upload is still running; when the upload
// wins the race (a fast machine), there is nothing to check.
TEST_F(FuseTest, ABigUploadDoesNotHoldUpOtherProgramsMetadataCalls) {
  const size_t size = size_t{200} << 20;
  WriteRandomFile(L("big"), size, 22);
  ASSERT_EQ(Sh("echo small > " + M("other.txt")), 0);
  std::atomic<bool> cp_done{false};
  int cp_rc = -1;
  std::string cp_out, out;
  std::thread cp([&] {
    cp_rc = Sh("cp " + L("big") + " " + M("big.bin"), &cp_out);
    cp_done = true;
  });
  const bool spooled =
      WaitUntil([&] { return HasFileOfSize(tmp_.path() + "/cache/spool", size); }, milliseconds(60000));
  bool finished_first = false;
  if (spooled && !cp_done) {
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(Sh("stat " + M("other.txt") + " > /dev/null && ls -l " + M("") + " > /dev/null && cat " +
                       M("other.txt") + " > /dev/null && echo " + std::to_string(i) + " > " + M("n.txt"),
                   &out),
                0)
          << out;
    }
    finished_first = !cp_done;
  }
  cp.join();
  ASSERT_TRUE(spooled);
  EXPECT_EQ(cp_rc, 0) << cp_out;
  EXPECT_EQ(Sh("cmp " + L("big") + " " + M("big.bin"), &out), 0) << out;
  EXPECT_EQ(Sh("cat " + M("n.txt"), &out), 0);
  if (!finished_first) GTEST_SKIP() << "the upload finished before the other calls: nothing shows they overlapped";
}

// A rename the master refuses (here: it is down) leaves the open file as it
// was: it is still uploaded under its own name at close. Long-lived
// attributes let the kernel pass the rename on without asking the master;
// the writer is one subshell (a builtin's `>&3` closes a dup: an upload).
TEST_F(FuseTest, ARefusedRenameLeavesTheOpenFileAlone) {
  Unmount();
  Mount(",attr_timeout=30");
  std::string out, writer_out;
  ASSERT_EQ(Sh("echo one > " + M("h.txt") + " && echo old > " + M("h2.txt") + " && ls -l " + mnt_, &out), 0) << out;
  int writer_rc = -1;
  std::thread writer([&] {
    writer_rc = Sh("(echo two; until [ -e " + L("go") + " ]; do sleep 0.1; done) >> " + M("h.txt"), &writer_out);
  });
  bool open = WaitUntil([&] { return HasFileOfSize(tmp_.path() + "/cache/spool", 8); }, milliseconds(10000));
  cluster_->KillMaster();
  EXPECT_NE(Sh("mv " + M("h.txt") + " " + M("h2.txt"), &out), 0) << out;
  cluster_->StartMaster();
  std::ofstream(L("go")).put('\n');
  writer.join();
  ASSERT_TRUE(open);
  EXPECT_EQ(writer_rc, 0) << writer_out;
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/h.txt").body, "one\ntwo\n");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/h2.txt").body, "old\n");
}

// A change inside a file uploads the bytes that changed (a range write), not
// the file: counted from the master's received body bytes.
TEST_F(FuseTest, AChangeInsideAFileUploadsOnlyTheChangedBytes) {
  const std::string url = cluster_->master_url();
  auto received = [&] {
    auto m = Get(url, "/metrics");
    double total = 0;
    const std::string series = "dfs_http_received_bytes_total{route=\"/api/v1/files\"} ";
    if (size_t at = m.body.find(series); at != std::string::npos) total = std::stod(m.body.substr(at + series.size()));
    return total;
  };
  const size_t size = size_t{3} << 20;
  WriteRandomFile(L("big"), size, 41);
  std::string out;
  ASSERT_EQ(Sh("cp " + L("big") + " " + M("big"), &out), 0) << out;
  const double before = received();
  ASSERT_EQ(Sh("printf 4096bytes | dd of=" + M("big") + " bs=1 seek=1000000 conv=notrunc status=none", &out), 0)
      << out;
  ASSERT_EQ(Sh("printf 4096bytes | dd of=" + L("big") + " bs=1 seek=1000000 conv=notrunc status=none", &out), 0);
  const double changed = received() - before;
  EXPECT_GT(changed, 0);
  EXPECT_LT(changed, 64 * 1024) << "a 9-byte change sent " << changed << " bytes, not the 3 MiB file";
  ASSERT_EQ(Sh("echo appended >> " + M("big") + " && echo appended >> " + L("big"), &out), 0) << out;
  EXPECT_LT(received() - before, 128 * 1024) << "an append sends what it appends";
  EXPECT_EQ(Get(url, "/api/v1/files/big").body, ReadFile(L("big"))) << "the master has the changed file";
  EXPECT_EQ(Sh("cmp " + L("big") + " " + M("big"), &out), 0) << out;
}

// An open file is an inode, not a name (POSIX): another mount renaming it
// or removing it while it is open here does not redirect or resurrect what
// is written here, and a reader here keeps reading what it opened.
TEST_F(FuseTest, AFileOpenHereFollowsRenamesAndUnlinksMadeInAnotherMount) {
  const std::string mnt2 = tmp_.path() + "/mnt2";
  std::filesystem::create_directories(mnt2);
  Subprocess other({BinaryPath("mount.dfs"), cluster_->master_url(), mnt2, "-f", "-o",
                    "cache_dir=" + tmp_.path() + "/cache2,attr_timeout=0"},
                   tmp_.path() + "/mount2.log");
  struct Unmount2 {
    std::string dir;
    ~Unmount2() {
      if (IsFuseMounted(dir)) RunCommand("fusermount3 -u " + dir);
      if (IsFuseMounted(dir)) RunCommand("umount -l " + dir);
    }
  } unmount2{mnt2};
  ASSERT_TRUE(WaitUntil([&] { return IsFuseMounted(mnt2); }, milliseconds(10000))) << ReadFile(tmp_.path() + "/mount2.log");
  const std::string url = cluster_->master_url();
  std::string out;
  ASSERT_EQ(Sh("echo one > " + M("moved") + " && echo one > " + M("removed") + " && echo kept > " + M("read"), &out), 0);
  const int moved = ::open(M("moved").c_str(), O_RDWR), removed = ::open(M("removed").c_str(), O_RDWR);
  const int reader = ::open(M("read").c_str(), O_RDONLY);
  ASSERT_TRUE(moved >= 0 && removed >= 0 && reader >= 0);
  ASSERT_EQ(::rename((mnt2 + "/moved").c_str(), (mnt2 + "/elsewhere").c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(::unlink((mnt2 + "/removed").c_str()), 0);
  ASSERT_EQ(::unlink((mnt2 + "/read").c_str()), 0);
  ASSERT_EQ(::pwrite(moved, "two\n", 4, 0), 4);
  ASSERT_EQ(::pwrite(removed, "two\n", 4, 0), 4);
  EXPECT_EQ(::close(moved), 0);
  EXPECT_EQ(::close(removed), 0);
  char buf[16] = {};
  EXPECT_EQ(::pread(reader, buf, sizeof buf, 0), 5);
  EXPECT_STREQ(buf, "kept\n");
  ::close(reader);
  EXPECT_EQ(Get(url, "/api/v1/files/elsewhere").body, "two\n") << "written where the file now is";
  EXPECT_EQ(Get(url, "/api/v1/meta/moved").status, 404) << "not under the name it was opened by";
  EXPECT_EQ(Get(url, "/api/v1/meta/removed").status, 404) << "an unlinked file is not brought back";
  EXPECT_EQ(Sh("cat " + mnt2 + "/elsewhere", &out), 0);
  EXPECT_EQ(out, "two\n");
  // Every handle was closed: the removed files' content is gone on the master.
  EXPECT_TRUE(WaitUntil([&] { return Get(url, "/api/v1/cluster").json().value("files", -1) == 1; }, milliseconds(10000)))
      << Get(url, "/api/v1/cluster").body;
}

// Files being written here can be opened by others: readers see the bytes
// written so far, another writer (>>) shares them. The writer is one
// subshell whose stdout stays open (a builtin's `>&3` would dup and close,
// and every close uploads).
TEST_F(FuseTest, AFileStillOpenForWritingCanBeReadAndAppendedTo) {
  std::string out;
  const std::string w = M("w.txt");
  ASSERT_EQ(Sh("(echo one; until [ -e " + L("go") + " ]; do sleep 0.1; done; echo two; sleep 2) > " + w +
                   " & sleep 1; cat " + w + "; touch " + L("go") + "; sleep 1; cat " + w + "; echo three >> " + w +
                   "; wait; cat " + w,
               &out),
            0)
      << out;
  EXPECT_EQ(out, "one\none\ntwo\none\ntwo\nthree\n");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/w.txt").body, "one\ntwo\nthree\n");
}

TEST_F(FuseTest, TruncateOfAnOpenFileAndInPlaceWrites) {
  std::string out;
  // ftruncate (truncate(1) opens the file) and truncate(2) by path, while
  // another fd has it open for writing.
  ASSERT_EQ(Sh("echo 0123456789 > " + M("t") + " && exec 3<>" + M("t") + " && printf AB >&3 && truncate -s 6 " +
                   M("t") + " && cat " + M("t") + " && echo && perl -e \"truncate(q(" + M("t") +
                   "), 3) or exit 1\" && exec 3>&- && cat " + M("t"),
               &out),
            0)
      << out;
  EXPECT_EQ(out, "AB2345\nAB2");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/t").body, "AB2");
  // dd conv=notrunc writes in the middle of an existing file.
  ASSERT_EQ(Sh("printf 0123456789 > " + M("d") + " && printf XY | dd of=" + M("d") +
                   " bs=1 seek=3 conv=notrunc status=none && cat " + M("d"),
               &out),
            0)
      << out;
  EXPECT_EQ(out, "012XY56789");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/d").body, "012XY56789");
  // truncate(2) by path of a file nobody has open.
  ASSERT_EQ(Sh("perl -e \"truncate(q(" + M("d") + "), 5) or exit 1\" && cat " + M("d"), &out), 0) << out;
  EXPECT_EQ(out, "012XY");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/files/d").body, "012XY");
}

TEST_F(FuseTest, MkdirKeepsItsModeAndLongNamesAreTooLong) {
  std::string out;
  ASSERT_EQ(Sh("mkdir -m 700 " + M("private") + " && stat -c %a " + M("private"), &out), 0) << out;
  EXPECT_EQ(out, "700\n");
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/stat/private").json().value("mode", 0), 0700);
  const std::string long_name(256, 'n');
  EXPECT_NE(Sh("touch " + M(long_name), &out), 0);
  EXPECT_NE(out.find("File name too long"), std::string::npos) << out;
  EXPECT_NE(Sh("mkdir " + M(long_name), &out), 0);
  EXPECT_NE(out.find("File name too long"), std::string::npos) << out;
  EXPECT_EQ(Sh("touch " + M(std::string(255, 'n'))), 0);
}

// Reading more than cache_size of files evicts the least recently used
// copies: the cache folder stays within the bound.
TEST_F(FuseTest, TheCacheStaysUnderCacheSize) {
  Unmount();
  Mount(",cache_size=1M");
  const uint64_t limit = 1 << 20;
  const std::string blobs = tmp_.path() + "/cache/blobs";
  std::string out;
  for (int i = 0; i < 6; ++i) {
    std::string name = "c" + std::to_string(i);
    WriteRandomFile(L(name), 400000, 100 + i);
    ASSERT_EQ(cluster_->Cli("put " + L(name) + " " + name, &out), 0) << out;
    ASSERT_EQ(Sh("cmp " + L(name) + " " + M(name), &out), 0) << out;
    EXPECT_LE(BytesIn(blobs), limit) << "after reading " << name;
  }
  EXPECT_GT(BytesIn(blobs), 0u);
  // Evicted copies are fetched again.
  ASSERT_EQ(Sh("cmp " + L("c0") + " " + M("c0"), &out), 0) << out;
  EXPECT_LE(BytesIn(blobs), limit);
}

// The read path by chunks: a master cutting files into 1 MiB chunks, files
// stored through the CLI (so the mount has nothing of them cached) and
// fully replicated before anything is measured, and the bytes the nodes
// serve counted from their /metrics.
class FuseChunkReadTest : public FuseTest {
 protected:
  static constexpr uint64_t kChunk = 1 << 20;
  static constexpr uint64_t kFile = 8 * kChunk;
  FuseChunkReadTest() { extra_master_args_ = {"--chunk-size", std::to_string(kChunk)}; }

  // Stores a random file of `size` bytes as `name` through the CLI; waits until every chunk has all its copies.
  void StoreFile(const std::string& name, uint64_t size, unsigned seed) {
    WriteRandomFile(L(name), size, seed);
    std::string out;
    ASSERT_EQ(cluster_->Cli("put " + L(name) + " " + name, &out), 0) << out;
    ASSERT_TRUE(WaitUntil([&] { return Meta(name).value("fully_replicated", false); }, milliseconds(60000)))
        << Meta(name).dump();
    ASSERT_EQ(Meta(name)["chunks"].size(), (size + kChunk - 1) / kChunk);
  }
  nlohmann::json Meta(const std::string& name) { return Get(cluster_->master_url(), "/api/v1/meta/" + name).json(); }

  // The sum over the nodes of the first metric whose line starts with `series` (up to its labels' end).
  uint64_t SumOverNodes(const std::string& series) {
    uint64_t total = 0;
    for (int i = 0; i < cluster_->node_count(); ++i) {
      const std::string body = Get(cluster_->node_url(i), "/metrics").body;
      if (size_t at = body.find(series); at != std::string::npos) {
        const size_t value = body.find("} ", at);
        if (value != std::string::npos) total += static_cast<uint64_t>(std::stod(body.substr(value + 2)));
      }
    }
    return total;
  }
  // Response bytes every node has sent for /blobs (reads of chunk copies).
  uint64_t NodeBytesSent() { return SumOverNodes("dfs_http_sent_bytes_total{route=\"/blobs\"}"); }

  std::string Blobs() const { return tmp_.path() + "/cache/blobs"; }
  // Waits until no chunk is being fetched into the cache (no part file).
  bool NoFetchInFlight() {
    return WaitUntil(
        [&] {
          std::error_code ec;
          for (const auto& e : std::filesystem::directory_iterator(Blobs(), ec)) {
            if (e.path().filename().string().rfind(".part-", 0) == 0) return false;
          }
          return true;
        },
        milliseconds(30000));
  }
  // `count` bytes at `offset` of a file, read with one dd.
  int ReadBytes(const std::string& file, uint64_t offset, uint64_t count, std::string* out) {
    return Sh("dd if=" + file + " iflag=skip_bytes,count_bytes skip=" + std::to_string(offset) +
                  " count=" + std::to_string(count) + " bs=" + std::to_string(count) + " status=none 2>&1",
              out);
  }
};

TEST_F(FuseChunkReadTest, AFewBytesInTheMiddleOfABigFileFetchOnlyTheChunkUnderThem) {
  StoreFile("big", kFile, 51);
  const uint64_t before = NodeBytesSent();
  std::string got, want;
  const uint64_t offset = 3 * kChunk + 300000;  // inside chunk 3
  ASSERT_EQ(ReadBytes(M("big"), offset, 100, &got), 0) << got;
  ASSERT_EQ(ReadBytes(L("big"), offset, 100, &want), 0);
  EXPECT_EQ(got, want);
  ASSERT_TRUE(NoFetchInFlight());
  const uint64_t sent = NodeBytesSent() - before;
  EXPECT_GE(sent, kChunk) << "the chunk is fetched whole (its md5 is checked)";
  EXPECT_LT(sent, 2 * kChunk) << "only the chunk under the bytes read, of an " << kFile << "-byte file";
  EXPECT_EQ(BytesIn(Blobs()), kChunk) << "one verified chunk in the cache";
}

TEST_F(FuseChunkReadTest, HeadOfALargeFileLeavesAboutOneChunkInTheCache) {
  StoreFile("big", kFile, 52);
  const uint64_t before = NodeBytesSent();
  std::string out;
  ASSERT_EQ(Sh("head -c 100 " + M("big") + " | cmp - <(head -c 100 " + L("big") + ")", &out), 0) << out;
  ASSERT_TRUE(NoFetchInFlight());
  EXPECT_LE(BytesIn(Blobs()), 2 * kChunk) << "the first chunk, and at most one read ahead";
  EXPECT_LE(NodeBytesSent() - before, 2 * kChunk + 65536);
}

// Reading a file four times the cache's size: the cache folder (verified
// chunks and the ones being fetched) never holds more than cache_size.
TEST_F(FuseChunkReadTest, TheChunkCacheStaysUnderCacheSizeWhileABiggerFileIsRead) {
  Unmount();
  Mount(",cache_size=2M");
  StoreFile("big", kFile, 53);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> most{0};
  std::thread sampler([&] {
    while (!done) {
      most = std::max<uint64_t>(most, BytesIn(Blobs()));
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  std::string out;
  int rc = Sh("cmp " + L("big") + " " + M("big"), &out);
  done = true;
  sampler.join();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_LE(most.load(), 2 * kChunk);
  EXPECT_GT(most.load(), 0u);
  // Read again with 4 chunks of room: read-ahead runs, and the bound still holds.
  Unmount();
  Mount(",cache_size=4M");
  most = 0;
  done = false;
  std::thread sampler2([&] {
    while (!done) {
      most = std::max<uint64_t>(most, BytesIn(Blobs()));
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  rc = Sh("cmp " + L("big") + " " + M("big"), &out);
  ASSERT_TRUE(NoFetchInFlight());
  done = true;
  sampler2.join();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_LE(most.load(), 4 * kChunk);
}

// Every copy of chunk 2 corrupt on disk, which the master does not know yet
// when the file is opened: reads touching that chunk fail with EIO, reads of
// the other chunks return the right bytes. (Once the nodes have reported the
// copies bad, the master knows the chunk has no good copy: a new open fails.)
TEST_F(FuseChunkReadTest, ACorruptChunkFailsOnlyTheReadsThatTouchIt) {
  StoreFile("big", kFile, 54);
  const std::string blob = Meta("big")["chunks"][2]["blob_id"];
  int corrupted = 0;
  for (int i = 0; i < cluster_->node_count(); ++i) {
    const std::string path = cluster_->blob_path(i, blob);
    if (!std::filesystem::exists(path)) continue;
    WriteRandomFile(path, kChunk, 60 + i);
    ++corrupted;
  }
  ASSERT_EQ(corrupted, 3) << "three copies of the chunk";
  UniqueFd mounted(::open(M("big").c_str(), O_RDONLY)), local(::open(L("big").c_str(), O_RDONLY));
  ASSERT_TRUE(mounted && local) << std::strerror(errno);
  std::string got(4096, '\0'), want(4096, '\0');
  EXPECT_EQ(::pread(mounted.get(), got.data(), got.size(), 2 * kChunk + 4096), -1);
  EXPECT_EQ(errno, EIO);
  for (uint64_t offset : {uint64_t{0}, kChunk + 10, 5 * kChunk + 12345, kFile - 4096}) {
    ASSERT_EQ(::pread(mounted.get(), got.data(), got.size(), static_cast<off_t>(offset)), 4096)
        << "offset " << offset << ": " << std::strerror(errno);
    ASSERT_EQ(::pread(local.get(), want.data(), want.size(), static_cast<off_t>(offset)), 4096);
    EXPECT_EQ(got, want) << "offset " << offset;
  }
  EXPECT_EQ(::pread(mounted.get(), got.data(), got.size(), 3 * kChunk - 100), -1) << "the end of chunk 2 too";
  EXPECT_EQ(errno, EIO);
  std::string out;
  EXPECT_NE(Sh("cat " + M("big") + " > /dev/null", &out), 0);
  EXPECT_NE(out.find("Input/output error"), std::string::npos) << out;
  EXPECT_EQ(Sh("ls " + mnt_ + " > /dev/null"), 0);  // the mount still answers
}

// Re-reads of an unchanged file come from the page cache (keep_cache): with
// a cache too small for the file, a second cat fetches nothing from the
// nodes. A change made elsewhere (a range write through the HTTP API, which
// leaves the md5 pending) is read at the next open.
TEST_F(FuseChunkReadTest, ReReadsOfAnUnchangedFileHitThePageCacheAndChangesAreSeen) {
  Unmount();
  Mount(",cache_size=2M");
  StoreFile("big", kFile, 55);
  std::string out;
  ASSERT_EQ(Sh("cmp " + L("big") + " " + M("big"), &out), 0) << out;
  ASSERT_TRUE(NoFetchInFlight());
  const uint64_t before = NodeBytesSent();
  ASSERT_EQ(Sh("cmp " + L("big") + " " + M("big"), &out), 0) << out;
  EXPECT_LT(NodeBytesSent() - before, kChunk) << "the second read came from the page cache";
  // Changed through the master: the md5 is pending, each chunk still has its own.
  auto put = PutString(cluster_->master_url(), "/api/v1/files/big?offset=" + std::to_string(5 * kChunk + 7), "changed!");
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_EQ(Sh("printf changed! | dd of=" + L("big") + " bs=1 seek=" + std::to_string(5 * kChunk + 7) +
                   " conv=notrunc status=none",
               &out),
            0);
  ASSERT_EQ(Sh("cmp " + L("big") + " " + M("big"), &out), 0) << out;
}

// A file open here and overwritten through the CLI (same size, new chunks):
// reads of chunks not read yet return its new bytes, never an EIO for a
// stale chunk list or a mix within a chunk.
TEST_F(FuseChunkReadTest, AFileOverwrittenElsewhereWhileOpenReadsItsNewContent) {
  StoreFile("big", kFile, 57);
  UniqueFd mounted(::open(M("big").c_str(), O_RDONLY));
  ASSERT_TRUE(mounted) << std::strerror(errno);
  std::string got(4096, '\0'), want(4096, '\0');
  ASSERT_EQ(::pread(mounted.get(), got.data(), got.size(), 0), 4096);
  WriteRandomFile(L("new"), kFile, 58);
  std::string out;
  ASSERT_EQ(cluster_->Cli("put --overwrite " + L("new") + " big", &out), 0) << out;
  UniqueFd local(::open(L("new").c_str(), O_RDONLY));
  ASSERT_EQ(::pread(mounted.get(), got.data(), got.size(), 6 * kChunk + 8192), 4096) << std::strerror(errno);
  ASSERT_EQ(::pread(local.get(), want.data(), want.size(), 6 * kChunk + 8192), 4096);
  EXPECT_EQ(got, want);
}

// verify=open keeps the old way: the whole file is fetched and checked when it is opened.
TEST_F(FuseChunkReadTest, VerifyOpenFetchesTheWholeFileAtOpen) {
  Unmount();
  Mount(",verify=open");
  StoreFile("big", kFile, 56);
  std::string got, want;
  ASSERT_EQ(ReadBytes(M("big"), 3 * kChunk, 100, &got), 0) << got;
  ASSERT_EQ(ReadBytes(L("big"), 3 * kChunk, 100, &want), 0);
  EXPECT_EQ(got, want);
  EXPECT_TRUE(HasFileOfSize(Blobs(), kFile)) << "the whole file was cached at open";
  std::string out;
  EXPECT_EQ(Sh("cmp " + L("big") + " " + M("big"), &out), 0) << out;
}

// The write path by chunks (docs/mount.md, "Writing"): over the same
// 1 MiB-chunk cluster, what the mount sends is counted from the request
// bytes the master and the nodes received (dfs_http_received_bytes_total),
// once every chunk has its copies again.
class FuseChunkWriteTest : public FuseChunkReadTest {
 protected:
  static constexpr int kCopies = 3;
  // No background merging of appended chunks while bytes are counted (FuseCompactionTest has it).
  FuseChunkWriteTest() { extra_master_args_.insert(extra_master_args_.end(), {"--compact-after-ms", "3600000"}); }

  // Request body bytes a server has received, all routes.
  static uint64_t BytesReceived(const std::string& url) {
    uint64_t total = 0;
    const std::string series = "dfs_http_received_bytes_total{";
    const std::string body = Get(url, "/metrics").body;
    for (size_t at = body.find(series); at != std::string::npos; at = body.find(series, at + 1)) {
      const size_t value = body.find("} ", at);
      if (value != std::string::npos) total += static_cast<uint64_t>(std::stod(body.substr(value + 2)));
    }
    return total;
  }
  uint64_t NodeBytesReceived() {
    uint64_t total = 0;
    for (int i = 0; i < cluster_->node_count(); ++i) total += BytesReceived(cluster_->node_url(i));
    return total;
  }
  uint64_t MasterBytesReceived() { return BytesReceived(cluster_->master_url()); }
  // Blobs stored on all the nodes (their dfs_storage_blobs gauges).
  uint64_t NodeBlobs() { return SumOverNodes("dfs_storage_blobs{"); }
  // Writes `data` to a new file `name` here and in the local reference, in
  // order, kChunk at a time; the mounted fd stays open.
  UniqueFd WriteNew(const std::string& name, const std::string& data) {
    UniqueFd fd(::open(M(name).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644));
    EXPECT_TRUE(fd) << std::strerror(errno);
    WriteFile(L(name), data);
    for (uint64_t at = 0; at < data.size(); at += kChunk) {
      const size_t n = std::min<uint64_t>(kChunk, data.size() - at);
      EXPECT_EQ(::write(fd.get(), data.data() + at, n), static_cast<ssize_t>(n)) << std::strerror(errno);
    }
    return fd;
  }
  // Every chunk of `name` has all its copies (the replicator is done with it).
  bool Replicated(const std::string& name) {
    return WaitUntil([&] { return Meta(name).value("fully_replicated", false); }, milliseconds(60000));
  }

  // A second mount of the cluster on `dir`, with its own cache.
  Subprocess MountAnother(const std::string& dir) {
    std::filesystem::create_directories(dir);
    Subprocess mount({BinaryPath("mount.dfs"), cluster_->master_url(), dir, "-f", "-o",
                      "cache_dir=" + dir + ".cache,attr_timeout=1"},
                     dir + ".log");
    EXPECT_TRUE(WaitUntil([&] { return IsFuseMounted(dir); }, milliseconds(10000))) << ReadFile(dir + ".log");
    return mount;
  }
  static void UnmountAnother(const std::string& dir, Subprocess& mount) {
    RunCommand("fusermount3 -u " + dir);
    if (IsFuseMounted(dir)) RunCommand("umount -l " + dir);
    mount.Stop();
  }

  // The same operations on a file through the mount and on a local reference copy.
  struct Twin {
    UniqueFd mounted, local;
    void Write(uint64_t offset, const std::string& data) {
      ASSERT_EQ(::pwrite(mounted.get(), data.data(), data.size(), static_cast<off_t>(offset)),
                static_cast<ssize_t>(data.size()))
          << std::strerror(errno);
      ASSERT_EQ(::pwrite(local.get(), data.data(), data.size(), static_cast<off_t>(offset)),
                static_cast<ssize_t>(data.size()));
    }
    void Truncate(uint64_t size) {
      ASSERT_EQ(::ftruncate(mounted.get(), static_cast<off_t>(size)), 0) << std::strerror(errno);
      ASSERT_EQ(::ftruncate(local.get(), static_cast<off_t>(size)), 0);
    }
    void ExpectSame(uint64_t offset, size_t size) {
      std::string got(size, '\0'), want(size, '\0');
      ssize_t n = ::pread(mounted.get(), got.data(), size, static_cast<off_t>(offset));
      ssize_t w = ::pread(local.get(), want.data(), size, static_cast<off_t>(offset));
      ASSERT_EQ(n, w) << "offset " << offset << ": " << std::strerror(errno);
      EXPECT_TRUE(got == want) << "bytes at " << offset << " differ";
    }
  };
  Twin OpenTwin(const std::string& name, int flags) {
    Twin t;
    t.mounted.Reset(::open(M(name).c_str(), flags));
    t.local.Reset(::open(L(name).c_str(), flags));
    EXPECT_TRUE(t.mounted && t.local) << std::strerror(errno);
    return t;
  }
  static std::string Random(size_t size, unsigned seed) {
    std::string s(size, '\0');
    for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((seed * 2654435761u + i * 40503u) >> 7);
    return s;
  }

  // The file through the mount, a new mount, the CLI and the HTTP API is the local reference.
  void ExpectEverywhere(const std::string& name) {
    std::string out;
    EXPECT_EQ(Sh("cmp " + L(name) + " " + M(name), &out), 0) << out;
    auto md5 = Md5::OfFile(L(name));
    ASSERT_TRUE(md5.ok());
    auto got = Get(cluster_->master_url(), "/api/v1/files/" + name);
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(Md5::Of(got.body), *md5);
    EXPECT_EQ(cluster_->Cli("get " + name + " " + L(name + ".got"), &out), 0) << out;
    EXPECT_EQ(Sh("cmp " + L(name) + " " + L(name + ".got"), &out), 0) << out;
    EXPECT_TRUE(WaitUntil([&] { return Meta(name).value("md5", "") == *md5; }, milliseconds(10000)))
        << "the master settles the whole-file md5: " << Meta(name).dump();
    Unmount();
    std::filesystem::remove_all(tmp_.path() + "/cache");
    Mount();
    EXPECT_EQ(Sh("cmp " + L(name) + " " + M(name), &out), 0) << "a fresh mount: " << out;
  }
};

TEST_F(FuseChunkWriteTest, AFourKiBChangeInsideAMultiChunkFileUploadsOneChunk) {
  StoreFile("big", kFile, 71);
  const uint64_t nodes_before = NodeBytesReceived(), master_before = MasterBytesReceived();
  {
    Twin t = OpenTwin("big", O_WRONLY);
    t.Write(3 * kChunk + 5000, Random(4096, 1));
    ASSERT_EQ(::close(t.mounted.Release()), 0) << std::strerror(errno);
  }
  ASSERT_TRUE(Replicated("big"));
  const uint64_t to_nodes = NodeBytesReceived() - nodes_before, to_master = MasterBytesReceived() - master_before;
  std::cout << "4 KiB change: master received " << to_master << " bytes, nodes " << to_nodes << "\n";
  EXPECT_LE(to_master, 4096u + 65536) << "the mount sent about the 4 KiB it changed";
  EXPECT_GE(to_nodes, kChunk) << "the chunk it lands in is stored again";
  EXPECT_LE(to_nodes, kCopies * kChunk + 65536) << "only that chunk, " << kCopies << " copies, of " << kFile;
  ExpectEverywhere("big");
}

// A big new file written in order (cp, dd) goes to the nodes while it is
// written (WriteBehind), is on the master only once it is closed, and is the
// file written; it goes as one PUT, so the nodes get each chunk once (plus copies).
TEST_F(FuseChunkWriteTest, ABigNewFileGoesToTheNodesWhileItIsWritten) {
  const uint64_t size = 16 * kChunk;  // past WriteBehind::kStartAt (8 MiB)
  const uint64_t nodes_before = NodeBytesReceived();
  UniqueFd fd = WriteNew("big", Random(size, 7));
  EXPECT_TRUE(WaitUntil([&] { return NodeBytesReceived() - nodes_before >= size / 2; }, milliseconds(30000)))
      << "the nodes got " << NodeBytesReceived() - nodes_before << " bytes while the file was open";
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/meta/big").status, 404) << "nothing is committed before close";
  ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  ASSERT_TRUE(Replicated("big"));
  EXPECT_LE(NodeBytesReceived() - nodes_before, kCopies * size + 65536) << "each chunk sent once, with its copies";
  ExpectEverywhere("big");
}

// A write out of order after the write-behind started, or an unlink while
// the file is written, abandons it: the file is uploaded whole at close (or
// not at all), and no chunk the abandoned upload stored stays on a node.
TEST_F(FuseChunkWriteTest, AWriteOutOfOrderOrAnUnlinkAbandonsTheWriteBehind) {
  const uint64_t size = 12 * kChunk;
  uint64_t nodes_before = NodeBytesReceived();
  {
    UniqueFd fd = WriteNew("moved", Random(size, 8));
    ASSERT_TRUE(WaitUntil([&] { return NodeBytesReceived() - nodes_before >= 3 * kChunk; }, milliseconds(30000)));
    UniqueFd local(::open(L("moved").c_str(), O_WRONLY));
    const std::string change = "written out of order";
    ASSERT_EQ(::pwrite(fd.get(), change.data(), change.size(), 5000), static_cast<ssize_t>(change.size()));
    ASSERT_EQ(::pwrite(local.get(), change.data(), change.size(), 5000), static_cast<ssize_t>(change.size()));
    ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  }
  nodes_before = NodeBytesReceived();
  {
    UniqueFd fd = WriteNew("gone", Random(size, 9));
    ASSERT_TRUE(WaitUntil([&] { return NodeBytesReceived() - nodes_before >= 3 * kChunk; }, milliseconds(30000)));
    ASSERT_EQ(::unlink(M("gone").c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  }
  EXPECT_EQ(Get(cluster_->master_url(), "/api/v1/meta/gone").status, 404);
  ASSERT_TRUE(Replicated("moved"));
  const uint64_t want = Meta("moved")["chunks"].size() * kCopies;
  EXPECT_TRUE(WaitUntil([&] { return NodeBlobs() == want; }, milliseconds(30000)))
      << NodeBlobs() << " blobs on the nodes, " << want << " are the file's copies";
  ExpectEverywhere("moved");
}

// After a write-behind upload (here at fsync), what is appended goes as a
// range write of its own bytes, not as a second whole upload.
TEST_F(FuseChunkWriteTest, AnAppendAfterAWriteBehindGoesAsARangeWrite) {
  const std::string first = Random(10 * kChunk, 11), more = Random(9 * kChunk, 12);
  UniqueFd fd = WriteNew("grown", first);
  ASSERT_EQ(::fsync(fd.get()), 0) << std::strerror(errno);
  ASSERT_TRUE(Replicated("grown"));
  const uint64_t nodes_before = NodeBytesReceived();
  for (uint64_t at = 0; at < more.size(); at += kChunk) {
    ASSERT_EQ(::write(fd.get(), more.data() + at, kChunk), static_cast<ssize_t>(kChunk)) << std::strerror(errno);
  }
  ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  WriteFile(L("grown"), first + more);
  ASSERT_TRUE(Replicated("grown"));
  // (Node bytes: a PUT cut short is not counted by the master's metrics.)
  const uint64_t stored = NodeBytesReceived() - nodes_before;
  EXPECT_LE(stored, kCopies * more.size() + 256 * 1024) << "the append, not the whole file again";
  EXPECT_GE(stored, kCopies * more.size());
  ExpectEverywhere("grown");
}

// The master dying under a write-behind (its PUT cut mid-body) loses
// nothing: the upload is sent again from the spool (or whole at close), and
// the file is the one written.
TEST_F(FuseChunkWriteTest, AWriteBehindSurvivesTheMasterRestartingUnderIt) {
  const uint64_t size = 16 * kChunk;
  const std::string data = Random(size, 10);
  WriteFile(L("restarted"), data);
  UniqueFd fd(::open(M("restarted").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644));
  ASSERT_TRUE(fd) << std::strerror(errno);
  const uint64_t nodes_before = NodeBytesReceived();
  const uint64_t first = 10 * kChunk;
  for (uint64_t at = 0; at < first; at += kChunk) {
    ASSERT_EQ(::write(fd.get(), data.data() + at, kChunk), static_cast<ssize_t>(kChunk)) << std::strerror(errno);
  }
  ASSERT_TRUE(WaitUntil([&] { return NodeBytesReceived() - nodes_before >= kChunk; }, milliseconds(30000)));
  cluster_->KillMaster();
  cluster_->StartMaster();
  for (uint64_t at = first; at < size; at += kChunk) {
    ASSERT_EQ(::write(fd.get(), data.data() + at, kChunk), static_cast<ssize_t>(kChunk)) << std::strerror(errno);
  }
  ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  ExpectEverywhere("restarted");
}

TEST_F(FuseChunkWriteTest, OpeningForWritingAndClosingWithoutWritingMovesNothing) {
  StoreFile("big", kFile, 72);
  const uint64_t sent_before = NodeBytesSent(), received_before = NodeBytesReceived();
  const uint64_t master_before = MasterBytesReceived();
  UniqueFd fd(::open(M("big").c_str(), O_RDWR));
  ASSERT_TRUE(fd) << std::strerror(errno);
  EXPECT_LT(NodeBytesSent() - sent_before, 65536u) << "open fetched nothing of the file";
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), kFile);
  EXPECT_EQ(::fsync(fd.get()), 0);
  ASSERT_EQ(::close(fd.Release()), 0);
  std::cout << "open+fsync+close: nodes sent " << NodeBytesSent() - sent_before << " bytes, received "
            << NodeBytesReceived() - received_before << "\n";
  EXPECT_LT(NodeBytesSent() - sent_before, 65536u) << "nor fsync or close";
  EXPECT_EQ(NodeBytesReceived() - received_before, 0u) << "nothing was uploaded";
  EXPECT_LT(MasterBytesReceived() - master_before, 4096u);
}

TEST_F(FuseChunkWriteTest, AppendsWithFsyncUploadTheAppendedBytes) {
  StoreFile("log", 3 * kChunk + 12345, 73);
  const uint64_t nodes_before = NodeBytesReceived(), master_before = MasterBytesReceived();
  const int appends = 20;
  const size_t each = 100 * 1024 + 7;
  {
    UniqueFd mounted(::open(M("log").c_str(), O_WRONLY | O_APPEND));
    UniqueFd local(::open(L("log").c_str(), O_WRONLY | O_APPEND));
    ASSERT_TRUE(mounted && local) << std::strerror(errno);
    for (int i = 0; i < appends; ++i) {
      const std::string data = Random(each, 100 + i);
      ASSERT_EQ(::write(mounted.get(), data.data(), data.size()), static_cast<ssize_t>(each)) << std::strerror(errno);
      ASSERT_EQ(::write(local.get(), data.data(), data.size()), static_cast<ssize_t>(each));
      ASSERT_EQ(::fsync(mounted.get()), 0) << "append " << i << ": " << std::strerror(errno);
    }
    ASSERT_EQ(::close(mounted.Release()), 0) << std::strerror(errno);
  }
  ASSERT_TRUE(Replicated("log"));
  const uint64_t appended = appends * each;
  const uint64_t to_master = MasterBytesReceived() - master_before, to_nodes = NodeBytesReceived() - nodes_before;
  std::cout << appends << " appends of " << each << " bytes: master received " << to_master << " bytes, nodes "
            << to_nodes << "\n";
  EXPECT_LE(to_master, appended + 256 * 1024) << "the mount sent the appended bytes, not the file";
  EXPECT_GE(to_master, appended);
  EXPECT_GE(to_nodes, kCopies * appended);
  EXPECT_LE(to_nodes, kCopies * appended + 256 * 1024) << "each append is stored as its own bytes, not its chunk";
  EXPECT_EQ(Meta("log")["chunks"].size(), 4u + appends) << "a chunk per append until they are merged";
  ExpectEverywhere("log");
}

// With merging on (--compact-after-ms), the chunks appends leave become
// full chunks again once the file is quiet; a mount that has the file open
// over the old chunk list keeps reading and writing it right.
class FuseCompactionTest : public FuseChunkWriteTest {
 protected:
  FuseCompactionTest() { extra_master_args_.back() = "300"; }
};

TEST_F(FuseCompactionTest, AppendedChunksAreMergedUnderAnOpenFile) {
  StoreFile("log", kChunk + 4321, 75);
  UniqueFd mounted(::open(M("log").c_str(), O_RDWR | O_APPEND));
  UniqueFd local(::open(L("log").c_str(), O_RDWR | O_APPEND));
  ASSERT_TRUE(mounted && local) << std::strerror(errno);
  const int appends = 12;
  for (int i = 0; i < appends; ++i) {
    const std::string data = Random(70000 + i, 200 + i);
    ASSERT_EQ(::write(mounted.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::write(local.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::fsync(mounted.get()), 0) << "append " << i << ": " << std::strerror(errno);
  }
  const uint64_t size = kChunk + 4321 + appends * 70000 + (appends - 1) * appends / 2;
  ASSERT_TRUE(WaitUntil([&] { return Meta("log")["chunks"].size() == (size + kChunk - 1) / kChunk; },
                        milliseconds(30000)))
      << Meta("log").dump();
  // The open file reads its new chunks (its list is stale) and takes more writes.
  std::string got(size, '\0'), want(size, '\0');
  ASSERT_EQ(::pread(mounted.get(), got.data(), size, 0), static_cast<ssize_t>(size)) << std::strerror(errno);
  ASSERT_EQ(::pread(local.get(), want.data(), size, 0), static_cast<ssize_t>(size));
  EXPECT_TRUE(got == want) << "the merged chunks read as the appends wrote them";
  const std::string more = Random(5000, 300);
  ASSERT_EQ(::pwrite(mounted.get(), more.data(), more.size(), static_cast<off_t>(kChunk - 100)), 5000);
  ASSERT_EQ(::pwrite(local.get(), more.data(), more.size(), static_cast<off_t>(kChunk - 100)), 5000);
  ASSERT_EQ(::close(mounted.Release()), 0) << std::strerror(errno);
  ASSERT_TRUE(Replicated("log"));
  ExpectEverywhere("log");
}

// Writes of random sizes at random offsets, over chunk edges and past the
// end, with reads and fsyncs between them: the file read through a second
// mount is the local reference.
TEST_F(FuseChunkWriteTest, RandomWritesAcrossChunkEdgesMatchALocalReference) {
  StoreFile("r", 5 * kChunk + 54321, 74);
  std::mt19937 rng(7);
  {
    Twin t = OpenTwin("r", O_RDWR);
    uint64_t size = 5 * kChunk + 54321;
    for (int i = 0; i < 120; ++i) {
      const uint64_t offset = std::uniform_int_distribution<uint64_t>(0, size + kChunk / 2)(rng);
      const size_t len = std::uniform_int_distribution<size_t>(1, 300 * 1024)(rng);
      t.Write(offset, Random(len, static_cast<unsigned>(i)));
      size = std::max(size, offset + len);
      if (i % 10 == 3) t.ExpectSame(std::uniform_int_distribution<uint64_t>(0, size)(rng), 200 * 1024);
      if (i % 25 == 24) {
        ASSERT_EQ(::fsync(t.mounted.get()), 0) << std::strerror(errno);
      }
    }
    ASSERT_EQ(::close(t.mounted.Release()), 0) << std::strerror(errno);
  }
  const std::string second = tmp_.path() + "/mnt2";
  Subprocess mount2 = MountAnother(second);
  ASSERT_TRUE(IsFuseMounted(second));
  std::string out;
  EXPECT_EQ(Sh("cmp " + L("r") + " " + second + "/r", &out), 0) << out;
  UnmountAnother(second, mount2);
  ExpectEverywhere("r");
}

TEST_F(FuseChunkWriteTest, TruncatesDownAndUpAcrossChunkEdges) {
  StoreFile("t", 4 * kChunk + 500000, 75);
  {
    Twin t = OpenTwin("t", O_RDWR);
    t.Truncate(2 * kChunk + 3);  // down, into chunk 2
    t.ExpectSame(2 * kChunk - 10, 100);
    t.Truncate(5 * kChunk + 77);  // up, over three chunk edges: zeros
    t.ExpectSame(2 * kChunk - 10, 4096);
    t.Write(3 * kChunk - 100, Random(300, 9));  // across an edge inside the zeros
    ASSERT_EQ(::fsync(t.mounted.get()), 0) << std::strerror(errno);
    t.Truncate(kChunk - 1);  // down again, after an upload
    t.Truncate(3 * kChunk);  // and up
    t.Write(kChunk - 5, "edge");
    t.ExpectSame(0, 3 * kChunk);
    ASSERT_EQ(::close(t.mounted.Release()), 0) << std::strerror(errno);
  }
  ExpectEverywhere("t");
  // truncate(2) by path of a file nobody has open: up (zeros appended), then down.
  for (uint64_t size : {uint64_t{4} * kChunk + 9, uint64_t{kChunk} + 1}) {
    ASSERT_EQ(::truncate(M("t").c_str(), static_cast<off_t>(size)), 0) << std::strerror(errno);
    ASSERT_EQ(::truncate(L("t").c_str(), static_cast<off_t>(size)), 0);
    std::string out;
    EXPECT_EQ(Sh("cmp " + L("t") + " " + M("t"), &out), 0) << "after truncate to " << size << ": " << out;
  }
  ExpectEverywhere("t");
}

// Changes made through mmap and msync (page writeback, then fsync) of an
// existing file reach the master. (It does not reproduce the hang fsx -S 2
// found, a read or write the kernel sent while an upload invalidated pages;
// fsx does.)
// A file this mount wrote is read back from the verified copy its upload
// left in the cache: no chunk is fetched from the nodes.
TEST_F(FuseChunkWriteTest, AFileWrittenHereReadsBackWithoutFetchingChunks) {
  WriteRandomFile(L("mine"), 5 * kChunk + 777, 77);
  std::string out;
  ASSERT_EQ(Sh("cp " + L("mine") + " " + M("mine"), &out), 0) << out;
  ASSERT_TRUE(Replicated("mine"));
  ASSERT_EQ(Meta("mine")["chunks"].size(), 6u);
  const uint64_t before = NodeBytesSent();
  EXPECT_EQ(Sh("cmp " + L("mine") + " " + M("mine"), &out), 0) << out;
  EXPECT_LT(NodeBytesSent() - before, 65536u) << "read from the copy the upload left";
  ExpectEverywhere("mine");
}

// A truncate down is one request to the master, which rebuilds the one
// chunk the new end lands in: nothing of the file is fetched or sent by the
// mount, open or not.
TEST_F(FuseChunkWriteTest, ATruncateDownMovesOneChunkAtMost) {
  StoreFile("cut", kFile, 76);
  std::string local = ReadFile(L("cut"));
  const uint64_t sent_before = NodeBytesSent(), nodes_before = NodeBytesReceived();
  const uint64_t master_before = MasterBytesReceived();
  {
    UniqueFd fd(::open(M("cut").c_str(), O_RDWR));
    ASSERT_TRUE(fd) << std::strerror(errno);
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(5 * kChunk + 1234)), 0) << std::strerror(errno);
    ASSERT_EQ(::close(fd.Release()), 0) << std::strerror(errno);
  }
  ASSERT_EQ(::truncate(M("cut").c_str(), static_cast<off_t>(3 * kChunk)), 0) << "at a chunk edge: " << std::strerror(errno);
  ASSERT_TRUE(Replicated("cut"));
  const uint64_t fetched = NodeBytesSent() - sent_before, stored = NodeBytesReceived() - nodes_before;
  std::cout << "two truncates down: nodes sent " << fetched << " bytes, received " << stored << ", master received "
            << MasterBytesReceived() - master_before << "\n";
  EXPECT_LT(MasterBytesReceived() - master_before, 4096u) << "the mount sent no file bytes";
  EXPECT_LE(fetched, kChunk + 65536) << "the master read the first bytes of the one chunk it cut";
  EXPECT_LE(stored, kCopies * kChunk) << "and stored them (with copies) as that chunk";
  EXPECT_EQ(Meta("cut")["chunks"].size(), 3u);
  local.resize(3 * kChunk);
  {
    std::ofstream(L("cut"), std::ios::binary | std::ios::trunc) << local;
  }
  ExpectEverywhere("cut");
}

TEST_F(FuseChunkWriteTest, MmapWritesAndMsyncAcrossAChunkEdgeAreUploaded) {
  StoreFile("m", 4 * kChunk + 999, 77);
  Twin t = OpenTwin("m", O_RDWR);
  const size_t size = 4 * kChunk + 999;
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, t.mounted.get(), 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  for (int round = 0; round < 3; ++round) {
    const std::string data = Random(10000, 200 + round);
    const uint64_t offset = (round + 1) * kChunk - 5000;  // over the edge of chunk `round`
    std::memcpy(static_cast<char*>(map) + offset, data.data(), data.size());
    ASSERT_EQ(::pwrite(t.local.get(), data.data(), data.size(), static_cast<off_t>(offset)), 10000);
    ASSERT_EQ(::msync(map, size, MS_SYNC), 0) << std::strerror(errno);
    t.ExpectSame(offset - 100, 10200);
  }
  ASSERT_EQ(::munmap(map, size), 0);
  ASSERT_EQ(::close(t.mounted.Release()), 0) << std::strerror(errno);
  ExpectEverywhere("m");
}

// Two writers of different chunks of one file, each through its own mount:
// both changes are kept (range writes to different chunks do not conflict).
TEST_F(FuseChunkWriteTest, ChangesToDifferentChunksFromTwoMountsAreBothKept) {
  StoreFile("two", 4 * kChunk, 76);
  const std::string second = tmp_.path() + "/mnt2";
  Subprocess mount2 = MountAnother(second);
  ASSERT_TRUE(IsFuseMounted(second));
  UniqueFd a(::open(M("two").c_str(), O_WRONLY)), b(::open((second + "/two").c_str(), O_WRONLY));
  UniqueFd local(::open(L("two").c_str(), O_WRONLY));
  ASSERT_TRUE(a && b && local) << std::strerror(errno);
  for (auto [fd, offset] : {std::pair{a.get(), kChunk + 10}, std::pair{b.get(), 3 * kChunk + 20}}) {
    const std::string data = Random(5000, static_cast<unsigned>(offset));
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)), 5000);
    ASSERT_EQ(::pwrite(local.get(), data.data(), data.size(), static_cast<off_t>(offset)), 5000);
  }
  EXPECT_EQ(::close(a.Release()), 0);
  EXPECT_EQ(::close(b.Release()), 0);
  UnmountAnother(second, mount2);
  ExpectEverywhere("two");
}

// A one-node cluster (single copies) and the mount's daemon object talking
// to it, called directly without a kernel mount.
struct DaemonWithCluster {
  static ClusterOptions Options() {
    ClusterOptions options;
    options.nodes = 1;
    options.replicas = 0;
    return options;
  }
  DaemonWithCluster() : cluster(Options()) {
    auto cache = fuse_client::FileCache::Open(tmp.path() + "/cache", uint64_t{1} << 30);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    if (!cache.ok()) return;
    ClientOptions client_options;
    client_options.master_url = cluster.master_url();
    fs = std::make_unique<fuse_client::DfsFilesystem>(DfsClient(client_options), std::move(*cache),
                                                      milliseconds(1000));
  }
  TestCluster cluster;
  TempDir tmp;
  std::unique_ptr<fuse_client::DfsFilesystem> fs;
};

// The daemon itself, without the kernel (which holds a rename back while a
// close's flush runs, but not a release's or a second handle's upload): a
// rename that reaches it while a new file's upload is in flight must end
// with the data under the new name, not as a local rename of a file the
// master is about to store under the old one.
TEST(FuseDaemonTest, RenameRacingTheUploadOfANewFileEndsUnderTheNewName) {
  DaemonWithCluster d;
  ASSERT_NE(d.fs, nullptr);
  auto& fs = *d.fs;
  auto& cluster = d.cluster;
  fuse_file_info fi{};
  fi.flags = O_WRONLY | O_CREAT;
  ASSERT_EQ(fs.Create("old.bin", 0644, &fi), 0);
  const size_t chunk = size_t{1} << 20, chunks = 100;
  const std::string data(chunk, 'x');
  for (size_t i = 0; i < chunks; ++i) {
    ASSERT_EQ(fs.Write(data.data(), chunk, static_cast<off_t>(i * chunk), &fi), static_cast<int>(chunk));
  }
  int flush_rc = -1;
  std::thread flush([&] { flush_rc = fs.Flush(&fi); });
  std::this_thread::sleep_for(milliseconds(200));  // the PUT is under way
  EXPECT_EQ(fs.Rename("old.bin", "new.bin", 0), 0);
  flush.join();
  EXPECT_EQ(flush_rc, 0);
  EXPECT_EQ(fs.Release(&fi), 0);
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/stat/old.bin").status, 404);
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/stat/new.bin").json().value("size", uint64_t{0}), chunk * chunks);
}

// An unlink racing the upload of a new file waits for it and removes it
// (the master must not keep it), and while it waits other opens go on: no
// lock shared by every operation is held across the wait.
TEST(FuseDaemonTest, UnlinkRacingAnUploadRemovesTheFileWithoutStallingOtherOpens) {
  DaemonWithCluster d;
  ASSERT_NE(d.fs, nullptr);
  auto& fs = *d.fs;
  auto& cluster = d.cluster;
  fuse_file_info fi{};
  fi.flags = O_WRONLY | O_CREAT;
  ASSERT_EQ(fs.Create("gone.bin", 0644, &fi), 0);
  const size_t chunk = size_t{1} << 20;
  const std::string data(chunk, 'y');
  // From the end back, so nothing goes up before the flush (no write-behind).
  for (size_t i = 150; i-- > 0;) {
    ASSERT_EQ(fs.Write(data.data(), chunk, static_cast<off_t>(i * chunk), &fi), static_cast<int>(chunk));
  }
  std::atomic<bool> flushed{false};
  int flush_rc = -1, unlink_rc = -1;
  std::thread flush([&] {
    flush_rc = fs.Flush(&fi);
    flushed = true;
  });
  std::this_thread::sleep_for(milliseconds(200));  // the PUT is under way
  std::thread unlink([&] { unlink_rc = fs.Unlink("gone.bin"); });
  std::this_thread::sleep_for(milliseconds(300));  // the unlink waits for the upload
  fuse_file_info other{};
  other.flags = O_WRONLY | O_CREAT;
  EXPECT_EQ(fs.Create("other.bin", 0644, &other), 0);
  EXPECT_FALSE(flushed) << "a new open waited for another file's upload";
  flush.join();
  unlink.join();
  EXPECT_EQ(flush_rc, 0);
  EXPECT_EQ(unlink_rc, 0);
  EXPECT_EQ(fs.Release(&fi), 0);
  EXPECT_EQ(fs.Release(&other), 0);
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/stat/gone.bin").status, 404);
  EXPECT_EQ(Get(cluster.master_url(), "/api/v1/stat/other.bin").status, 200);
}

TEST(FuseMountTest, UnreachableMasterFailsWithAClearErrorAndNoMount) {
  TempDir tmp;
  std::string mnt = tmp.path() + "/mnt";
  std::filesystem::create_directories(mnt);
  std::string out;
  int rc = RunCommand(BinaryPath("mount.dfs") + " 127.0.0.1:" + std::to_string(FreePort()) + " " + mnt +
                          " -o cache_dir=" + tmp.path() + "/cache,timeout=2",
                      &out);
  EXPECT_EQ(rc, 32) << out;
  EXPECT_NE(out.find("cannot reach the dfs master"), std::string::npos) << out;
  EXPECT_FALSE(IsFuseMounted(mnt));
  EXPECT_EQ(RunCommand(BinaryPath("mount.dfs") + " --bogus " + mnt, &out), 1) << out;
}

// A small file written by the shell (`echo > f`) is two PUTs (relaxed:
// ?sync=0): the new empty file at the flush of its dup2, so other clients
// see it, then its bytes at close, a whole PUT and no range write; plus the
// kernel's lookup of its new name. A file closed after it is written takes
// no master handle (none to open, none to close); one fsynced while open
// does. Unlinks go in batches (POST /api/v1/unlink), not one DELETE each.
// fsync of a file and of a folder make the master sync its commits (POST /api/v1/sync).
TEST_F(FuseTest, SmallFilesCostOnePutAndFsyncSyncsTheMaster) {
  auto count = [&](const std::string& route, const std::string& method, const std::string& status) {
    return MasterRequests(route, method, status);
  };
  ASSERT_EQ(Sh("mkdir " + M("small")), 0);
  constexpr int kFiles = 20;
  const double puts = count("/api/v1/files", "PUT", "201");
  const double range_writes = count("/api/v1/files", "PUT", "200");
  const double closes = count("/api/v1/handles", "DELETE", "204");
  const double syncs = count("/api/v1/sync", "POST", "204");
  std::string out;
  ASSERT_EQ(Sh("for i in $(seq " + std::to_string(kFiles) + "); do echo file $i > " + M("small") + "/f$i; done", &out),
            0) << out;
  EXPECT_EQ(count("/api/v1/files", "PUT", "201") - puts, 2 * kFiles);
  EXPECT_EQ(count("/api/v1/files", "PUT", "200") - range_writes, 0);
  EXPECT_EQ(count("/api/v1/sync", "POST", "204"), syncs) << "close does not wait for the master's disk";
  // Stored: on the master and md5-checked by its nodes.
  EXPECT_EQ(cluster_->Cli("stat small/f7", &out), 0) << out;
  EXPECT_EQ(ReadFile(M("small/f7")), "file 7\n");

  WriteFile(L("fsync.py"),
            "import os, sys\n"
            "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644) if sys.argv[2] == 'file' else "
            "os.open(sys.argv[1], os.O_RDONLY)\n"
            "if sys.argv[2] == 'file': os.write(fd, b'kept')\n"
            "os.fsync(fd)\n"
            "os.close(fd)\n");
  ASSERT_EQ(Sh("python3 " + L("fsync.py") + " " + M("small/synced") + " file", &out), 0) << out;
  EXPECT_EQ(count("/api/v1/sync", "POST", "204") - syncs, 1) << "fsync of a file";
  ASSERT_EQ(Sh("python3 " + L("fsync.py") + " " + M("small") + " dir", &out), 0) << out;
  EXPECT_EQ(count("/api/v1/sync", "POST", "204") - syncs, 2) << "fsync of a folder";
  EXPECT_EQ(ReadFile(M("small/synced")), "kept");
  // Release comes after close(2) has returned, and with it the close of a
  // handle: the fsynced writer's and the two readers' (f7, synced), no more.
  EXPECT_TRUE(WaitUntil([&] { return count("/api/v1/handles", "DELETE", "204") - closes >= 3; }, milliseconds(10000)));
  EXPECT_EQ(count("/api/v1/handles", "DELETE", "204") - closes, 3) << "a file closed after writing took a handle";

  const double deletes = count("/api/v1/files", "DELETE", "204");
  const double batches = count("/api/v1/unlink", "POST", "200");
  ASSERT_EQ(Sh("rm -rf " + M("small"), &out), 0) << out;
  const double sent = count("/api/v1/files", "DELETE", "204") - deletes + count("/api/v1/unlink", "POST", "200") - batches;
  EXPECT_GE(sent, 1);
  EXPECT_LE(sent, (kFiles + 1) / 2) << "the unlinks of rm -rf are sent together";
  EXPECT_NE(cluster_->Cli("stat small/f7", &out), 0) << out;
  EXPECT_NE(cluster_->Cli("stat small", &out), 0) << out;
}

// An unlink this mount can decide is answered at once and sent with others
// (UnlinkQueue): the name is gone at once for every program here (stat,
// listing, a new file of that name), the master has removed it before any
// listing or rmdir here answers, and it goes in a few requests. One the
// caller may not make (a folder not theirs to write, a sticky folder) is
// still refused, with EACCES/EPERM, and the file stays.
TEST_F(FuseTest, UnlinksAreAnsweredAtOnceSentTogetherAndNeverSeenAgain) {
  Unmount();
  Mount(",allow_other");  // no default_permissions: the master decides who may remove what
  ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);  // let another user reach the mount point
  auto count = [&](const std::string& route, const std::string& method, const std::string& status) {
    return MasterRequests(route, method, status);
  };
  constexpr int kFiles = 100;
  std::string out;
  ASSERT_EQ(Sh("mkdir " + M("batch") + " && for i in $(seq " + std::to_string(kFiles) + "); do echo $i > " +
                   M("batch") + "/f$i; done"),
            0);
  const double deletes = count("/api/v1/files", "DELETE", "204");
  const double batches = count("/api/v1/unlink", "POST", "200");
  WriteFile(L("unlink.py"),
            "import os, sys\n"
            "d = sys.argv[1]\n"
            "for i in range(1, 101):\n"
            "    f = os.path.join(d, 'f%d' % i)\n"
            "    os.unlink(f)\n"
            "    assert not os.path.exists(f), f\n"
            "    if i % 10 == 0:\n"
            "        with open(f, 'w') as w: w.write('again %d' % i)\n"
            "print(' '.join(sorted(os.listdir(d))))\n");
  ASSERT_EQ(Sh("python3 " + L("unlink.py") + " " + M("batch"), &out), 0) << out;
  EXPECT_EQ(out, "f10 f100 f20 f30 f40 f50 f60 f70 f80 f90\n");
  const double sent = count("/api/v1/files", "DELETE", "204") - deletes + count("/api/v1/unlink", "POST", "200") - batches;
  EXPECT_GE(sent, 1);
  // How many go together depends on timing (a loaded machine sends them one by one); that they
  // go as batches, not DELETEs, does not.
  EXPECT_EQ(count("/api/v1/files", "DELETE", "204"), deletes) << "root's unlinks are all queued";
  // Another client sees what this mount does: the listing here sent them all.
  ASSERT_EQ(cluster_->Cli("ls batch", &out), 0) << out;
  for (int i = 1; i <= kFiles; ++i) {
    const bool kept = i % 10 == 0;
    EXPECT_EQ(out.find("batch/f" + std::to_string(i) + " ") != std::string::npos ||
                  out.find("batch/f" + std::to_string(i) + "\n") != std::string::npos,
              kept)
        << "f" << i << " in " << out;
  }
  EXPECT_EQ(ReadFile(M("batch/f50")), "again 50");

  // Not the caller's to remove: refused, and nothing goes.
  const std::string nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  ASSERT_EQ(Sh("mkdir -m 0755 " + M("locked") + " && echo r > " + M("locked/rootfile") + " && mkdir -m 1777 " +
                   M("sticky") + " && echo r > " + M("sticky/rootfile") + " && ls -l " + M("locked") + " " +
                   M("sticky") + " > /dev/null"),
            0);
  EXPECT_NE(Sh(nobody + "rm -f " + M("locked/rootfile"), &out), 0) << out;
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  EXPECT_NE(Sh(nobody + "rm -f " + M("sticky/rootfile"), &out), 0) << out;
  EXPECT_NE(out.find("not permitted"), std::string::npos) << out;
  EXPECT_EQ(cluster_->Cli("stat locked/rootfile", &out), 0) << out;
  EXPECT_EQ(cluster_->Cli("stat sticky/rootfile", &out), 0) << out;
  EXPECT_EQ(ReadFile(M("locked/rootfile")), "r\n");
  // Their own file in the sticky folder: removed, for this mount at once, for others soon.
  ASSERT_EQ(Sh(nobody + "bash -c 'echo x > " + M("sticky/mine") + " && ls -l " + M("sticky") + " > /dev/null && rm " +
                   M("sticky/mine") + " && ! test -e " + M("sticky/mine") + "'",
               &out),
            0)
      << out;
  EXPECT_TRUE(WaitUntil([&] { return cluster_->Cli("stat sticky/mine", &out) != 0; }, milliseconds(10000))) << out;
}

}  // namespace
}  // namespace dfs::testing

namespace dfs::testing {
namespace {

// `mount -t dfs HOST:PORT DIR` finds the helper as /sbin/mount.dfs, as
// `cmake --install` puts it; the test links it there for the duration.
TEST(FuseMountTest, MountDashTDfsUsesTheHelperAndUmountEndsIt) {
  const std::string helper = "/sbin/mount.dfs";
  bool linked = false;
  if (!std::filesystem::exists(helper)) {
    std::filesystem::create_symlink(BinaryPath("mount.dfs"), helper);
    linked = true;
  }
  struct Unlink {
    bool linked;
    std::string path;
    ~Unlink() {
      if (linked) std::filesystem::remove(path);
    }
  } unlink{linked, helper};
  ClusterOptions options;
  options.nodes = 1;
  options.replicas = 0;
  TestCluster cluster(options);
  TempDir tmp;
  std::string mnt = tmp.path() + "/mnt";
  std::filesystem::create_directories(mnt);
  std::string out;
  ASSERT_EQ(RunCommand("mount -t dfs 127.0.0.1:" + std::to_string(cluster.master_port()) + " " + mnt +
                           " -o _netdev,cache_dir=" + tmp.path() + "/cache",
                       &out),
            0)
      << out;
  ASSERT_TRUE(IsFuseMounted(mnt));
  EXPECT_EQ(RunCommand("echo via-mount > " + mnt + "/m.txt && cat " + mnt + "/m.txt", &out), 0);
  EXPECT_EQ(out, "via-mount\n");
  EXPECT_EQ(RunCommand("umount " + mnt, &out), 0) << out;
  EXPECT_FALSE(IsFuseMounted(mnt));
  // The daemon goes away with the mount.
  // ("[m]" keeps pgrep from matching the shell that runs it.)
  const std::string pattern = "[m]ount.dfs 127.0.0.1:" + std::to_string(cluster.master_port());
  EXPECT_TRUE(WaitUntil([&] { return RunCommand("pgrep -f '" + pattern + "'") != 0; }, milliseconds(10000)));
}

}  // namespace
}  // namespace dfs::testing

namespace dfs::testing {
namespace {

// mount.dfs given "dead,live" (and -o master= twice): the dead master costs a
// retry on the next, the mount works with one attempt per request.
TEST(FuseMountTest, AListOfMastersWithADeadOneFirstMountsAndWorks) {
  ClusterOptions options;
  options.nodes = 1;
  options.replicas = 0;
  TestCluster cluster(options);
  TempDir tmp;
  const std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  const std::string live = "127.0.0.1:" + std::to_string(cluster.master_port());
  for (const bool positional : {true, false}) {
    const std::string mnt = tmp.path() + (positional ? "/mnt1" : "/mnt2");
    std::filesystem::create_directories(mnt);
    const std::string opts = "cache_dir=" + tmp.path() + "/cache,timeout=5,attempts=1";
    std::vector<std::string> argv = {BinaryPath("mount.dfs")};
    if (positional) argv.push_back(dead + "," + live);
    argv.insert(argv.end(), {mnt, "-f", "-o", positional ? opts : opts + ",master=" + dead + ",master=" + live});
    Subprocess mount(argv, tmp.path() + "/mount.log");
    ASSERT_TRUE(WaitUntil([&] { return IsFuseMounted(mnt); }, milliseconds(10000))) << ReadFile(tmp.path() + "/mount.log");
    const std::string name = positional ? "a.txt" : "b.txt";
    WriteFile(tmp.path() + "/" + name, "through the list\n");
    EXPECT_EQ(RunCommand("cp " + tmp.path() + "/" + name + " " + mnt + "/" + name), 0);
    EXPECT_EQ(ReadFile(mnt + "/" + name), "through the list\n");
    std::string out;
    EXPECT_EQ(cluster.Cli("stat " + name, &out), 0) << out;
    RunCommand("fusermount3 -u " + mnt);
    if (IsFuseMounted(mnt)) RunCommand("umount -l " + mnt);
    mount.Stop();
  }
}

}  // namespace
}  // namespace dfs::testing
