#include "master/namespace_api.h"

#include <cstdlib>

#include "common/http_util.h"
#include "common/log.h"
#include "common/wire_types.h"
#include "common/path.h"
#include "master/http_api.h"
#include "master/request_parsing.h"

namespace dfs::master {
namespace {

nlohmann::json EntryToJson(const DirEntry& e) {
  wire::Entry w;
  w.name = e.name;
  w.type = ToString(e.type);
  w.ino = e.ino;
  w.size = e.size;
  w.mode = e.mode;
  w.uid = e.uid;
  w.gid = e.gid;
  w.nlink = e.nlink;
  w.mtime = e.mtime;
  w.atime = e.atime;
  w.ctime = e.ctime;
  w.mtime_ns = e.mtime_ns;
  w.atime_ns = e.atime_ns;
  w.ctime_ns = e.ctime_ns;
  w.md5 = e.md5;
  w.version = e.version;
  w.target = e.target;
  w.rdev = static_cast<uint64_t>(e.rdev);
  return w;
}

const Credentials* Caller(const std::optional<Credentials>& who) { return who ? &*who : nullptr; }

constexpr size_t kDefaultPage = 1000;
constexpr size_t kMaxPage = 10000;

// ?limit=N (1..kMaxPage, default kDefaultPage) and ?after=NAME (the `next` of the previous page).
Result<std::pair<std::string, size_t>> ParsePage(const httplib::Request& req) {
  size_t limit = kDefaultPage;
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || n == 0 || n > kMaxPage) {
      return Status::InvalidArgument("limit must be an integer from 1 to " + std::to_string(kMaxPage));
    }
    limit = static_cast<size_t>(n);
  }
  return std::make_pair(req.get_param_value("after"), limit);
}

}  // namespace

