// PostgresServer (postgres.h).
#include "tests/support/postgres.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace dfs::testing {

namespace {

const char* const kBin = "/usr/lib/postgresql/15/bin";

struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Root runs the server as `postgres`; anyone else as themselves.
RunAs ServerUser() {
  if (geteuid() != 0) return {};
  const passwd* pw = getpwnam("postgres");
  if (!pw) throw std::runtime_error("PostgreSQL tests as root need the postgres user (apt-get install postgresql-15)");
  return {pw->pw_uid, pw->pw_gid};
}

std::string AsServerUser(const std::string& command) {
  return geteuid() == 0 ? "runuser -u postgres -- " + command : command;
}

void Chown(const std::string& path, RunAs who) {
  if (who.uid != 0 && chown(path.c_str(), who.uid, who.gid) != 0) {
    throw std::runtime_error("chown " + path + " failed");
  }
}

std::string TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}

// An initdb'd data folder every server copies: made once, by whichever test
// gets here first (in a folder of its own, renamed into place).
std::string TemplateData() {
  const std::string tpl = TempRoot() + "/dfs-pg-template-15-" + std::to_string(geteuid());
  if (std::filesystem::exists(tpl + "/data/PG_VERSION")) return tpl + "/data";
  const RunAs who = ServerUser();
  std::string staging = tpl + ".tmp" + std::to_string(getpid());
  std::filesystem::remove_all(staging);
  std::filesystem::create_directories(staging);
  Chown(staging, who);
  std::string out;
  const std::string cmd = AsServerUser(std::string(kBin) + "/initdb -D " + staging +
                                       "/data -U dfs --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync");
  if (RunCommand(cmd + " 2>&1", &out) != 0) {
    std::filesystem::remove_all(staging);
    throw std::runtime_error("initdb failed: " + out);
  }
  std::error_code ec;
  std::filesystem::rename(staging, tpl, ec);
  if (ec) std::filesystem::remove_all(staging);  // another test made it meanwhile
  return tpl + "/data";
}

}  // namespace

bool PostgresServer::Available() { return std::filesystem::exists(std::string(kBin) + "/postgres"); }

PostgresServer::PostgresServer() {
  if (!Available()) throw std::runtime_error(std::string("PostgreSQL is not installed (no ") + kBin + "/postgres)");
  const RunAs who = ServerUser();
  Chown(dir_.path(), who);
  data_ = dir_.path() + "/data";
  std::string out;
  if (RunCommand("cp -a " + TemplateData() + " " + data_ + " 2>&1", &out) != 0) {
    throw std::runtime_error("copying the PostgreSQL template failed: " + out);
  }
  port_ = FreePort();
  Start();
  if (Psql("CREATE DATABASE dfs", &out) != 0) throw std::runtime_error("CREATE DATABASE failed: " + out);
}

PostgresServer::~PostgresServer() { server_.Stop(std::chrono::milliseconds(10000)); }

PostgresServer& PostgresServer::Shared() {
  static PostgresServer server;
  return server;
}

void PostgresServer::Start() {
  const RunAs who = ServerUser();
  server_ = Subprocess({std::string(kBin) + "/postgres", "-D", data_, "-p", std::to_string(port_), "-k", dir_.path(),
                        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB"},
                       dir_.path() + "/postgres.log", {}, who.uid, who.gid);
  WaitReady();
}

void PostgresServer::Kill() { server_.Kill(); }

void PostgresServer::WaitReady() {
  const std::string probe = std::string(kBin) + "/pg_isready -q -h 127.0.0.1 -p " + std::to_string(port_);
  const bool ready = WaitUntil([&] { return RunCommand(probe) == 0 || !server_.running(); }, std::chrono::seconds(30));
  if (!ready || !server_.running()) {
    throw std::runtime_error("postgres did not start: " + ReadFile(dir_.path() + "/postgres.log"));
  }
}

int PostgresServer::Psql(const std::string& sql, std::string* out) {
  return RunCommand(std::string(kBin) + "/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " + std::to_string(port_) +
                        " -U dfs -d " + (sql.rfind("CREATE DATABASE", 0) == 0 ? "postgres" : "dfs") + " -c \"" +
                        sql + "\" 2>&1",
                    out);
}

std::string PostgresServer::NewDatabaseUrl() {
  const std::string schema = "t" + std::to_string(getpid()) + "_" + std::to_string(++schemas_);
  std::string out;
  if (Psql("CREATE SCHEMA " + schema, &out) != 0) throw std::runtime_error("CREATE SCHEMA failed: " + out);
  return "postgres://dfs@127.0.0.1:" + std::to_string(port_) + "/dfs?options=-csearch_path%3D" + schema;
}

}  // namespace dfs::testing
