#include "tests/support/cluster.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "tests/support/postgres.h"

namespace dfs::testing {

namespace {
void CheckUp(const std::string& what, const std::string& url, Subprocess& proc) {
  if (!WaitHttpOk(url, std::chrono::milliseconds(15000))) {
    throw std::runtime_error(what + " did not become healthy at " + url + " (log: " +
                             proc.log_path() + ")\n" + ReadFile(proc.log_path()));
  }
}
}  // namespace

void MakeTestCertificates(const std::string& dir) {
  const std::string cmd =
      "cd '" + dir + "' && "
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=dfs-test-ca "
      "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
      "extendedKeyUsage=serverAuth\\n' > server.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile server.ext";
  std::string out;
  if (RunCommand("(" + cmd + ") 2>&1", &out) != 0) throw std::runtime_error("openssl failed: " + out);
}

TestCluster::TestCluster(ClusterOptions options) : options_(std::move(options)), saved_security_(Security()) {
  if (!options_.token.empty()) WriteFile(token_path(), options_.token + "\n");
  if (!options_.read_token.empty()) WriteFile(dir() + "/read_token", options_.read_token + "\n");
  if (options_.tls) MakeTestCertificates(dir());
  SecurityConfig mine;
  mine.token = options_.token;
  mine.tls_ca = ca_path();
  SetSecurity(mine);
  if (options_.redis) {
    redis_port_ = FreePort();
    StartRedis();
  }
  if (options_.metadata.empty()) {
    const char* env = std::getenv("DFS_TEST_METADATA");
    if (env && std::string(env) == "postgres") options_.metadata = "postgres";
  }
  if (options_.metadata == "postgres") options_.metadata = PostgresServer::Shared().NewDatabaseUrl();
  if (options_.masters > 1 && options_.metadata.empty()) {
    throw std::runtime_error("several masters need a shared metadata store (metadata = \"postgres\")");
  }
  master_port_ = FreePort();
  StartMaster();
  for (int i = 1; i < options_.masters; ++i) {
    extra_masters_.push_back(std::make_unique<ExtraMaster>());
    extra_masters_.back()->port = FreePort();
    StartMaster(i);
  }
  for (int i = 0; i < options_.nodes; ++i) AddNode();
  if (!WaitNodesUp(options_.nodes)) {
    throw std::runtime_error("storage nodes did not register with the master");
  }
  if (options_.replicator) StartReplicator();
}

TestCluster::~TestCluster() {
  // Clients first, servers last, so nothing logs errors about peers vanishing.
  replicator_.Stop();
  for (auto& n : nodes_) n->process.Stop();
  for (auto& m : extra_masters_) m->process.Stop();
  master_.Stop();
  redis_.Stop();
  SetSecurity(saved_security_);
}

std::string TestCluster::master_url() const { return scheme() + "://127.0.0.1:" + std::to_string(master_port_); }
std::string TestCluster::master_list() const {
  std::string list = options_.master_list.empty() ? "{master}" : options_.master_list;
  if (auto at = list.find("{masters}"); at != std::string::npos) {
    std::string all;
    for (int i = 0; i < master_count(); ++i) all += (i ? "," : "") + master_url(i);
    list.replace(at, 9, all);
  }
  if (auto at = list.find("{master}"); at != std::string::npos) list.replace(at, 8, master_url());
  return list;
}
std::string TestCluster::spool_dir(int i) const { return dir() + "/spool" + (i == 0 ? "" : std::to_string(i)); }
std::string TestCluster::master_db() const {
  return options_.master_db.empty() ? dir() + "/master.db" : options_.master_db;
}
std::string TestCluster::ca_path() const { return options_.tls ? dir() + "/ca.pem" : ""; }

std::vector<std::string> TestCluster::SecurityArgs(bool server) const {
  std::vector<std::string> args;
  if (!options_.token.empty()) args.insert(args.end(), {"--token-file", token_path()});
  if (options_.tls) {
    args.insert(args.end(), {"--tls-ca", ca_path()});
    if (server) args.insert(args.end(), {"--tls-cert", dir() + "/server.pem", "--tls-key", dir() + "/server.key"});
  }
  return args;
}

std::vector<std::string> TestCluster::RedisEnv() const {
  if (options_.redis_password.empty()) return {};
  return {"DFS_REDIS_PASSWORD=" + options_.redis_password};
}

std::vector<std::string> TestCluster::MasterArgs(int i, int port) const {
  std::vector<std::string> argv = {BinaryPath("dfs-master"),
                                   "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--db", master_db(),
                                   "--spool", spool_dir(i),
                                   "--replicas", std::to_string(options_.replicas),
                                   "--node-timeout-ms", std::to_string(options_.node_timeout_ms),
                                   "--node-dead-ms", std::to_string(options_.node_dead_ms),
                                   "--log-level", "debug"};
  if (options_.redis) {
    argv.push_back("--redis");
    argv.push_back(redis_address());
  }
  // The master reads the Redis password from a file, the replicator from
  // $DFS_REDIS_PASSWORD: both ways stay tested.
  if (!options_.redis_password.empty()) {
    WriteFile(dir() + "/redis_password", options_.redis_password + "\n");
    argv.insert(argv.end(), {"--redis-password-file", dir() + "/redis_password"});
  }
  auto security = SecurityArgs(true);
  argv.insert(argv.end(), security.begin(), security.end());
  if (!options_.read_token.empty()) argv.insert(argv.end(), {"--read-token-file", dir() + "/read_token"});
  if (!options_.metadata.empty()) argv.insert(argv.end(), {"--metadata", options_.metadata});
  argv.insert(argv.end(), options_.master_args.begin(), options_.master_args.end());
  return argv;
}

void TestCluster::StartMaster() {
  master_ = Subprocess(MasterArgs(0, master_port_), dir() + "/master.log");
  CheckUp("dfs-master", master_url(), master_);
}

void TestCluster::StartMaster(int i) {
  if (i == 0) return StartMaster();
  ExtraMaster& m = *extra_masters_.at(static_cast<size_t>(i - 1));
  m.process = Subprocess(MasterArgs(i, m.port), dir() + "/master" + std::to_string(i) + ".log");
  CheckUp("dfs-master", master_url(i), m.process);
}

std::string TestCluster::master_url(int i) const {
  if (i == 0) return master_url();
  return scheme() + "://127.0.0.1:" + std::to_string(extra_masters_.at(static_cast<size_t>(i - 1))->port);
}

Subprocess& TestCluster::master(int i) {
  return i == 0 ? master_ : extra_masters_.at(static_cast<size_t>(i - 1))->process;
}

void TestCluster::KillMaster() { master_.Kill(); }
void TestCluster::KillMaster(int i) { master(i).Kill(); }
void TestCluster::StopMaster() { master_.Stop(); }

std::string TestCluster::node_url(int i) const {
  return scheme() + "://127.0.0.1:" + std::to_string(nodes_.at(i)->port);
}
std::string TestCluster::node_dir(int i) const { return nodes_.at(i)->dir; }
std::string TestCluster::node_id(int i) const {
  std::string id = ReadFile(node_dir(i) + "/node_id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}
Subprocess& TestCluster::node(int i) { return nodes_.at(i)->process; }

std::string TestCluster::blob_path(int i, const std::string& blob_id) const {
  return node_dir(i) + "/blobs/" + blob_id.substr(0, 2) + "/" + blob_id;
}

void TestCluster::StartNodeProcess(Node& node) {
  std::vector<std::string> argv = {BinaryPath("dfs-storage"),
                                   "--data", node.dir,
                                   "--listen", "127.0.0.1:" + std::to_string(node.port),
                                   "--master", master_list(),
                                   "--heartbeat-ms", std::to_string(options_.heartbeat_ms),
                                   "--log-level", "debug"};
  if (options_.node_capacity > 0) {
    argv.push_back("--capacity");
    argv.push_back(std::to_string(options_.node_capacity));
  }
  const std::string url = scheme() + "://127.0.0.1:" + std::to_string(node.port);
  argv.insert(argv.end(), {"--advertise", url});
  auto security = SecurityArgs(true);
  argv.insert(argv.end(), security.begin(), security.end());
  argv.insert(argv.end(), options_.storage_args.begin(), options_.storage_args.end());
  argv.insert(argv.end(), node.extra_args.begin(), node.extra_args.end());
  node.process = Subprocess(argv, node.dir + ".log");
  CheckUp("dfs-storage", url, node.process);
}

int TestCluster::AddNode(const std::vector<std::string>& extra_args) {
  auto node = std::make_unique<Node>();
  node->port = FreePort();
  node->dir = dir() + "/node" + std::to_string(nodes_.size());
  node->extra_args = extra_args;
  std::filesystem::create_directories(node->dir);
  StartNodeProcess(*node);
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

void TestCluster::KillNode(int i) { nodes_.at(i)->process.Kill(); }
void TestCluster::StopNode(int i) { nodes_.at(i)->process.Stop(); }
void TestCluster::StartNode(int i) { StartNodeProcess(*nodes_.at(i)); }

std::string TestCluster::redis_address() const { return "127.0.0.1:" + std::to_string(redis_port_); }

void TestCluster::StartRedis() {
  std::filesystem::create_directories(dir() + "/redis");
  std::vector<std::string> argv = {"redis-server", "--bind", "127.0.0.1", "--port", std::to_string(redis_port_),
                                   "--dir", dir() + "/redis", "--save", "", "--appendonly", "yes",
                                   "--protected-mode", "yes", "--daemonize", "no"};
  if (!options_.redis_password.empty()) argv.insert(argv.end(), {"--requirepass", options_.redis_password});
  redis_ = Subprocess(argv, dir() + "/redis.log");
  const std::string auth = options_.redis_password.empty() ? "" : "REDISCLI_AUTH=" + options_.redis_password + " ";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out;
    if (RunCommand(auth + "redis-cli -h 127.0.0.1 -p " + std::to_string(redis_port_) + " ping", &out) == 0 &&
        out.find("PONG") != std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("redis-server did not start: " + ReadFile(dir() + "/redis.log"));
}

void TestCluster::StopRedis() { redis_.Stop(); }

void TestCluster::StartReplicator() {
  std::vector<std::string> argv = {BinaryPath("dfs-replicator"), "--redis", redis_address(),
                                   "--master", master_list(), "--log-level", "debug"};
  auto security = SecurityArgs(false);
  argv.insert(argv.end(), security.begin(), security.end());
  argv.insert(argv.end(), options_.replicator_args.begin(), options_.replicator_args.end());
  replicator_ = Subprocess(argv, dir() + "/replicator.log", RedisEnv());
}

void TestCluster::StopReplicator() { replicator_.Stop(); }

bool TestCluster::WaitNodesUp(int n, std::chrono::milliseconds timeout) {
  auto ep = ParseEndpoint(master_url());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto cli = MakeClient(*ep);
    if (auto res = cli->Get("/api/v1/nodes"); res && res->status == 200) {
      auto json = nlohmann::json::parse(res->body, nullptr, false);
      int up = 0;
      if (json.is_object() && json.contains("nodes")) {
        for (const auto& node : json["nodes"]) {
          if (node.value("state", "") == "up") ++up;
        }
      }
      if (up >= n) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

int TestCluster::Cli(const std::string& args, std::string* out) const {
  std::string security;
  for (const auto& a : SecurityArgs(false)) security += " '" + a + "'";
  return RunCommand(BinaryPath("dfs") + " --master " + master_url() + security + " " + args, out);
}

}  // namespace dfs::testing