// Open handles (docs/protocol.md, "Open files"): open, fstat, renew, close.
void RegisterHandleRoutes(httplib::Server& server, NamespaceStore& names, double lease_s) {
  static const std::string kHandle = "/api/v1/handles/([0-9a-f]{32})";
  server.Post(R"(/api/v1/open/([\s\S]+))", [&names, lease_s](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    auto opened = names.OpenHandle(*path, lease_s, Caller(*who));
    if (!opened.ok()) return SendError(res, opened.status());
    auto entry = names.StatHandle(opened->handle);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 201, wire::OpenedHandle{opened->handle, lease_s, EntryToJson(*entry)});
  });
  server.Get(kHandle, [&names](const httplib::Request& req, httplib::Response& res) {
    auto entry = names.StatHandle(req.matches[1]);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
  server.Delete(kHandle, [&names](const httplib::Request& req, httplib::Response& res) {
    Status st = names.CloseHandle(req.matches[1]);
    if (!st.ok()) return SendError(res, st);
    res.status = 204;
  });
  server.Post("/api/v1/handles/renew", [&names, lease_s](const httplib::Request& req, httplib::Response& res) {
    auto list = ParseHandleList(req.body);
    if (!list.ok()) return SendError(res, list.status());
    auto gone = names.RenewHandles(list->handles, lease_s);
    if (!gone.ok()) return SendError(res, gone.status());
    SendJson(res, 200, {{"gone", *gone}, {"lease_s", lease_s}});
  });
}

void RegisterNamespaceRoutes(httplib::Server& server, NamespaceStore& names, double handle_lease_s,
                             std::function<Status()> sync_data) {
  RegisterHandleRoutes(server, names, handle_lease_s);
  auto list = [&names](const std::string& dir, const httplib::Request& req, httplib::Response& res) {
    auto page_args = ParsePage(req);
    if (!page_args.ok()) return SendError(res, page_args.status());
    auto page = names.List(dir, page_args->first, page_args->second);
    if (!page.ok()) return SendError(res, page.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : page->entries) out.push_back(EntryToJson(e));
    nlohmann::json body = {{"entries", out}};
    if (!page->next.empty()) body["next"] = page->next;
    SendJson(res, 200, body);
  };
  // Every commit so far on the disk, and every chunk stored ?sync=0 on its
  // node's, data first (the mount's fsync: docs/namespace.md "Durability of commits").
  server.Post("/api/v1/sync", [&names, sync_data](const httplib::Request&, httplib::Response& res) {
    Status st = sync_data ? sync_data() : Status::OK();
    if (st.ok()) st = names.Sync();
    if (!st.ok()) return SendError(res, st);
    res.status = 204;
  });
  server.Get("/api/v1/list", [list](const httplib::Request& req, httplib::Response& res) { list("", req, res); });
  server.Get(R"(/api/v1/list/([\s\S]+))", [list](const httplib::Request& req, httplib::Response& res) {
    auto dir = PathFromRequest(req);
    if (!dir.ok()) return SendError(res, dir.status());
    list(*dir, req, res);
  });
  server.Get(R"(/api/v1/stat/([\s\S]*))", [&names](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches[1];
    if (!path.empty()) {
      auto valid = PathFromRequest(req);
      if (!valid.ok()) return SendError(res, valid.status());
    }
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    auto entry = names.Stat(path, Caller(*who));
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
  server.Post(R"(/api/v1/dirs/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto mode = ParseMkdirMode(req.body);
    if (!mode.ok()) return SendError(res, mode.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    Status st = names.MakeDir(*path, *mode, req.get_param_value("parents") == "1", Caller(*who));
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "mkdir name=" << *path;
    SendJson(res, 201, {{"name", *path}, {"type", "dir"}});
  });
  server.Delete(R"(/api/v1/dirs/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    Status st = names.RemoveDir(*path, Caller(*who));
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "rmdir name=" << *path;
    res.status = 204;
  });
  server.Post("/api/v1/rename", [&names](const httplib::Request& req, httplib::Response& res) {
    auto rename = ParseRenameBody(req.body);
    if (!rename.ok()) return SendError(res, rename.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    const std::string& from = rename->from;
    const std::string& to = rename->to;
    Status st = names.Rename(from, to, rename->mode, Caller(*who));
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "rename name=" << from << " to=" << to;
    SendJson(res, 200, {{"from", from}, {"to", to}});
  });
  server.Patch(R"(/api/v1/files/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto change = ParseAttrChange(req.body);
    if (!change.ok()) return SendError(res, change.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    Status st = names.SetAttr(*path, *change, Caller(*who));
    if (!st.ok()) return SendError(res, st);
    auto entry = names.Stat(*path);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
  // New inodes of the other kinds; each answers 201 with the new entry.
  auto created = [](httplib::Response& res, const Result<DirEntry>& entry, const char* what) {
    if (!entry.ok()) return SendError(res, entry.status());
    DFS_LOG(INFO, "master") << what << " name=" << entry->name;
    SendJson(res, 201, EntryToJson(*entry));
  };
  server.Post("/api/v1/symlink", [&names, created](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseSymlinkBody(req.body);
    if (!body.ok()) return SendError(res, body.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    created(res, names.Symlink(body->path, body->target, Caller(*who)), "symlink");
  });
  server.Post("/api/v1/link", [&names, created](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseLinkBody(req.body);
    if (!body.ok()) return SendError(res, body.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    created(res, names.Link(body->from, body->to, Caller(*who)), "link");
  });
  server.Post("/api/v1/mknod", [&names, created](const httplib::Request& req, httplib::Response& res) {
    auto body = ParseMknodBody(req.body);
    if (!body.ok()) return SendError(res, body.status());
    auto who = ParseCredentials(req);
    if (!who.ok()) return SendError(res, who.status());
    created(res, names.MakeNode(body->path, body->type, body->mode, body->rdev, Caller(*who)), "mknod");
  });
}

}  // namespace dfs::master
