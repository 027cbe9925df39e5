// PostgresDatabase (postgres_database.h).
#include "master/sql/postgres_database.h"

#include <cstdlib>
#include <vector>

namespace dfs::master {

namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kBoolOid = 16;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

// bytea's text form is "\x" and two hex digits per byte.
std::string DecodeBytea(const char* p, int len) {
  if (len < 2 || p[0] != '\\' || p[1] != 'x') return std::string(p, static_cast<size_t>(len));
  std::string out;
  out.reserve(static_cast<size_t>(len - 2) / 2);
  for (int i = 2; i + 1 < len; i += 2) out.push_back(static_cast<char>(HexValue(p[i]) * 16 + HexValue(p[i + 1])));
  return out;
}

class PostgresStatement final : public StatementImpl {
 public:
  PostgresStatement(PostgresDatabase& db, const PostgresDatabase::Prepared& prepared)
      : db_(db), name_(prepared.name), params_(prepared.params) {
    Clear();
  }

  void BindText(int i, std::string_view v) override { Set(i, std::string(v), false); }
  void BindBlob(int i, std::string_view v) override { Set(i, std::string(v), true); }
  void BindInt(int i, int64_t v) override { Set(i, std::to_string(v), false); }
  void BindReal(int i, double v) override {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    Set(i, buf, false);
  }
  void BindNull(int i) override {
    Check(i);
    null_[static_cast<size_t>(i - 1)] = true;
  }

  bool Step() override {
    if (!res_) Execute();
    return ++row_ < rows_;
  }
  void Reset() override {
    res_.reset();
    Clear();
  }

  std::string Text(int col) const override { return Value(col); }
  std::string Blob(int col) const override { return Value(col); }
  int64_t Int(int col) const override {
    const char* p = PQgetvalue(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kBoolOid) return p[0] == 't' ? 1 : 0;
    return std::strtoll(p, nullptr, 10);
  }
  double Real(int col) const override { return std::strtod(PQgetvalue(res_.get(), row_, col), nullptr); }
  bool IsNull(int col) const override { return PQgetisnull(res_.get(), row_, col) != 0; }
  int ColumnCount() const override { return res_ ? PQnfields(res_.get()) : 0; }

 private:
  void Check(int i) const {
    if (i < 1 || i > params_) throw SqlError(SqlError::Kind::kOther, "bind: no parameter $" + std::to_string(i));
  }
  void Set(int i, std::string v, bool binary) {
    Check(i);
    const auto k = static_cast<size_t>(i - 1);
    values_[k] = std::move(v);
    binary_[k] = binary;
    null_[k] = false;
  }
  void Clear() {
    values_.assign(static_cast<size_t>(params_), std::string());
    binary_.assign(static_cast<size_t>(params_), false);
    null_.assign(static_cast<size_t>(params_), true);
    row_ = -1;
    rows_ = 0;
  }

  void Execute() {
    std::vector<const char*> values(values_.size());
    std::vector<int> lengths(values_.size()), formats(values_.size());
    for (size_t k = 0; k < values_.size(); ++k) {
      values[k] = null_[k] ? nullptr : values_[k].data();
      lengths[k] = static_cast<int>(values_[k].size());
      formats[k] = binary_[k] ? 1 : 0;
    }
    res_.reset(PQexecPrepared(db_.conn(), name_.c_str(), params_, values.data(), lengths.data(), formats.data(), 0));
    const ExecStatusType st = res_ ? PQresultStatus(res_.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      SqlError e = db_.ErrorOf(res_.get(), "");
      res_.reset();
      throw e;
    }
    rows_ = PQntuples(res_.get());
    db_.set_changes(std::strtoll(PQcmdTuples(res_.get()), nullptr, 10));
  }

  std::string Value(int col) const {
    const char* p = PQgetvalue(res_.get(), row_, col);
    const int len = PQgetlength(res_.get(), row_, col);
    if (PQftype(res_.get(), col) == kByteaOid) return DecodeBytea(p, len);
    return std::string(p, static_cast<size_t>(len));
  }

