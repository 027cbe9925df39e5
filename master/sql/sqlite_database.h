// SqliteDatabase: the Database interface (database.h) over the SQLite C
// API. Prepare keeps each SQL text's compiled statement and hands it out
// again (compiling was most of the cost of a small transaction); a statement
// borrowed from that cache is reset and unbound when its Statement goes,
// a fresh one (the cached one in use, or the cache full) finalized.
// Transactions are BEGIN IMMEDIATE: SQLite has one writer at a time, and
// taking the write lock at BEGIN means no transaction fails half-way for it.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "master/sql/database.h"

namespace dfs::master {

class SqliteDatabase final : public Database {
 public:
  // `path` is a file name, or ":memory:".
  static Result<std::unique_ptr<SqliteDatabase>> Open(const std::string& path);
  ~SqliteDatabase() override;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  Dialect dialect() const override { return Dialect::kSqlite; }
  void Exec(const std::string& sql) override;
  Statement Prepare(std::string_view sql) override;
  int64_t Changes() const override { return sqlite3_changes(db_); }
  void Begin() override { Exec("BEGIN IMMEDIATE"); }
  void Commit() override { Exec("COMMIT"); }
  void Rollback() override;
  // synchronous=NORMAL for the one transaction: in WAL mode its commit is
  // in the WAL (safe from a crash of the master) but not fsynced; the next
  // FULL commit (or a checkpoint) syncs it with its own.
  void BeginRelaxed() override;
  void EndRelaxed() override;

  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };

 private:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  static constexpr size_t kMaxCached = 512;
  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;  // nodes stay put: statements point at in_use
};

}  // namespace dfs::master
