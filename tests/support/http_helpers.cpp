#include "tests/support/http_helpers.h"

#include <openssl/evp.h>

#include <fstream>
#include <memory>

#include "common/http_util.h"
#include "common/md5.h"

namespace dfs::testing {

namespace {
HttpAnswer From(const httplib::Result& res) {
  HttpAnswer a;
  if (!res) return a;
  a.status = res->status;
  a.body = res->body;
  a.headers = res->headers;
  return a;
}
}  // namespace

std::string ContentMd5Of(const std::string& data) {
  const std::string hex = Md5::Of(data);
  unsigned char raw[16];
  for (int i = 0; i < 16; ++i) raw[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  unsigned char out[32] = {};
  const int n = EVP_EncodeBlock(out, raw, sizeof raw);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

std::unique_ptr<httplib::Client> Client(const std::string& base_url) {
  auto ep = ParseEndpoint(base_url);
  return MakeClient(*ep, {std::chrono::milliseconds(3000), std::chrono::milliseconds(120000),
                          std::chrono::milliseconds(120000)});
}

HttpAnswer PutFile(const std::string& base_url, const std::string& path, const std::string& local_file,
                   const httplib::Headers& headers) {
  auto in = std::make_shared<std::ifstream>(local_file, std::ios::binary);
  in->seekg(0, std::ios::end);
  size_t size = static_cast<size_t>(in->tellg());
  auto cli = Client(base_url);
  return From(cli->Put(
      path, headers, size,
      [in](size_t offset, size_t length, httplib::DataSink& sink) {
        std::string buf(std::min<size_t>(length, 1 << 18), '\0');
        in->seekg(static_cast<std::streamoff>(offset));
        in->read(buf.data(), static_cast<std::streamsize>(buf.size()));
        return sink.write(buf.data(), static_cast<size_t>(in->gcount()));
      },
      "application/octet-stream"));
}

HttpAnswer PutString(const std::string& base_url, const std::string& path, const std::string& data,
                     const httplib::Headers& headers) {
  return From(Client(base_url)->Put(path, headers, data, "application/octet-stream"));
}

HttpAnswer GetToFile(const std::string& base_url, const std::string& path, const std::string& local_file,
                     std::string* md5_out, const httplib::Headers& headers) {
  std::ofstream out(local_file, std::ios::binary | std::ios::trunc);
  Md5 md5;
  HttpAnswer a;
  auto cli = Client(base_url);
  auto res = cli->Get(
      path, headers,
      [&](const httplib::Response& r) {
        a.status = r.status;
        a.headers = r.headers;
        return true;
      },
      [&](const char* data, size_t len) {
        if (a.status >= 300) {
          a.body.append(data, len);
          return true;
        }
        out.write(data, static_cast<std::streamsize>(len));
        md5.Update(data, len);
        return true;
      });
  if (!res) a.status = 0;
  if (md5_out) *md5_out = md5.HexDigest();
  return a;
}

HttpAnswer Get(const std::string& base_url, const std::string& path, const httplib::Headers& headers) {
  return From(Client(base_url)->Get(path, headers));
}
HttpAnswer Head(const std::string& base_url, const std::string& path) { return From(Client(base_url)->Head(path)); }
HttpAnswer Delete(const std::string& base_url, const std::string& path) {
  return From(Client(base_url)->Delete(path));
}

}  // namespace dfs::testing