  PostgresDatabase& db_;
  const std::string name_;
  const int params_;
  std::vector<std::string> values_;
  std::vector<bool> binary_, null_;
  ResultPtr res_;
  int row_ = -1;
  int rows_ = 0;
};

}  // namespace

std::string ToDollarPlaceholders(std::string_view sql, int* params) {
  std::string out;
  out.reserve(sql.size() + 16);
  int highest = 0;
  char quote = 0;  // inside '...' or "..."
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
      out.push_back(c);
    } else if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '?') {
      size_t j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
      const int n = j > i + 1 ? std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()) : highest + 1;
      if (n > highest) highest = n;
      out += "$" + std::to_string(n);
      i = j - 1;
    } else {
      out.push_back(c);
    }
  }
  *params = highest;
  return out;
}

Result<std::unique_ptr<PostgresDatabase>> PostgresDatabase::Open(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) return Status::IOError("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::Unavailable("postgres: cannot connect: " + msg);
  }
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(conn));
  try {
    // Quiet NOTICEs (IF NOT EXISTS), and never wait forever for a lock.
    db->Exec("SET client_min_messages = warning; SET lock_timeout = '20s'");
  } catch (const SqlError& e) {
    return Status::IOError(std::string("postgres: configure session: ") + e.what());
  }
  return db;
}

PostgresDatabase::~PostgresDatabase() { PQfinish(conn_); }

SqlError PostgresDatabase::ErrorOf(const PGresult* res, const std::string& context) const {
  std::string msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  msg = context + msg;
  if (PQstatus(conn_) != CONNECTION_OK) return SqlError(SqlError::Kind::kConnection, msg);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state ? state : "";
  if (code == "40001" || code == "40P01") return SqlError(SqlError::Kind::kRetry, msg);
  if (code.rfind("23", 0) == 0) return SqlError(SqlError::Kind::kConstraint, msg);
  if (code.rfind("08", 0) == 0 || code == "57P01" || code == "57P02" || code == "57P03") {
    return SqlError(SqlError::Kind::kConnection, msg);
  }
  return SqlError(SqlError::Kind::kOther, msg);
}

void PostgresDatabase::Exec(const std::string& sql) {
  ResultPtr res(PQexec(conn_, sql.c_str()));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw ErrorOf(res.get(), "");
  changes_ = std::strtoll(PQcmdTuples(res.get()), nullptr, 10);
}

const PostgresDatabase::Prepared& PostgresDatabase::PrepareOnce(std::string_view sql) {
  auto it = prepared_.find(std::string(sql));
  if (it != prepared_.end()) return it->second;
  Prepared p;
  const std::string text = ToDollarPlaceholders(sql, &p.params);
  p.name = "s" + std::to_string(prepared_.size() + 1);
  ResultPtr res(PQprepare(conn_, p.name.c_str(), text.c_str(), 0, nullptr));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) throw ErrorOf(res.get(), "prepare: " + text + ": ");
  return prepared_.emplace(std::string(sql), std::move(p)).first->second;
}

Statement PostgresDatabase::Prepare(std::string_view sql) {
  return Statement(std::make_unique<PostgresStatement>(*this, PrepareOnce(sql)));
}

void PostgresDatabase::Commit() {
  ResultPtr res(PQexec(conn_, "COMMIT"));
  const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK) return;
  SqlError e = ErrorOf(res.get(), "commit: ");
  if (e.kind() == SqlError::Kind::kConnection) throw SqlError(SqlError::Kind::kCommitUnknown, e.what());
  throw e;
}

void PostgresDatabase::Rollback() {
  if (PQstatus(conn_) != CONNECTION_OK) return;
  ResultPtr res(PQexec(conn_, "ROLLBACK"));  // an error here means there was nothing to roll back
}

}  // namespace dfs::master
