// SQL helpers shared by MetadataStore and its extensions (NamespaceStore).
// Internal to master/: callers hold the store's lock (WithTransaction).
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "master/metadata_store.h"
#include "master/sqlite.h"

namespace dfs::master::sql {

// The columns ReadFileRow expects, in order.
extern const char* const kFileColumns;
FileRecord ReadFileRow(const Statement& s);
// The strings that start with `prefix`, as a half-open range [lo, hi) in
// byte order: `col >= lo AND col < hi` (kUnder) matches exactly them, by
// bytes, and uses the column's index. (LIKE is not used: SQLite compares it
// without case, so "a/" matched "A/x".)
struct PrefixRange {
  std::string lo, hi;
};
PrefixRange RangeOf(const std::string& prefix);
// "(path >= ?N AND path < ?M)" for the given column and parameter numbers.
std::string Under(const char* column, int lo_param, int hi_param);
// Moves every replica of the blob to the deletion queue.
void QueueDeletionsOf(Database& db, const std::string& blob_id);
// job_id: the request that caused the job (follows it into the replicator's logs); random if empty.
void InsertReplicationJob(Database& db, const FileRecord& file, const std::string& job_id = "");
std::optional<FileRecord> FileOfBlob(Database& db, const std::string& blob_id);
// A file may not sit where a directory is, nor under a path that is a file.
Status CheckNamespace(Database& db, const std::string& path);

}  // namespace dfs::master::sql
