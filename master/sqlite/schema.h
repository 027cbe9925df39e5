// CreateOrMigrateSchema: gives a new master database the current schema and
// migrates an older one in place, in one transaction (schema.cpp lists the
// versions). InvalidArgument for a database newer than this build.
#pragma once

#include "common/status.h"
#include "master/sqlite/database.h"

namespace dfs::master {

[[nodiscard]] Status CreateOrMigrateSchema(Database& db);

}  // namespace dfs::master
