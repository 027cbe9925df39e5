// scripts/dfs-cluster, the README's run command, as a user runs it: up on a
// free port, the CLI through it, status, up again, down, and that down leaves
// no process behind; a dead master, a taken port, a reused pid and --mount.
// Whatever a test leaves running is a failure and is killed in TearDown, by
// pid: every process the script starts works in or names the test's own
// temp folder.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/http_helpers.h"
#include "tests/support/process.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Alive and not a zombie: the script's servers are reparented when it exits,
// and whether anything reaps them then depends on the machine's init.
bool Running(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(") ");
  return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
}

std::string CmdLine(pid_t pid) { return ReadFile("/proc/" + std::to_string(pid) + "/cmdline"); }

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Live processes (other than this one) whose working folder is under `dir`
// or whose command line names it.
std::vector<pid_t> ProcessesUsing(const std::string& dir) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == getpid() || !Running(pid)) continue;
    std::error_code cwd_ec;
    std::string cwd = fs::read_symlink(entry.path() / "cwd", cwd_ec).string();
    if ((!cwd_ec && (cwd == dir || cwd.rfind(dir + "/", 0) == 0)) || CmdLine(pid).find(dir) != std::string::npos) {
      found.push_back(pid);
    }
  }
  return found;
}

class DfsClusterScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = std::make_unique<TempDir>();
    port_ = FreePort();
    dir_ = tmp_->path() + "/cluster";
  }

  void TearDown() override {
    if (tmp_ == nullptr) return;  // skipped
    std::string out;
    if (fs::exists(dir_ + "/cluster.env")) Script("down", &out);
    for (const auto& mnt : mounts_) {
      if (IsFuseMounted(mnt)) RunCommand("fusermount3 -uz " + Quote(mnt) + " || umount -l " + Quote(mnt));
    }
    for (pid_t pid : ProcessesUsing(tmp_->path())) {
      ADD_FAILURE() << "left running: pid " << pid << " " << CmdLine(pid);
      ::kill(pid, SIGKILL);
    }
  }

  // Runs `scripts/dfs-cluster ARGS --dir DIR --port PORT` from `cwd` with the
  // programs of this build.
  int Script(const std::string& args, std::string* out, const std::string& cwd = "",
             const std::string& bin_dir = DFS_BIN_DIR) {
    const std::string command = "cd " + Quote(cwd.empty() ? tmp_->path() : cwd) + " && DFS_BIN_DIR=" +
                                Quote(bin_dir) + " " + Quote(std::string(DFS_SOURCE_DIR) + "/scripts/dfs-cluster") +
                                " " + args + " --dir " + Quote(dir_) + " --port " + std::to_string(port_);
    return RunCommand(command, out);
  }

  std::map<std::string, std::string> State() const {
    std::map<std::string, std::string> state;
    std::istringstream in(ReadFile(dir_ + "/cluster.env"));
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) state[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return state;
  }

  std::vector<pid_t> Pids() const {
    std::vector<pid_t> pids;
    for (const auto& [key, value] : State()) {
      if (key.size() > 4 && key.compare(key.size() - 4, 4, "_PID") == 0) pids.push_back(std::stoi(value));
    }
    return pids;
  }

  std::string MasterUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

  int Cli(const std::string& args, std::string* out) const {
    return RunCommand(BinaryPath("dfs") + " --master " + MasterUrl() + " " + args, out);
  }

  static bool AllGone(const std::vector<pid_t>& pids) {
    return WaitUntil(
        [&] {
          for (pid_t p : pids) {
            if (Running(p)) return false;
          }
          return true;
        },
        milliseconds(5000));
  }

  std::unique_ptr<TempDir> tmp_;
  std::string dir_;
  int port_ = 0;
  std::vector<std::string> mounts_;
};

