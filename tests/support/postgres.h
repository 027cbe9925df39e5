// A real PostgreSQL server for tests (Debian's postgresql-15: initdb and
// postgres from /usr/lib/postgresql/15/bin), on a free 127.0.0.1 port with
// its data in a TempDir, stopped by pid when the object goes (and killed
// with the test process if that dies first). As root it runs as the
// `postgres` user, which the package creates. initdb runs once per machine
// into a template folder under $TMPDIR that each server copies, so a server
// starts in well under a second.
//
// Each NewDatabaseUrl() is a fresh, empty schema (a store of its own) in
// the one database: postgres://dfs@127.0.0.1:PORT/dfs?options=-csearch_path%3D<schema>.
#pragma once

#include <string>

#include "tests/support/process.h"

namespace dfs::testing {

class PostgresServer {
 public:
  // Starts a server. Throws std::runtime_error when PostgreSQL is not
  // installed or does not start (the message says which).
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // One server per test process, started on first use.
  static PostgresServer& Shared();
  // True when initdb and postgres are installed.
  static bool Available();

  std::string NewDatabaseUrl();
  int port() const { return port_; }
  // SIGKILL (as a crash would) and start again on the same port and data.
  void Kill();
  void Start();
  // Runs SQL through psql as the superuser; its exit code, output in *out.
  int Psql(const std::string& sql, std::string* out = nullptr);

 private:
  void WaitReady();
  TempDir dir_;
  std::string data_;
  int port_ = 0;
  int schemas_ = 0;
  Subprocess server_;
};

}  // namespace dfs::testing
