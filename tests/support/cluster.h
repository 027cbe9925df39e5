// A real dfs cluster on loopback for integration tests: redis-server (when
// asked), dfs-master, N dfs-storage nodes and (when asked) dfs-replicator,
// each a child process with its own port, folder and log file. Everything is
// stopped by pid in the destructor.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/security.h"
#include "tests/support/process.h"

namespace dfs::testing {

struct ClusterOptions {
  int nodes = 3;
  bool redis = false;
  bool replicator = false;
  int replicas = 2;                 // extra copies per file (master --replicas)
  uint64_t node_capacity = 0;       // 0: disk size
  int heartbeat_ms = 200;
  int node_timeout_ms = 1500;       // master marks a silent node down after this
  int node_dead_ms = 4000;          // ... and re-replicates its files after this
  std::string master_db;            // the master's --db ("": master.db in the cluster's folder)
  // The masters' --metadata ("": SQLite at master_db). "postgres" (or
  // DFS_TEST_METADATA=postgres in the environment, for every cluster) is a
  // fresh store on the test process's PostgreSQL (tests/support/postgres.h).
  std::string metadata;
  int masters = 1;  // more than one needs a shared metadata store (postgres)
  std::vector<std::string> master_args;
  // The --master the nodes and the replicator get, "{master}" standing for
  // this cluster's master URL and "{masters}" for all its masters' URLs,
  // comma-separated ("": just master 0). E.g. "http://127.0.0.1:1,{master}"
  // puts a dead master first.
  std::string master_list;
  std::vector<std::string> storage_args;
  std::vector<std::string> replicator_args;
  // Security: a cluster token (and read-only token) given to every process
  // through files, TLS on every hop with a CA made for the test, a Redis
  // password. The test process's own clients (MakeClient) use the token and
  // the CA while the cluster lives.
  std::string token;
  std::string read_token;
  bool tls = false;
  std::string redis_password;
};

class TestCluster {
 public:
  explicit TestCluster(ClusterOptions options = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  const std::string& dir() const { return dir_.path(); }
  std::string master_url() const;
  std::string master_url(int i) const;  // 0 is master_url()
  int master_count() const { return 1 + static_cast<int>(extra_masters_.size()); }
  Subprocess& master(int i);
  const std::string& metadata() const { return options_.metadata; }
  // ClusterOptions::master_list with {master} and {masters} filled in (master_url() when unset).
  std::string master_list() const;
  std::string scheme() const { return options_.tls ? "https" : "http"; }
  // The CA certificate that signed the servers' certificate ("" without TLS).
  std::string ca_path() const;
  std::string token_path() const { return dir() + "/token"; }
  std::string master_db() const;
  // Master i's --spool (uploads in flight): its own folder under dir().
  std::string spool_dir(int i) const;
  int master_port() const { return master_port_; }
  Subprocess& master() { return master_; }
  void KillMaster();   // SIGKILL
  void KillMaster(int i);
  void StopMaster();   // SIGTERM
  void StartMaster();  // same port and database
  void StartMaster(int i);

  int node_count() const { return static_cast<int>(nodes_.size()); }
  std::string node_url(int i) const;
  std::string node_dir(int i) const;
  // The node id the node wrote into its data folder.
  std::string node_id(int i) const;
  Subprocess& node(int i);
  // Path of a blob on node i's disk (blob may or may not be there).
  std::string blob_path(int i, const std::string& blob_id) const;
  void KillNode(int i);
  void StopNode(int i);
  void StartNode(int i);  // restart with the same folder and port
  int AddNode(const std::vector<std::string>& extra_args = {});  // returns its index

  std::string redis_address() const;  // "127.0.0.1:PORT"
  int redis_port() const { return redis_port_; }
  void StopRedis();
  void StartRedis();
  void StopReplicator();
  void StartReplicator();
  Subprocess& replicator() { return replicator_; }

  // Waits until the master lists `n` nodes in state "up".
  bool WaitNodesUp(int n, std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

  // Runs the CLI against this cluster; returns exit code, output in *out.
  int Cli(const std::string& args, std::string* out = nullptr) const;

 private:
  struct Node {
    int port = 0;
    std::string dir;
    std::vector<std::string> extra_args;
    Subprocess process;
  };
  void StartNodeProcess(Node& node);
  // --token-file/--tls-* flags for a server (or a client) process.
  std::vector<std::string> SecurityArgs(bool server) const;
  std::vector<std::string> RedisEnv() const;

  std::vector<std::string> MasterArgs(int i, int port) const;
  struct ExtraMaster {
    int port = 0;
    Subprocess process;
  };

  ClusterOptions options_;
  TempDir dir_;
  std::vector<std::unique_ptr<ExtraMaster>> extra_masters_;
  int master_port_ = 0;
  int redis_port_ = 0;
  Subprocess redis_;
  Subprocess master_;
  Subprocess replicator_;
  std::vector<std::unique_ptr<Node>> nodes_;
  SecurityConfig saved_security_;
};

// A CA and a certificate for 127.0.0.1 signed by it (openssl command), in dir:
// ca.pem, server.pem, server.key.
void MakeTestCertificates(const std::string& dir);

}  // namespace dfs::testing
