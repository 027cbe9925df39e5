// Database: one connection to the metadata database, the little the store
// needs of it, with two implementations: SQLite (sqlite_database.cpp, the
// embedded default) and PostgreSQL over libpq (postgres_database.cpp). The
// store's SQL is written once for both: `?` or `?N` placeholders (turned
// into $N for PostgreSQL), ON CONFLICT and RETURNING, names as bytes
// (BindBlob / Blob), booleans compared as integers.
//
// A Statement is executed by its first Step() and stepped through its rows;
// Reset() lets it run again with new bindings. Errors are thrown as
// SqlError (never returned), and MetadataStore's methods turn them into
// Status at their edge: a whole operation is retried when the error says a
// retry can succeed (a serialization failure, a deadlock, a lost
// connection), never when a COMMIT's outcome is unknown.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dfs::master {

enum class Dialect { kSqlite, kPostgres };

class SqlError : public std::exception {
 public:
  enum class Kind {
    kConstraint,     // a constraint refused the statement
    kRetry,          // serialization failure or deadlock: rerun the transaction
    kConnection,     // the connection broke before the transaction committed: rerun it
    kCommitUnknown,  // the connection broke during COMMIT: it may have committed
    kOther,
  };
  SqlError(Kind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  Kind kind() const { return kind_; }
  bool is_constraint() const { return kind_ == Kind::kConstraint; }
  bool retryable() const { return kind_ == Kind::kRetry || kind_ == Kind::kConnection; }

 private:
  Kind kind_;
  std::string message_;
};

// What a Statement holds of one implementation.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindText(int index, std::string_view value) = 0;
  virtual void BindBlob(int index, std::string_view value) = 0;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindReal(int index, double value) = 0;
  virtual void BindNull(int index) = 0;
  virtual bool Step() = 0;
  virtual void Reset() = 0;
  virtual std::string Text(int col) const = 0;
  virtual std::string Blob(int col) const = 0;
  virtual int64_t Int(int col) const = 0;
  virtual double Real(int col) const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual int ColumnCount() const = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

  Statement& Bind(int index, std::string_view value) {
    impl_->BindText(index, value);
    return *this;
  }
  Statement& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  // Bytes compared as bytes (names in the namespace, symlink targets).
  Statement& BindBlob(int index, std::string_view value) {
    impl_->BindBlob(index, value);
    return *this;
  }
  Statement& Bind(int index, int64_t value) {
    impl_->BindInt(index, value);
    return *this;
  }
  Statement& Bind(int index, double value) {
    impl_->BindReal(index, value);
    return *this;
  }
  Statement& BindNull(int index) {
    impl_->BindNull(index);
    return *this;
  }
  // Runs the statement on the first call; true while there is a row.
  bool Step() { return impl_->Step(); }
  void Run() { Step(); }
  // Ready to run again; bindings are cleared.
  void Reset() { impl_->Reset(); }

  std::string Text(int col) const { return impl_->Text(col); }
  std::string Blob(int col) const { return impl_->Blob(col); }
  int64_t Int(int col) const { return impl_->Int(col); }  // booleans read as 0 / 1
  double Real(int col) const { return impl_->Real(col); }
  bool IsNull(int col) const { return impl_->IsNull(col); }
  int ColumnCount() const { return impl_->ColumnCount(); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;
  // Runs one or more statements without results.
  virtual void Exec(const std::string& sql) = 0;
  virtual Statement Prepare(std::string_view sql) = 0;
  // Rows changed by the last statement run.
  virtual int64_t Changes() const = 0;
  virtual void Begin() = 0;
  // Throws SqlError kCommitUnknown when the outcome cannot be known.
  virtual void Commit() = 0;
  virtual void Rollback() = 0;  // never throws
  // Begin for a transaction whose commit need not reach the disk before
  // Commit returns (Transaction's kRelaxed): it is never half applied, and
  // a power failure may undo it (not a crash of the master: the database
  // has it). EndRelaxed (never throws) restores full commits after it.
  virtual void BeginRelaxed() { Begin(); }
  virtual void EndRelaxed() {}
  // False once the connection is known to be broken (a pool replaces it).
  virtual bool Healthy() const { return true; }
};

// How a transaction's commit is made durable. kFull: on the disk when
// Commit returns (what a client's change gets). kRelaxed: only for
// bookkeeping whose loss a power failure may cause and the master repairs
// on its own (leases, heartbeats, published marks, recorded copies: see
// docs/namespace.md "Durability of commits"); the next full commit takes it
// to the disk too.
enum class Durability { kFull, kRelaxed };

// While one lives, the transactions this thread begins without saying
// otherwise are kRelaxed: for a request whose client asked for it (the
// mount's creates and unlinks: docs/namespace.md "Durability of commits").
class RelaxedCommits {
 public:
  RelaxedCommits() : previous_(active_) { active_ = true; }
  ~RelaxedCommits() { active_ = previous_; }
  RelaxedCommits(const RelaxedCommits&) = delete;
  RelaxedCommits& operator=(const RelaxedCommits&) = delete;
  static bool Active() { return active_; }
  // kRelaxed commits made so far (by any thread): a syncer takes them to the disk.
  static uint64_t Count() { return count_.load(); }
  static void Counted() { count_.fetch_add(1); }

 private:
  static inline thread_local bool active_ = false;
  static inline std::atomic<uint64_t> count_{0};
  const bool previous_;
};

// Begin ... Commit, rolled back if not committed (exception paths).
class Transaction {
 public:
  explicit Transaction(Database& db)
      : Transaction(db, RelaxedCommits::Active() ? Durability::kRelaxed : Durability::kFull) {}
  Transaction(Database& db, Durability durability)
      : db_(db), relaxed_(durability == Durability::kRelaxed) {
    if (relaxed_) {
      db_.BeginRelaxed();
    } else {
      db_.Begin();
    }
  }
  ~Transaction() {
    if (!done_) db_.Rollback();
    if (relaxed_) db_.EndRelaxed();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit() {
    done_ = true;
    db_.Commit();
    if (relaxed_) RelaxedCommits::Counted();
  }

 private:
  Database& db_;
  const bool relaxed_;
  bool done_ = false;
};

}  // namespace dfs::master