TEST_F(DfsClusterScriptTest, UpServesTheCliIsIdempotentAndDownStopsEverything) {
  std::string out;
  ASSERT_EQ(Script("up --nodes 2", &out), 0) << out;
  EXPECT_NE(out.find("dfs cluster is up (2 storage nodes)"), std::string::npos) << out;
  auto state = State();
  for (const char* key : {"REDIS_PID", "MASTER_PID", "NODE1_PID", "NODE2_PID", "REPLICATOR_PID"}) {
    ASSERT_TRUE(state.count(key)) << key << "\n" << ReadFile(dir_ + "/cluster.env");
    EXPECT_TRUE(Running(std::stoi(state[key]))) << key;
  }
  EXPECT_FALSE(state.count("NODE3_PID"));
  const std::vector<pid_t> pids = Pids();

  WriteFile(tmp_->path() + "/hello.txt", "hello through dfs-cluster\n");
  ASSERT_EQ(Cli("put " + tmp_->path() + "/hello.txt hello.txt", &out), 0) << out;
  ASSERT_EQ(Cli("get hello.txt " + tmp_->path() + "/copy.txt", &out), 0) << out;
  EXPECT_EQ(ReadFile(tmp_->path() + "/copy.txt"), "hello through dfs-cluster\n");
  // The replicator it started makes the extra copy (2 nodes: 2 copies).
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::string stat;
        Cli("--json stat hello.txt", &stat);
        auto json = nlohmann::json::parse(stat, nullptr, false);
        return json.is_object() && json.value("good_copies", 0) == 2;
      },
      milliseconds(15000)))
      << (Cli("--json stat hello.txt", &out), out);

  ASSERT_EQ(Script("status", &out), 0) << out;
  for (const char* line : {"MASTER: running", "REDIS: running", "NODE1: running", "NODE2: running",
                           "REPLICATOR: running"}) {
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  }

  ASSERT_EQ(Script("up --nodes 2", &out), 0) << out;
  EXPECT_NE(out.find("already running"), std::string::npos) << out;
  EXPECT_EQ(Pids(), pids) << "a second up must not start anything";

  ASSERT_EQ(Script("down", &out), 0) << out;
  EXPECT_NE(out.find("stopped 5 processes"), std::string::npos) << out;
  EXPECT_TRUE(AllGone(pids));
  EXPECT_TRUE(ProcessesUsing(tmp_->path()).empty());
  EXPECT_FALSE(fs::exists(dir_ + "/cluster.env"));
  ASSERT_NE(Script("status", &out), 0) << out;
  EXPECT_NE(out.find("no cluster"), std::string::npos) << out;
}

TEST_F(DfsClusterScriptTest, UpAfterTheMasterDiedStopsTheRestFirst) {
  std::string out;
  ASSERT_EQ(Script("up --nodes 2", &out), 0) << out;
  auto old_state = State();
  const std::vector<pid_t> old = Pids();
  ::kill(std::stoi(old_state["MASTER_PID"]), SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return !Running(std::stoi(old_state["MASTER_PID"])); }, milliseconds(5000)));

  ASSERT_EQ(Script("up --nodes 2", &out), 0) << out;
  EXPECT_NE(out.find("no running master"), std::string::npos) << out;
  EXPECT_TRUE(AllGone(old)) << "the old redis, nodes and replicator must be stopped, not left on the data folders";
  for (pid_t p : Pids()) EXPECT_TRUE(std::find(old.begin(), old.end(), p) == old.end()) << p;

  WriteFile(tmp_->path() + "/again.txt", "again");
  ASSERT_EQ(Cli("put " + tmp_->path() + "/again.txt again.txt", &out), 0) << out;
  ASSERT_EQ(Cli("get again.txt -", &out), 0) << out;
  EXPECT_EQ(out, "again");
  ASSERT_EQ(Cli("--json nodes", &out), 0) << out;
  auto nodes = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(nodes.is_object() && nodes.contains("nodes")) << out;
  EXPECT_EQ(nodes["nodes"].size(), 2u) << "the nodes came back under their ids, no extra ones: " << out;
  const std::vector<pid_t> pids = Pids();
  ASSERT_EQ(Script("down", &out), 0) << out;
  EXPECT_TRUE(AllGone(pids));
}

TEST_F(DfsClusterScriptTest, RefusesAPortAnotherServerHolds) {
  // Another program on the port that even answers /healthz: up must not take
  // it for its master.
  httplib::Server other;
  other.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
  ASSERT_TRUE(other.bind_to_port("127.0.0.1", port_));
  std::thread serving([&] { other.listen_after_bind(); });
  std::string out;
  int rc = Script("up --nodes 2", &out);
  other.stop();
  serving.join();
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("port " + std::to_string(port_) + " on 127.0.0.1 is already in use"), std::string::npos) << out;
  EXPECT_NE(out.find("pid " + std::to_string(getpid())), std::string::npos) << "names who holds it: " << out;
  EXPECT_EQ(out.find("dfs cluster is up"), std::string::npos) << out;
  EXPECT_TRUE(ProcessesUsing(tmp_->path()).empty()) << "nothing may be started: " << out;
}

