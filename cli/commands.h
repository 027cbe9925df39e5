// The dfs CLI's commands over DfsClient. Each returns the process exit code;
// output goes to stdout (human or --json), errors to stderr.
#pragma once

#include <string>
#include <vector>

#include "common/client/dfs_client.h"

namespace dfs::cli {

// Exit codes, also listed in `dfs --help`.
enum ExitCode {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitNotFound = 3,
  kExitChecksum = 4,
  kExitUnavailable = 5,
  kExitExists = 6,
  kExitDenied = 7,  // no, a wrong, or a read-only token
};

int ExitCodeFor(const Status& status);
// " (as uid U, gid G, groups A,B)" for a refusal of the caller's permissions
// (access_denied, not_permitted), else "": the master checked `who`, the
// credentials every request of the CLI carries.
std::string DeniedNote(const Status& status, const Credentials& who = ProcessCredentials());

struct Output {
  bool json = false;
};

int CmdPut(const DfsClient& client, const Output& out, const std::string& file, const std::string& name,
           const PutOptions& options);
int CmdGet(const DfsClient& client, const Output& out, const std::string& name, const std::string& dest,
           bool durable);
int CmdLs(const DfsClient& client, const Output& out, const std::string& prefix);
int CmdRm(const DfsClient& client, const Output& out, const std::string& name);
int CmdMkdir(const DfsClient& client, const Output& out, const std::string& name);
int CmdRmdir(const DfsClient& client, const Output& out, const std::string& name);
int CmdStat(const DfsClient& client, const Output& out, const std::string& name);
int CmdNodes(const DfsClient& client, const Output& out);
int CmdDrain(const DfsClient& client, const Output& out, const std::string& node_id, bool draining);
int CmdReplication(const DfsClient& client, const Output& out);
int CmdDead(const DfsClient& client, const Output& out);
int CmdRequeue(const DfsClient& client, const Output& out, const std::vector<std::string>& ids);

}  // namespace dfs::cli
