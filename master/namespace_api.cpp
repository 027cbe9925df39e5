#include "master/namespace_api.h"

#include "common/http_util.h"
#include "common/log.h"
#include "common/path.h"
#include "master/http_api.h"
#include "master/request_parsing.h"

namespace dfs::master {
namespace {

nlohmann::json EntryToJson(const DirEntry& e) {
  nlohmann::json j = {{"name", e.name}, {"type", e.is_dir ? "dir" : "file"}, {"size", e.size},
                      {"mtime", e.mtime}, {"mode", e.mode}};
  if (!e.is_dir) {
    j["md5"] = e.md5;
    j["version"] = e.version;
  }
  return j;
}

}  // namespace

void RegisterNamespaceRoutes(httplib::Server& server, NamespaceStore& names) {
  auto list = [&names](const std::string& dir, httplib::Response& res) {
    auto entries = names.List(dir);
    if (!entries.ok()) return SendError(res, entries.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : *entries) out.push_back(EntryToJson(e));
    SendJson(res, 200, {{"entries", out}});
  };
  server.Get("/api/v1/list", [list](const httplib::Request&, httplib::Response& res) { list("", res); });
  server.Get(R"(/api/v1/list/([\s\S]+))", [list](const httplib::Request& req, httplib::Response& res) {
    auto dir = PathFromRequest(req);
    if (!dir.ok()) return SendError(res, dir.status());
    list(*dir, res);
  });
  server.Get(R"(/api/v1/stat/([\s\S]*))", [&names](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches[1];
    if (!path.empty()) {
      auto valid = PathFromRequest(req);
      if (!valid.ok()) return SendError(res, valid.status());
    }
    auto entry = names.Stat(path);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
  server.Post(R"(/api/v1/dirs/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto mode = ParseMkdirMode(req.body);
    if (!mode.ok()) return SendError(res, mode.status());
    Status st = names.MakeDir(*path, *mode, req.get_param_value("parents") == "1");
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "mkdir name=" << *path;
    SendJson(res, 201, {{"name", *path}, {"type", "dir"}});
  });
  server.Delete(R"(/api/v1/dirs/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    Status st = names.RemoveDir(*path);
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "rmdir name=" << *path;
    res.status = 204;
  });
  server.Post("/api/v1/rename", [&names](const httplib::Request& req, httplib::Response& res) {
    auto rename = ParseRenameBody(req.body);
    if (!rename.ok()) return SendError(res, rename.status());
    const std::string& from = rename->from;
    const std::string& to = rename->to;
    Status st = names.Rename(from, to);
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "rename name=" << from << " to=" << to;
    SendJson(res, 200, {{"from", from}, {"to", to}});
  });
  server.Patch(R"(/api/v1/files/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto change = ParseAttrChange(req.body);
    if (!change.ok()) return SendError(res, change.status());
    Status st = names.SetAttr(*path, *change);
    if (!st.ok()) return SendError(res, st);
    auto entry = names.Stat(*path);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
}

}  // namespace dfs::master
