// Cluster security of this process: the cluster token (and an optional
// read-only token), and TLS. main() calls SetSecurity() once, before any
// thread starts; then every client from MakeClient() sends the token and
// verifies servers against the CA, and MakeServer() gives a TLS server when
// a certificate is configured.
//
// Tokens come from files or the environment, never from the command line
// (where `ps` would show them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "common/status.h"

namespace dfs {

struct SecurityConfig {
  std::string token;       // cluster token: full access; "" = no authentication
  std::string read_token;  // accepted by servers for GET/HEAD only; "" = none
  std::string tls_cert;    // server certificate chain (PEM file); with tls_key, servers speak TLS
  std::string tls_key;     // server private key (PEM file)
  std::string tls_ca;      // CA bundle (PEM file) clients verify servers with; "" = system CAs
};

void SetSecurity(SecurityConfig config);
const SecurityConfig& Security();

// The first line of `path`, trimmed; an error when unreadable or empty.
Result<std::string> ReadSecretFile(const std::string& path);
// From `file` when given, else from the environment variable `env` (may be unset: "").
Result<std::string> LoadToken(const std::string& file, const char* env);
// Fills the config from the usual places: --token-file/DFS_TOKEN_FILE or
// DFS_TOKEN, --read-token-file/DFS_READ_TOKEN_FILE or DFS_READ_TOKEN, and the
// TLS files as given. Checks that cert and key come together and exist.
Result<SecurityConfig> LoadSecurity(const std::string& token_file, const std::string& read_token_file,
                                    const std::string& tls_cert, const std::string& tls_key,
                                    const std::string& tls_ca);

// The path of the systemd credential `name` ($CREDENTIALS_DIRECTORY/name: a
// unit's LoadCredential= puts it there, readable by the service's user only),
// or "" when the process has no such credential.
std::string SystemdCredential(const std::string& name);

// The Redis AUTH password: `value` (--redis-password or $DFS_REDIS_PASSWORD),
// else the first line of `file` (--redis-password-file), else the systemd
// credential dfs.redis-password, else "" (no AUTH). Both value and file is an error.
Result<std::string> LoadRedisPassword(const std::string& value, const std::string& file);

// Constant-time comparison (of SHA-256 digests, so lengths do not leak either).
bool TokensEqual(const std::string& a, const std::string& b);

enum class Access { kNone, kRead, kFull };
// What the request's "Authorization: Bearer <token>" grants.
Access AccessOf(const httplib::Request& req);

// Which requests a server lets through without a token, and whether the
// read-only token is good for reads there.
struct AuthPolicy {
  std::vector<std::string> public_paths = {"/healthz"};
  bool accept_read_token = true;
};
// OK, or Unauthenticated (401) / PermissionDenied (403) for this request.
Status Authorize(const httplib::Request& req, const AuthPolicy& policy);

// A TLS server when the config has a certificate, else plain HTTP. An error
// when the certificate or key cannot be loaded.
Result<std::unique_ptr<httplib::Server>> MakeServer();

}  // namespace dfs
