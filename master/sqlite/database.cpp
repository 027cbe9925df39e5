#include "master/sqlite/database.h"

namespace dfs::master {

namespace {
sqlite3_stmt* Compile(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  if (rc != SQLITE_OK) throw SqliteError(rc, std::string("prepare: ") + sqlite3_errmsg(db) + " in: " + std::string(sql));
  return raw;
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db), stmt_(Compile(db, sql)) {}

Statement::Statement(sqlite3* db, sqlite3_stmt* cached, bool* in_use) : db_(db), stmt_(cached), in_use_(in_use) {
  *in_use_ = true;
}

Statement::~Statement() {
  if (in_use_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement Database::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    if (cache_.size() >= kMaxCached) return Statement(db_, sql);
    it = cache_.emplace(std::string(sql), Cached{Compile(db_, sql), false}).first;
  }
  if (it->second.in_use) return Statement(db_, sql);
  return Statement(db_, it->second.stmt, &it->second.in_use);
}

Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, std::string_view value) {
  // A zero-length blob still binds as a blob (a NULL pointer would bind NULL).
  static const char kEmpty = 0;
  sqlite3_bind_blob(stmt_, index, value.empty() ? &kEmpty : value.data(), static_cast<int>(value.size()),
                    SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SqliteError(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int col) const {
  auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}
std::string Statement::Blob(int col) const {
  auto* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : std::string();
}
int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::Real(int col) const { return sqlite3_column_double(stmt_, col); }
bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return Status::IOError("open database " + path + ": " + msg);
  }
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_busy_timeout(raw, 10000);
  try {
    db->Exec("PRAGMA journal_mode=WAL");
    db->Exec("PRAGMA synchronous=FULL");
    db->Exec("PRAGMA foreign_keys=ON");
  } catch (const SqliteError& e) {
    return Status::IOError(std::string("configure database: ") + e.what());
  }
  return db;
}

Database::~Database() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

void Database::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw SqliteError(rc, msg);
  }
}

}  // namespace dfs::master
