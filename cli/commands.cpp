#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/format.h"
#include "common/path.h"

namespace dfs::cli {

namespace {
// `what` (the command and its name) prefixes a refusal of the caller's
// permissions, whose message from the master names no file.
int Fail(const Status& st, const std::string& what = "") {
  const std::string note = DeniedNote(st);
  std::cerr << "dfs: " << (note.empty() || what.empty() ? "" : what + ": ") << st.message() << note << "\n";
  return ExitCodeFor(st);
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump() << "\n"; }

nlohmann::json ToJson(const FileInfo& f) {
  return {{"name", f.name}, {"size", f.size}, {"md5", f.md5}, {"mtime", f.mtime}, {"mode", f.mode},
          {"version", f.version}};
}
}  // namespace

std::string DeniedNote(const Status& status, const Credentials& who) {
  if (status.code() != Code::kAccessDenied && status.code() != Code::kNotPermitted) return "";
  std::string note = " (as uid " + std::to_string(who.uid) + ", gid " + std::to_string(who.gid);
  if (!who.groups.empty()) note += ", groups " + FormatGroupList(who.groups);
  return note + ")";
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return kExitOk;
    case Code::kNotFound: return kExitNotFound;
    case Code::kChecksumMismatch: return kExitChecksum;
    case Code::kUnavailable: return kExitUnavailable;
    case Code::kAlreadyExists: return kExitExists;
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
    case Code::kAccessDenied:
    case Code::kNotPermitted: return kExitDenied;
    default: return kExitError;
  }
}

int CmdPut(const DfsClient& client, const Output& out, const std::string& file, const std::string& name,
           const PutOptions& options) {
  std::string remote = name.empty() ? std::filesystem::path(file).filename().string() : name;
  ProgressBar bar("put " + remote);
  PutOptions opts = options;
  opts.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto result = client.Put(file, remote, opts);
  if (!result.ok()) return Fail(result.status(), "put " + remote);
  if (result->renamed) {
    std::cerr << "note: '" << result->requested_name << "' already exists; stored as '" << result->name << "'\n";
  }
  if (out.json) {
    PrintJson({{"name", result->name}, {"requested_name", result->requested_name}, {"renamed", result->renamed},
               {"size", result->size}, {"md5", result->md5}, {"node", result->node}});
  } else {
    std::cout << result->name << "\n";
  }
  return kExitOk;
}

int CmdGet(const DfsClient& client, const Output& out, const std::string& name, const std::string& dest,
           bool durable) {
  Result<FileInfo> info = Status::OK();
  if (dest == "-") {
    info = client.GetStream(name, [](const char* data, size_t len) {
      return std::fwrite(data, 1, len, stdout) == len;
    });
    std::fflush(stdout);
    if (!info.ok()) return Fail(info.status(), "get " + name);
    return kExitOk;
  }
  std::string target = dest.empty() ? BaseName(name) : dest;
  if (std::filesystem::is_directory(target)) target = (std::filesystem::path(target) / BaseName(name)).string();
  {
    ProgressBar bar("get " + name);
    info = client.Get(name, target, [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); }, durable);
  }
  if (!info.ok()) return Fail(info.status(), "get " + name);
  if (out.json) {
    PrintJson({{"name", info->name}, {"path", target}, {"size", info->size}, {"md5", info->md5}});
  } else {
    std::cout << target << "\n";
  }
  return kExitOk;
}

int CmdLs(const DfsClient& client, const Output& out, const std::string& prefix) {
  auto files = client.List(prefix);
  if (!files.ok()) return Fail(files.status(), "ls " + prefix);
  if (out.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& f : *files) arr.push_back(ToJson(f));
    PrintJson({{"files", arr}});
    return kExitOk;
  }
  for (const auto& f : *files) {
    std::printf("%12llu  %s  %s\n", static_cast<unsigned long long>(f.size), FormatTime(f.mtime).c_str(),
                f.name.c_str());
  }
  return kExitOk;
}

int CmdRm(const DfsClient& client, const Output& out, const std::string& name) {
  Status st = client.Remove(name);
  if (!st.ok()) return Fail(st, "rm " + name);
  if (out.json) PrintJson({{"removed", name}});
  return kExitOk;
}

int CmdMkdir(const DfsClient& client, const Output& out, const std::string& name) {
  Status st = client.MakeDir(name);
  if (!st.ok()) return Fail(st, "mkdir " + name);
  if (out.json) PrintJson({{"created", name}});
  return kExitOk;
}

int CmdRmdir(const DfsClient& client, const Output& out, const std::string& name) {
  Status st = client.RemoveDir(name);
  if (!st.ok()) return Fail(st, "rmdir " + name);
  if (out.json) PrintJson({{"removed", name}});
  return kExitOk;
}