TEST_F(DfsClusterScriptTest, NeverSignalsAProcessThatReusedARecordedPid) {
  // cluster.env from a run long ago whose pids now belong to unrelated programs.
  Subprocess unrelated({"sleep", "120"}, tmp_->path() + "/sleep.log");
  const std::string pid = std::to_string(unrelated.pid());
  fs::create_directories(dir_);
  WriteFile(dir_ + "/cluster.env", "MASTER_URL=" + MasterUrl() + "\nREDIS_PORT=1\nREDIS_PID=" + pid +
                                       "\nMASTER_PID=" + pid + "\nNODE1_PID=" + pid + "\nREPLICATOR_PID=" + pid +
                                       "\n");
  std::string out;
  ASSERT_EQ(Script("status", &out), 0) << out;
  EXPECT_NE(out.find("MASTER: STOPPED"), std::string::npos) << out;
  ASSERT_EQ(Script("down", &out), 0) << out;
  EXPECT_NE(out.find("leaving it alone"), std::string::npos) << out;
  EXPECT_NE(out.find("stopped 0 processes"), std::string::npos) << out;
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(unrelated.running());
}

class DfsClusterMountTest : public DfsClusterScriptTest {
 protected:
  void SetUp() override {
    if (access("/dev/fuse", R_OK | W_OK) != 0 || RunCommand("command -v fusermount3") != 0) {
      GTEST_SKIP() << "needs /dev/fuse and fusermount3";
    }
    DfsClusterScriptTest::SetUp();
  }
};

TEST_F(DfsClusterMountTest, MountsARelativePathAndDownFromElsewhereUnmounts) {
  const std::string mnt = tmp_->path() + "/mnt";
  mounts_.push_back(mnt);
  std::string out;
  ASSERT_EQ(Script("up --nodes 2 --mount mnt", &out, tmp_->path()), 0) << out;
  auto state = State();
  ASSERT_TRUE(state.count("MOUNT_PID")) << ReadFile(dir_ + "/cluster.env");
  EXPECT_EQ(state["MOUNTPOINT"], mnt) << "recorded as an absolute path";
  ASSERT_TRUE(IsFuseMounted(mnt)) << ReadFile(dir_ + "/mount.log");
  const pid_t mount_pid = std::stoi(state["MOUNT_PID"]);
  EXPECT_NE(CmdLine(mount_pid).find("mount.dfs"), std::string::npos);

  WriteFile(tmp_->path() + "/via-cli.txt", "put with the CLI");
  ASSERT_EQ(Cli("put " + tmp_->path() + "/via-cli.txt docs/via-cli.txt", &out), 0) << out;
  EXPECT_EQ(ReadFile(mnt + "/docs/via-cli.txt"), "put with the CLI");
  ASSERT_EQ(RunCommand("echo 'written to the mount' > " + Quote(mnt + "/docs/via-mount.txt"), &out), 0) << out;
  ASSERT_EQ(Cli("get docs/via-mount.txt -", &out), 0) << out;
  EXPECT_EQ(out, "written to the mount\n");

  ASSERT_EQ(Script("status", &out), 0) << out;
  EXPECT_NE(out.find("MOUNT: running"), std::string::npos) << out;
  EXPECT_NE(out.find("mounted at " + mnt), std::string::npos) << out;

  const std::vector<pid_t> pids = Pids();
  ASSERT_EQ(Script("down", &out, "/"), 0) << out;
  EXPECT_NE(out.find("stopped 6 processes"), std::string::npos) << out;
  EXPECT_FALSE(IsFuseMounted(mnt));
  EXPECT_TRUE(AllGone(pids));
}

TEST_F(DfsClusterScriptTest, AFailedMountFailsUpAndStopsTheCluster) {
  // The real programs, but a mount.dfs that fails the way a real one does.
  const std::string bin = tmp_->path() + "/bin";
  fs::create_directories(bin);
  for (const char* b : {"dfs-master", "dfs-storage", "dfs-replicator", "dfs"}) {
    fs::create_symlink(BinaryPath(b), bin + "/" + b);
  }
  WriteFile(bin + "/mount.dfs", "#!/bin/sh\necho 'mount.dfs: cannot mount on '\"$2\" >&2\nexit 32\n");
  fs::permissions(bin + "/mount.dfs", fs::perms::owner_all);
  std::string out;
  EXPECT_EQ(Script("up --nodes 1 --mount mnt", &out, "", bin), 1) << out;
  EXPECT_NE(out.find("could not mount the cluster on " + tmp_->path() + "/mnt"), std::string::npos) << out;
  EXPECT_NE(out.find("mount.dfs: cannot mount on"), std::string::npos) << "shows mount.dfs's own error: " << out;
  EXPECT_FALSE(fs::exists(dir_ + "/cluster.env"));
  EXPECT_TRUE(fs::exists(dir_ + "/master.log")) << "the cluster was started";
  EXPECT_TRUE(ProcessesUsing(tmp_->path()).empty());
}

}  // namespace
}  // namespace dfs::testing

