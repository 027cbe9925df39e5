// Plain HTTP calls for tests, streaming files from and to disk.
#pragma once

#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace dfs::testing {

struct HttpAnswer {
  int status = 0;  // 0: transport failure
  std::string body;
  httplib::Headers headers;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

std::unique_ptr<httplib::Client> Client(const std::string& base_url);

// The standard Content-MD5 value of `data` (base64 of its 16 md5 bytes).
std::string ContentMd5Of(const std::string& data);

// PUT the contents of local_file to base_url + path (path already encoded).
HttpAnswer PutFile(const std::string& base_url, const std::string& path, const std::string& local_file,
                   const httplib::Headers& headers = {});
HttpAnswer PutString(const std::string& base_url, const std::string& path, const std::string& data,
                     const httplib::Headers& headers = {});
// GET into local_file (body not kept in memory); *md5 gets the md5 of what arrived.
HttpAnswer GetToFile(const std::string& base_url, const std::string& path, const std::string& local_file,
                     std::string* md5, const httplib::Headers& headers = {});
HttpAnswer Get(const std::string& base_url, const std::string& path, const httplib::Headers& headers = {});
HttpAnswer Head(const std::string& base_url, const std::string& path);
HttpAnswer Delete(const std::string& base_url, const std::string& path);

}  // namespace dfs::testing