int CmdStat(const DfsClient& client, const Output& out, const std::string& name) {
  auto meta = client.Meta(name);
  if (!meta.ok()) return Fail(meta.status(), "stat " + name);
  if (out.json) {
    PrintJson(*meta);
    return kExitOk;
  }
  const auto& m = *meta;
  std::printf("name:     %s\n", m.value("name", "").c_str());
  std::printf("size:     %llu (%s)\n", static_cast<unsigned long long>(m.value("size", uint64_t{0})),
              HumanBytes(m.value("size", uint64_t{0})).c_str());
  std::printf("md5:      %s\n", m.value("md5", "").c_str());
  std::printf("modified: %s\n", FormatTime(m.value("mtime", 0.0)).c_str());
  std::printf("version:  %lld\n", static_cast<long long>(m.value("version", int64_t{0})));
  if (m.contains("primary")) std::printf("primary:  %s\n", m["primary"].value("node_id", "").c_str());
  if (m.contains("replicas")) {
    std::printf("copies:   %d good of %d wanted (%s)\n", m.value("good_copies", 0), m.value("want_copies", 0),
                m.value("fully_replicated", false) ? "fully replicated" : "under-replicated");
    for (const auto& r : m["replicas"]) {
      std::printf("  %-18s %-28s copy %-4s node %s\n", r.value("node_id", "").c_str(), r.value("url", "").c_str(),
                  r.value("state", "").c_str(), r.value("node_state", "").c_str());
    }
  }
  return kExitOk;
}

int CmdNodes(const DfsClient& client, const Output& out) {
  auto nodes = client.Nodes();
  if (!nodes.ok()) return Fail(nodes.status());
  if (out.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& n : *nodes) {
      arr.push_back({{"node_id", n.node_id}, {"url", n.url}, {"state", n.state}, {"capacity", n.capacity},
                     {"used", n.used}, {"free", n.free}, {"blobs", n.blobs}, {"last_heartbeat", n.last_heartbeat}});
    }
    PrintJson({{"nodes", arr}});
    return kExitOk;
  }
  std::printf("%-18s %-28s %-9s %11s %11s %8s  %s\n", "NODE", "URL", "STATE", "CAPACITY", "FREE", "BLOBS",
              "LAST HEARTBEAT");
  for (const auto& n : *nodes) {
    std::printf("%-18s %-28s %-9s %11s %11s %8llu  %s\n", n.node_id.c_str(), n.url.c_str(), n.state.c_str(),
                HumanBytes(n.capacity).c_str(), HumanBytes(n.free).c_str(), static_cast<unsigned long long>(n.blobs),
                FormatTime(n.last_heartbeat).c_str());
  }
  return kExitOk;
}

int CmdDrain(const DfsClient& client, const Output& out, const std::string& node_id, bool draining) {
  Status st = client.SetNodeDraining(node_id, draining);
  if (!st.ok()) return Fail(st);
  if (out.json) {
    PrintJson({{"node_id", node_id}, {"state", draining ? "draining" : "up"}});
  } else if (draining) {
    std::printf("%s: draining (no new files; its copies are being made elsewhere: watch `dfs replication`)\n",
                node_id.c_str());
  } else {
    std::printf("%s: up\n", node_id.c_str());
  }
  return kExitOk;
}

int CmdReplication(const DfsClient& client, const Output& out) {
  auto r = client.Replication();
  if (!r.ok()) return Fail(r.status());
  if (out.json) {
    PrintJson(*r);
    return kExitOk;
  }
  const auto& j = *r;
  std::printf("under-replicated files: %llu\n", static_cast<unsigned long long>(j.value("under_replicated", 0ULL)));
  std::printf("jobs not yet in redis:  %llu\n", static_cast<unsigned long long>(j.value("unpublished_jobs", 0ULL)));
  if (j.value("redis", "").empty()) {
    std::printf("queue:                  none (the master runs without --redis)\n");
  } else if (!j.value("redis_reachable", false)) {
    std::printf("queue:                  %s unreachable: %s\n", j.value("redis", "").c_str(),
                j.value("redis_error", "").c_str());
  } else {
    std::printf("queue:                  %s: %lld queued, %lld in progress, %lld dead\n", j.value("redis", "").c_str(),
                static_cast<long long>(j.value("queue_length", 0LL)), static_cast<long long>(j.value("pending", 0LL)),
                static_cast<long long>(j.value("dead", 0LL)));
  }
  return kExitOk;
}

int CmdDead(const DfsClient& client, const Output& out) {
  auto r = client.DeadJobs();
  if (!r.ok()) return Fail(r.status());
  if (out.json) {
    PrintJson(*r);
    return kExitOk;
  }
  const nlohmann::json dead = (*r)["dead"];
  if (dead.empty()) std::printf("no dead replication jobs\n");
  for (const auto& d : dead) {
    std::printf("%-22s blob %-32s %s\n", d.value("id", "").c_str(), d.value("blob_id", "?").c_str(),
                d.value("reason", "").c_str());
  }
  if (r->value("more", false)) {
    std::printf("... and more (the oldest %zu are listed; `dfs requeue all` takes every one)\n", dead.size());
  }
  return kExitOk;
}

int CmdRequeue(const DfsClient& client, const Output& out, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    Status st = client.RequeueDead(id);
    if (!st.ok()) return Fail(st);
    if (!out.json) std::printf("requeued %s\n", id.c_str());
  }
  if (out.json) PrintJson({{"requeued", ids}});
  return kExitOk;
}

}  // namespace dfs::cli
