// The metadata suites run against both MetadataStore implementations: a
// fixture takes a Backend as its parameter and opens StoreUrl(backend, dir)
// (SQLite in the test's folder, or a fresh schema on a real PostgreSQL
// server this test process starts: tests/support/postgres.h).
#pragma once

#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/postgres.h"
#include "tests/support/process.h"

namespace dfs::master {

enum class Backend { kSqlite, kPostgres };

inline void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqlite ? "sqlite" : "postgres");
}

inline std::string StoreUrl(Backend backend, const testing::TempDir& dir) {
  if (backend == Backend::kSqlite) return dir.path() + "/meta.db";
  return testing::PostgresServer::Shared().NewDatabaseUrl();
}

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

#define DFS_INSTANTIATE_FOR_BACKENDS(Fixture) \
  INSTANTIATE_TEST_SUITE_P(Stores, Fixture, ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName)

}  // namespace dfs::master
