// CreateOrMigrate*Schema: give a new master database the current schema and
// migrate an older one in place, in one transaction (sqlite_schema.cpp and
// postgres_schema.cpp list the versions). InvalidArgument for a database newer than this build.
#pragma once

#include "common/status.h"
#include "master/sql/database.h"

namespace dfs::master {

[[nodiscard]] Status CreateOrMigrateSqliteSchema(Database& db);
[[nodiscard]] Status CreateOrMigratePostgresSchema(Database& db);

}  // namespace dfs::master