namespace dfs::testing {
namespace {

// --masters N: PostgreSQL, N masters, haproxy. Needs Debian's postgresql-15
// and haproxy; PostgreSQL runs as nobody under root, so the test's folder is
// opened to it.
class DfsClusterManyMastersTest : public DfsClusterScriptTest {
 protected:
  void SetUp() override {
    if (RunCommand("test -x /usr/lib/postgresql/15/bin/postgres && command -v haproxy >/dev/null") != 0) {
      GTEST_SKIP() << "needs postgresql-15 and haproxy (apt-get install postgresql-15 haproxy)";
    }
    DfsClusterScriptTest::SetUp();
    fs::permissions(tmp_->path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  }
  // Whether this build's dfs-master takes --metadata postgres://.
  static bool MasterHasPostgres() {
    std::string out;
    RunCommand("timeout 5 " + BinaryPath("dfs-master") + " --listen 127.0.0.1:" + std::to_string(FreePort()) +
                   " --metadata postgres://dfs@127.0.0.1:1/dfs 2>&1",
               &out);
    return out.find("only sqlite") == std::string::npos;
  }
};

// The real programs, but a second master that fails at start the way a real
// one does (e.g. a database it cannot reach): up fails, says which master and
// where its log is, and stops what it had started, PostgreSQL included.
TEST_F(DfsClusterManyMastersTest, AMasterThatCannotStartFailsUpAndLeavesNothingRunning) {
  const std::string bin = tmp_->path() + "/bin";
  fs::create_directories(bin);
  for (const char* b : {"dfs-storage", "dfs-replicator", "dfs", "mount.dfs"}) {
    fs::create_symlink(BinaryPath(b), bin + "/" + b);
  }
  WriteFile(bin + "/dfs-master",
            "#!/bin/sh\ncase \"$*\" in *master2/spool*) echo 'dfs-master: unavailable: cannot reach the database' >&2; "
            "exit 1;; esac\nexec " + BinaryPath("dfs-master") + " \"$@\"\n");
  fs::permissions(bin + "/dfs-master", fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  std::string out;
  EXPECT_NE(Script("up --masters 2 --nodes 1", &out, "", bin), 0) << out;
  EXPECT_NE(out.find("master 2 did not start"), std::string::npos) << out;
  EXPECT_NE(out.find("cannot reach the database"), std::string::npos) << "shows the master's own error: " << out;
  EXPECT_TRUE(fs::exists(dir_ + "/pg/PG_VERSION")) << "PostgreSQL was made and started first";
  EXPECT_FALSE(fs::exists(dir_ + "/cluster.env"));
  // TearDown fails the test for anything left running (PostgreSQL included).
}

TEST_F(DfsClusterManyMastersTest, UpStartsPostgresMastersAndHaproxyAndDownStopsExactlyThat) {
  if (!MasterHasPostgres()) GTEST_SKIP() << "this dfs-master has no PostgreSQL store (--metadata postgres://)";
  std::string out;
  ASSERT_EQ(Script("up --masters 2 --nodes 2", &out), 0) << out;
  EXPECT_NE(out.find("haproxy in front of 2 masters"), std::string::npos) << out;
  auto state = State();
  for (const char* key : {"PG_PID", "REDIS_PID", "MASTER1_PID", "MASTER2_PID", "HAPROXY_PID", "NODE1_PID",
                          "NODE2_PID", "REPLICATOR_PID"}) {
    ASSERT_TRUE(state.count(key)) << key << "\n" << ReadFile(dir_ + "/cluster.env");
    EXPECT_TRUE(Running(std::stoi(state[key]))) << key;
  }
  WriteFile(tmp_->path() + "/f.txt", "many masters\n");
  ASSERT_EQ(Cli("put " + tmp_->path() + "/f.txt", &out), 0) << out;
  // Either master serves it: they share the database.
  ASSERT_EQ(RunCommand(BinaryPath("dfs") + " --master " + state["MASTER_LIST"] + " get f.txt -", &out), 0) << out;
  EXPECT_EQ(out, "many masters\n");
  auto pids = Pids();
  ASSERT_EQ(Script("down", &out), 0) << out;
  EXPECT_TRUE(AllGone(pids));
}

}  // namespace
}  // namespace dfs::testing
