#include "master/namespace_api.h"

#include "common/http_util.h"
#include "common/log.h"
#include "common/path.h"
#include "master/http_api.h"

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

// A JSON object body, or a 400 already sent.
std::optional<nlohmann::json> JsonBody(const httplib::Request& req, httplib::Response& res) {
  auto body = nlohmann::json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
  if (!body.is_object()) {
    SendError(res, Status::InvalidArgument("body must be a JSON object"));
    return std::nullopt;
  }
  return body;
}

// A file mode: an integer of permission bits (07777 at most).
bool IsMode(const nlohmann::json& v) {
  return v.is_number_unsigned() && v.get<uint64_t>() <= 07777;
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
    auto body = JsonBody(req, res);
    if (!body) return;
    if (body->contains("mode") && !IsMode((*body)["mode"])) {
      return SendError(res, Status::InvalidArgument("mode must be an integer of permission bits"));
    }
    int mode = body->value("mode", 0755);
    Status st = names.MakeDir(*path, mode, req.get_param_value("parents") == "1");
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
    auto body = JsonBody(req, res);
    if (!body) return;
    if (!body->contains("from") || !(*body)["from"].is_string() || !body->contains("to") || !(*body)["to"].is_string()) {
      return SendError(res, Status::InvalidArgument("body must be {\"from\": path, \"to\": path}"));
    }
    const std::string from = (*body)["from"], to = (*body)["to"];
    for (const auto& p : {from, to}) {
      if (Status st = ValidatePath(p); !st.ok()) return SendError(res, st);
    }
    Status st = names.Rename(from, to);
    if (!st.ok()) return SendError(res, st);
    DFS_LOG(INFO, "master") << "rename name=" << from << " to=" << to;
    SendJson(res, 200, {{"from", from}, {"to", to}});
  });
  server.Patch(R"(/api/v1/files/([\s\S]+))", [&names](const httplib::Request& req, httplib::Response& res) {
    auto path = PathFromRequest(req);
    if (!path.ok()) return SendError(res, path.status());
    auto body = JsonBody(req, res);
    if (!body) return;
    AttrChange change;
    const auto& b = *body;
    if (b.contains("mode") && !IsMode(b["mode"])) {
      return SendError(res, Status::InvalidArgument("mode must be an integer of permission bits"));
    }
    if (b.contains("mtime") && !b["mtime"].is_number()) {
      return SendError(res, Status::InvalidArgument("mtime must be a number"));
    }
    if (b.contains("size") && !b["size"].is_number_unsigned()) {
      return SendError(res, Status::InvalidArgument("size must be a non-negative integer"));
    }
    if (b.contains("mode")) change.mode = b["mode"].get<int>();
    if (b.contains("mtime")) change.mtime = b["mtime"].get<double>();
    if (b.contains("size")) change.size = b["size"].get<uint64_t>();
    Status st = names.SetAttr(*path, change);
    if (!st.ok()) return SendError(res, st);
    auto entry = names.Stat(*path);
    if (!entry.ok()) return SendError(res, entry.status());
    SendJson(res, 200, EntryToJson(*entry));
  });
}

}  // namespace dfs::master
