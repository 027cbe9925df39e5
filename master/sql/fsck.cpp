// SqlStore::CheckConsistency: an fsck of the database, read in one
// transaction. Each check is one query whose rows are the problems, so a
// consistent store costs a few scans and reports nothing.
#include <string>
#include <vector>

#include "common/path.h"
#include "master/sql/sql_store.h"
#include "master/sql/tree.h"

namespace dfs::master {
namespace {

struct Check {
  const char* what;  // printed before the offending row's columns
  const char* sql;   // each row is one problem; every column is printed
};

const Check kChecks[] = {
    {"inode without a name (and no open handle)",
     "SELECT ino FROM inodes i WHERE ino <> 1 AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.ino = i.ino) "
     "AND NOT EXISTS (SELECT 1 FROM open_handles h WHERE h.ino = i.ino)"},
    {"open handle on no inode", "SELECT handle FROM open_handles h WHERE NOT EXISTS "
                                "(SELECT 1 FROM inodes i WHERE i.ino = h.ino)"},
    {"entry naming no inode", "SELECT parent, ino FROM entries e WHERE NOT EXISTS "
                              "(SELECT 1 FROM inodes i WHERE i.ino = e.ino)"},
    {"entry in what is not a folder", "SELECT e.parent, e.ino FROM entries e JOIN inodes p ON p.ino = e.parent "
                                      "WHERE p.type <> 'dir'"},
    {"non-folder whose nlink is not its names (ino, nlink, names)",
     "SELECT ino, nlink, n FROM (SELECT i.ino, i.nlink, i.type, (SELECT COUNT(*) FROM entries e WHERE e.ino = i.ino) "
     "AS n FROM inodes i) t WHERE type <> 'dir' AND nlink <> n"},
    {"folder whose nlink is not 2 + subfolders (ino, nlink, subfolders)",
     "SELECT ino, nlink, n FROM (SELECT i.ino, i.nlink, i.type, (SELECT COUNT(*) FROM entries e JOIN inodes c "
     "ON c.ino = e.ino WHERE e.parent = i.ino AND c.type = 'dir') AS n FROM inodes i) t "
     "WHERE type = 'dir' AND nlink <> 2 + n"},
    {"folder with more than one name", "SELECT e.ino, COUNT(*) FROM entries e JOIN inodes i ON i.ino = e.ino "
                                       "WHERE i.type = 'dir' GROUP BY e.ino HAVING COUNT(*) > 1"},
    {"content of what is not a file", "SELECT c.ino FROM contents c LEFT JOIN inodes i ON i.ino = c.ino "
                                      "WHERE i.type IS DISTINCT FROM 'file'"},
    {"file without content", "SELECT i.ino FROM inodes i WHERE i.type = 'file' AND NOT EXISTS "
                             "(SELECT 1 FROM contents c WHERE c.ino = i.ino)"},
    {"file whose chunks do not add up to its size (ino, size, chunk bytes, chunks)",
     "SELECT i.ino, i.size, COALESCE(SUM(ch.size), 0) AS bytes, COUNT(ch.idx) AS n FROM contents c "
     "JOIN inodes i ON i.ino = c.ino LEFT JOIN chunks ch ON ch.ino = c.ino GROUP BY i.ino, i.size "
     "HAVING COALESCE(SUM(ch.size), 0) <> i.size OR COUNT(ch.idx) = 0"},
    {"chunk not where the one before it ends (ino, idx)",
     "SELECT ch.ino, ch.idx FROM chunks ch WHERE ch.\"offset\" IS DISTINCT FROM COALESCE((SELECT p.\"offset\" + p.size "
     "FROM chunks p "
     "WHERE p.ino = ch.ino AND p.idx = ch.idx - 1), CASE WHEN ch.idx = 0 THEN 0 END)"},
    {"chunk of what is not a file (ino, idx)", "SELECT ch.ino, ch.idx FROM chunks ch WHERE NOT EXISTS "
                                               "(SELECT 1 FROM contents c WHERE c.ino = ch.ino)"},
    {"file counter disagrees (counted, recorded)",
     "SELECT n, v FROM (SELECT (SELECT COUNT(*) FROM contents) AS n, "
     "COALESCE((SELECT value FROM counters WHERE name = 'files'), 0) AS v) t WHERE n <> v"},
    {"byte counter disagrees (counted, recorded)",
     "SELECT n, v FROM (SELECT (SELECT COALESCE(SUM(i.size), 0) FROM contents c JOIN inodes i ON i.ino = c.ino) AS n, "
     "COALESCE((SELECT value FROM counters WHERE name = 'bytes'), 0) AS v) t WHERE n <> v"},
};

// The problem `check` reports for the current row of q.
std::string Describe(const Check& check, const Statement& q, int columns) {
  std::string line = check.what;
  for (int c = 0; c < columns; ++c) line += (c == 0 ? ": " : ", ") + q.Text(c);
  return line;
}

// Names the path API could not have made: empty, "." or "..", a '/', too
// long, not UTF-8, control characters.
void CheckNames(Database& db, std::vector<std::string>& problems) {
  auto q = db.Prepare("SELECT parent, name FROM entries");
  while (q.Step()) {
    const std::string name = q.Blob(1);
    if (name.find('/') != std::string::npos || !ValidatePath(name).ok()) {
      problems.push_back("invalid name in folder " + q.Text(0) + ": " + std::to_string(name.size()) + " bytes '" +
                         name.substr(0, 64) + "'");
    }
  }
}

}  // namespace

Result<std::vector<std::string>> SqlStore::CheckConsistency() {
  std::vector<std::string> problems;
  Status st = WithTransaction([&](Database& db) -> Status {
    problems.clear();  // a rerun starts over
    CheckNames(db, problems);
    for (const Check& check : kChecks) {
      auto q = db.Prepare(check.sql);
      while (q.Step()) problems.push_back(Describe(check, q, q.ColumnCount()));
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return problems;
}

}  // namespace dfs::master
