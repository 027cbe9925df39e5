#include "common/security.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/guarded_server.h"

namespace dfs {

namespace {
SecurityConfig& Config() {
  static SecurityConfig config;
  return config;
}

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

Status CheckReadable(const std::string& path, const char* what) {
  if (path.empty()) return Status::OK();
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(std::string("cannot read ") + what + " '" + path + "'");
  return Status::OK();
}
}  // namespace

void SetSecurity(SecurityConfig config) { Config() = std::move(config); }
const SecurityConfig& Security() { return Config(); }

namespace {
Result<std::string> ReadSecret(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read " + what + " '" + path + "'");
  std::string line;
  std::getline(in, line);
  line = Trim(line);
  if (line.empty()) return Status::InvalidArgument(what + " '" + path + "' is empty");
  return line;
}
}  // namespace

Result<std::string> ReadSecretFile(const std::string& path) { return ReadSecret(path, "token file"); }

std::string SystemdCredential(const std::string& name) {
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (!dir || !*dir) return "";
  std::string path = std::string(dir) + "/" + name;
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) ? path : "";
}

Result<std::string> LoadRedisPassword(const std::string& value, const std::string& file) {
  if (!value.empty() && !file.empty()) {
    return Status::InvalidArgument("give the Redis password once: --redis-password-file or $DFS_REDIS_PASSWORD");
  }
  if (!value.empty()) return value;
  if (!file.empty()) return ReadSecret(file, "Redis password file");
  if (std::string cred = SystemdCredential("dfs.redis-password"); !cred.empty()) {
    return ReadSecret(cred, "Redis password credential");
  }
  return std::string();
}

Result<std::string> LoadToken(const std::string& file, const char* env) {
  if (!file.empty()) return ReadSecretFile(file);
  const char* value = std::getenv(env);
  return Trim(value ? value : "");
}

Result<SecurityConfig> LoadSecurity(const std::string& token_file, const std::string& read_token_file,
                                    const std::string& tls_cert, const std::string& tls_key,
                                    const std::string& tls_ca) {
  SecurityConfig config;
  auto token = LoadToken(token_file, "DFS_TOKEN");
  if (!token.ok()) return token.status();
  config.token = *token;
  auto read_token = LoadToken(read_token_file, "DFS_READ_TOKEN");
  if (!read_token.ok()) return read_token.status();
  config.read_token = *read_token;
  if (!config.read_token.empty() && config.token.empty()) {
    return Status::InvalidArgument("a read-only token needs a cluster token too");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  for (auto [path, what] : {std::pair{tls_cert, "TLS certificate"}, {tls_key, "TLS key"}, {tls_ca, "TLS CA file"}}) {
    if (Status st = CheckReadable(path, what); !st.ok()) return st;
  }
  config.tls_cert = tls_cert;
  config.tls_key = tls_key;
  config.tls_ca = tls_ca;
  return config;
}

bool TokensEqual(const std::string& a, const std::string& b) {
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

Access AccessOf(const httplib::Request& req) {
  const auto& config = Security();
  if (config.token.empty()) return Access::kFull;
  std::string header = req.get_header_value("Authorization");
  static const std::string kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) return Access::kNone;
  std::string presented = header.substr(kBearer.size());
  if (TokensEqual(presented, config.token)) return Access::kFull;
  if (!config.read_token.empty() && TokensEqual(presented, config.read_token)) return Access::kRead;
  return Access::kNone;
}

Status Authorize(const httplib::Request& req, const AuthPolicy& policy) {
  if (Security().token.empty()) return Status::OK();
  if (std::find(policy.public_paths.begin(), policy.public_paths.end(), req.path) != policy.public_paths.end()) {
    return Status::OK();
  }
  switch (AccessOf(req)) {
    case Access::kFull: return Status::OK();
    case Access::kRead:
      if (policy.accept_read_token && (req.method == "GET" || req.method == "HEAD")) return Status::OK();
      if (!policy.accept_read_token) return Status::Unauthenticated("this server takes the cluster token only");
      return Status::PermissionDenied("a read-only token cannot " + req.method + " " + req.path);
    case Access::kNone: break;
  }
  return Status::Unauthenticated("missing or wrong cluster token (Authorization: Bearer <token>)");
}

Result<std::unique_ptr<httplib::Server>> MakeServer() {
  const auto& config = Security();
  if (config.tls_cert.empty()) return std::unique_ptr<httplib::Server>(std::make_unique<GuardedServer>());
  auto server = std::make_unique<GuardedSslServer>(config.tls_cert.c_str(), config.tls_key.c_str());
  if (!server->is_valid()) {
    return Status::InvalidArgument("cannot load TLS certificate '" + config.tls_cert + "' and key '" +
                                   config.tls_key + "'");
  }
  return std::unique_ptr<httplib::Server>(std::move(server));
}

}  // namespace dfs
