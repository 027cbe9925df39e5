// Minimal RAII over the SQLite C API: a Database and prepared Statements.
// Database::Prepare keeps each SQL text's compiled statement and hands it out
// again (compiling was most of the cost of a small transaction); a Statement
// resets and unbinds a cached one when it goes, and finalizes its own.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace dfs::master {

class Statement {
 public:
  // Compiles `sql`; finalized when the Statement goes.
  Statement(sqlite3* db, std::string_view sql);
  // Borrows `cached` (which is idle); *in_use is cleared when the Statement goes.
  Statement(sqlite3* db, sqlite3_stmt* cached, bool* in_use);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::string_view value);
  // Bytes compared as bytes (names in the namespace); Text and Blob never compare equal in SQLite.
  Statement& BindBlob(int index, std::string_view value);
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& BindNull(int index);
  // SQLITE_ROW: true; SQLITE_DONE: false; anything else throws SqliteError.
  bool Step();
  void Run() { Step(); }
  void Reset();

  std::string Text(int col) const;
  std::string Blob(int col) const;
  int64_t Int(int col) const;
  double Real(int col) const;
  bool IsNull(int col) const;
  int ColumnCount() const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool* in_use_ = nullptr;  // set when borrowed from the cache
};

// Thrown by Statement on SQLite errors; MetadataStore turns it into a Status.
class SqliteError : public std::exception {
 public:
  SqliteError(int code, std::string message) : code_(code), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int code() const { return code_; }
  bool is_constraint() const { return (code_ & 0xff) == SQLITE_CONSTRAINT; }

 private:
  int code_;
  std::string message_;
};

class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void Exec(const std::string& sql);
  // The cached statement for `sql`, or a fresh one when that is in use
  // (a loop preparing the text it is stepping) or the cache is full.
  Statement Prepare(std::string_view sql);
  int64_t Changes() const { return sqlite3_changes(db_); }
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  static constexpr size_t kMaxCached = 512;
  sqlite3* db_;
  std::unordered_map<std::string, Cached> cache_;  // nodes stay put: Statements point at in_use
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed (exception paths).
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) { db_.Exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (!done_) {
      try {
        db_.Exec("ROLLBACK");
      } catch (const SqliteError&) {
        // The transaction is already gone (SQLite rolled it back itself).
      }
    }
  }
  void Commit() {
    db_.Exec("COMMIT");
    done_ = true;
  }

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace dfs::master
