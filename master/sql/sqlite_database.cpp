// SqliteDatabase (sqlite_database.h).
#include "master/sql/sqlite_database.h"

namespace dfs::master {

namespace {

SqlError ErrorOf(sqlite3* db, int rc, const std::string& context) {
  const bool constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
  return SqlError(constraint ? SqlError::Kind::kConstraint : SqlError::Kind::kOther, context + sqlite3_errmsg(db));
}

sqlite3_stmt* Compile(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) throw ErrorOf(db, rc, "prepare: " + std::string(sql) + ": ");
  return raw;
}

class SqliteStatement final : public StatementImpl {
 public:
  // Compiles `sql`; finalized when it goes.
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db), stmt_(Compile(db, sql)) {}
  // Borrows `cached` (which is idle); given back when it goes.
  SqliteStatement(sqlite3* db, SqliteDatabase::Cached* cached) : db_(db), stmt_(cached->stmt), cached_(cached) {
    cached_->in_use = true;
  }
  ~SqliteStatement() override {
    if (cached_) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      cached_->in_use = false;
    } else {
      sqlite3_finalize(stmt_);
    }
  }

  void BindText(int i, std::string_view v) override {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, std::string_view v) override {
    // A zero-length blob still binds as a blob (a NULL pointer would bind NULL).
    static const char kEmpty = 0;
    sqlite3_bind_blob(stmt_, i, v.empty() ? &kEmpty : v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) override { sqlite3_bind_int64(stmt_, i, v); }
  void BindReal(int i, double v) override { sqlite3_bind_double(stmt_, i, v); }
  void BindNull(int i) override { sqlite3_bind_null(stmt_, i); }

  bool Step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw ErrorOf(db_, sqlite3_extended_errcode(db_), "");
  }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string Text(int col) const override {
    auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  std::string Blob(int col) const override {
    auto* p = sqlite3_column_blob(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const override { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int ColumnCount() const override { return sqlite3_column_count(stmt_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  SqliteDatabase::Cached* cached_ = nullptr;  // set when borrowed from the cache
};

}  // namespace

Statement SqliteDatabase::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    if (cache_.size() >= kMaxCached) return Statement(std::make_unique<SqliteStatement>(db_, sql));
    it = cache_.emplace(std::string(sql), Cached{Compile(db_, sql), false}).first;
  }
  if (it->second.in_use) return Statement(std::make_unique<SqliteStatement>(db_, sql));
  return Statement(std::make_unique<SqliteStatement>(db_, &it->second));
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return Status::IOError("open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw));
  sqlite3_busy_timeout(raw, 10000);
  try {
    db->Exec("PRAGMA journal_mode=WAL");
    db->Exec("PRAGMA synchronous=FULL");
    db->Exec("PRAGMA foreign_keys=ON");
  } catch (const SqlError& e) {
    return Status::IOError(std::string("configure database: ") + e.what());
  }
  return db;
}

SqliteDatabase::~SqliteDatabase() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

void SqliteDatabase::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw SqlError((rc & 0xff) == SQLITE_CONSTRAINT ? SqlError::Kind::kConstraint : SqlError::Kind::kOther, msg);
  }
}

void SqliteDatabase::Rollback() {
  // Fails only when the transaction is already gone (SQLite rolled it back itself).
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteDatabase::BeginRelaxed() {
  Exec("PRAGMA synchronous=NORMAL");
  try {
    Begin();
  } catch (const SqlError&) {
    EndRelaxed();
    throw;
  }
}

void SqliteDatabase::EndRelaxed() { sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr); }

}  // namespace dfs::master
