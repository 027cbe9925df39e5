// PostgresDatabase: the Database interface (database.h) over libpq, one
// connection. SQL comes in the store's shared form and is rewritten once per
// text: `?N` and `?` placeholders become $N. Each text is prepared once per
// connection (server-side, types inferred from where the parameters go) and
// then only executed. Results are read in text form; bytea columns are
// decoded from hex, booleans read as 0 / 1. Transactions run at READ
// COMMITTED; SQLSTATEs map to SqlError kinds: 40001 and 40P01 to kRetry,
// class 23 to kConstraint, a broken connection to kConnection (or
// kCommitUnknown during COMMIT).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "master/sql/database.h"

namespace dfs::master {

class PostgresDatabase final : public Database {
 public:
  // `conninfo`: a postgres:// or postgresql:// URL, or libpq key=value pairs.
  static Result<std::unique_ptr<PostgresDatabase>> Open(const std::string& conninfo);
  ~PostgresDatabase() override;
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  Dialect dialect() const override { return Dialect::kPostgres; }
  void Exec(const std::string& sql) override;
  Statement Prepare(std::string_view sql) override;
  int64_t Changes() const override { return changes_; }
  void Begin() override { Exec("BEGIN ISOLATION LEVEL READ COMMITTED"); }
  void Commit() override;
  void Rollback() override;
  // synchronous_commit off for the one transaction (the server may lose its
  // commit in a crash of its own; never half of it).
  void BeginRelaxed() override { Exec("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit TO off"); }
  bool Healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

  // For statements: the prepared name of `sql` (rewritten), preparing it on first use.
  struct Prepared {
    std::string name;
    int params = 0;
  };
  const Prepared& PrepareOnce(std::string_view sql);
  PGconn* conn() const { return conn_; }
  void set_changes(int64_t n) { changes_ = n; }
  // The SqlError for a failed result (or a broken connection when res is null).
  SqlError ErrorOf(const PGresult* res, const std::string& context) const;

 private:
  explicit PostgresDatabase(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
  std::unordered_map<std::string, Prepared> prepared_;
  int64_t changes_ = 0;
};

// The store's SQL with its `?N` / `?` placeholders as $N, and how many there are.
std::string ToDollarPlaceholders(std::string_view sql, int* params);

}  // namespace dfs::master
