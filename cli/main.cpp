// dfs: the command-line client. Parses flags and dispatches to commands.
#include <csignal>

#include <CLI/CLI.hpp>

#include "common/flag_parsing.h"
#include "common/security_flags.h"

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"dfs: command-line client for the dfs distributed file system"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags after the command too: `dfs nodes --json`
  app.footer(
      "Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 checksum mismatch, 5 cluster unavailable,\n"
      "6 already exists (put --fail-if-exists), 7 access denied (token, or the caller's uid/gid/groups).\nThe master comes from --master, $DFS_MASTER or http://127.0.0.1:8820.");
  dfs::ClientOptions options;
  dfs::cli::Output out;
  double timeout_s = 30;
  int attempts = 5;
  app.set_config("--config", "", "ini/toml config file (keys: master, timeout, ...)");
  app.add_option("--master", options.master_url, "master URL, or URL,URL,... (a dead master costs a retry on the next)")->envname("DFS_MASTER");
  app.add_flag("--json", out.json, "machine-readable output");
  dfs::SecurityFlags security;
  security.Add(app, /*server=*/false);
  app.add_option("--timeout", timeout_s, "seconds before a silent request fails")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--attempts", attempts, "tries for requests that fail with a retryable error")
      ->check(CLI::Range(1, 100));

  std::string file, name, dest, prefix;
  bool overwrite = false, fail_if_exists = false, durable = false;
  int replicas = -1;
  auto* put = app.add_subcommand("put", "upload FILE as NAME (default: its base name)");
  put->add_option("FILE", file, "local file")->required();
  put->add_option("NAME", name, "name in dfs");
  auto* ow = put->add_flag("--overwrite", overwrite, "replace an existing file of that name");
  put->add_flag("--fail-if-exists", fail_if_exists, "fail instead of renaming when the name is taken")->excludes(ow);
  put->add_option("--replicas", replicas, "extra copies (default: the cluster's)")->check(CLI::Range(0, 16));

  auto* get = app.add_subcommand("get", "download NAME to DEST (default: its base name; '-' for stdout)");
  get->add_option("NAME", name, "name in dfs")->required();
  get->add_option("DEST", dest, "local path, folder or -");
  get->add_flag("--fsync", durable, "have the file on the local disk before it takes its name (a power failure then "
                                    "leaves the old file or the whole new one)");

  auto* ls = app.add_subcommand("ls", "list files whose names start with PREFIX");
  ls->add_option("PREFIX", prefix, "name prefix");

  auto* rm = app.add_subcommand("rm", "delete NAME");
  rm->add_option("NAME", name, "name in dfs")->required();

  auto* mkdir = app.add_subcommand("mkdir", "make folder NAME (its parent must exist)");
  mkdir->add_option("NAME", name, "folder name in dfs")->required();
  auto* rmdir = app.add_subcommand("rmdir", "remove folder NAME (it must be empty)");
  rmdir->add_option("NAME", name, "folder name in dfs")->required();

  auto* stat = app.add_subcommand("stat", "show NAME's size, md5, version and copies");
  stat->add_option("NAME", name, "name in dfs")->required();

  auto* nodes = app.add_subcommand("nodes", "list storage nodes");
  std::string node_id;
  auto* drain = app.add_subcommand("drain", "stop placing files on NODE and copy its files elsewhere");
  drain->add_option("NODE", node_id, "node id (see `dfs nodes`)")->required();
  auto* undrain = app.add_subcommand("undrain", "put a drained NODE back in service");
  undrain->add_option("NODE", node_id, "node id")->required();
  auto* replication = app.add_subcommand("replication", "show under-replicated files and the replication queue");
  auto* dead = app.add_subcommand("dead", "list replication jobs that failed for good");
  std::vector<std::string> ids;
  auto* requeue = app.add_subcommand("requeue", "put dead replication jobs back in the queue ('all' for every one)");
  requeue->add_option("ID", ids, "dead job ids from `dfs dead`, or all")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

  try {
    dfs::ParseFlags(app, argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every usage error exits 2 (CLI11's own codes vary).
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!security.Apply("dfs")) return dfs::cli::kExitUsage;
  auto ms = std::chrono::milliseconds(static_cast<long>(timeout_s * 1000));
  options.timeouts = {std::min(ms, std::chrono::milliseconds(5000)), ms, ms};
  options.max_attempts = attempts;
  // Every request names this process (X-Dfs-Uid/-Gid/-Groups): what it creates
  // is its own, and the master checks POSIX permissions for it.
  options.credentials = dfs::ProcessCredentials();
  auto client = dfs::DfsClient::Create(options);
  if (!client.ok()) {
    std::cerr << "dfs: " << client.status().message() << "\n";
    return dfs::cli::kExitUsage;
  }
  if (*put) {
    dfs::PutOptions po;
    po.conflict = overwrite ? "overwrite" : fail_if_exists ? "fail" : "rename";
    po.replicas = replicas;
    return dfs::cli::CmdPut(*client, out, file, name, po);
  }
  if (*get) return dfs::cli::CmdGet(*client, out, name, dest, durable);
  if (*ls) return dfs::cli::CmdLs(*client, out, prefix);
  if (*rm) return dfs::cli::CmdRm(*client, out, name);
  if (*mkdir) return dfs::cli::CmdMkdir(*client, out, name);
  if (*rmdir) return dfs::cli::CmdRmdir(*client, out, name);
  if (*stat) return dfs::cli::CmdStat(*client, out, name);
  if (*nodes) return dfs::cli::CmdNodes(*client, out);
  if (*drain) return dfs::cli::CmdDrain(*client, out, node_id, true);
  if (*undrain) return dfs::cli::CmdDrain(*client, out, node_id, false);
  if (*replication) return dfs::cli::CmdReplication(*client, out);
  if (*dead) return dfs::cli::CmdDead(*client, out);
  if (*requeue) return dfs::cli::CmdRequeue(*client, out, ids);
  return dfs::cli::kExitUsage;
}
