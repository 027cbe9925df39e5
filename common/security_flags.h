// The security flags every dfs program shares (CLI11), and applying them.
// Tokens are read from files or the environment only: a token given on the
// command line would show in `ps`. Under systemd, the units' credentials
// (LoadCredential=dfs.token, ...; see packaging/systemd) are used for what
// no flag, variable or config key gives.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/security.h"

namespace dfs {

struct SecurityFlags {
  std::string token_file, read_token_file, tls_cert, tls_key, tls_ca;
  bool server = false, master = false;

  // server: also --tls-cert/--tls-key; master: also --read-token-file.
  void Add(CLI::App& app, bool is_server, bool is_master = false) {
    server = is_server;
    master = is_master;
    app.add_option("--token-file", token_file, "file with the cluster token (else $DFS_TOKEN; none: no auth)")
        ->envname("DFS_TOKEN_FILE");
    if (master) {
      app.add_option("--read-token-file", read_token_file,
                     "file with a read-only token for GET/HEAD clients (else $DFS_READ_TOKEN)")
          ->envname("DFS_READ_TOKEN_FILE");
    }
    if (server) {
      app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve HTTPS")->envname("DFS_TLS_CERT");
      app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert")->envname("DFS_TLS_KEY");
    }
    app.add_option("--tls-ca", tls_ca, "PEM CA bundle to verify https:// servers with (default: system CAs)")
        ->envname("DFS_TLS_CA");
  }

  // Loads and installs the config; prints the problem and returns false on error.
  bool Apply(const char* program) const {
    SecurityFlags f = WithSystemdCredentials();
    auto config = LoadSecurity(f.token_file, f.read_token_file, f.tls_cert, f.tls_key, f.tls_ca);
    if (!config.ok()) {
      std::cerr << program << ": " << config.status().message() << "\n";
      return false;
    }
    SetSecurity(*config);
    return true;
  }

  SecurityFlags WithSystemdCredentials() const {
    SecurityFlags f = *this;
    auto fill = [](std::string& file, const char* env, const char* name) {
      if (file.empty() && !(env && std::getenv(env))) file = SystemdCredential(name);
    };
    fill(f.token_file, "DFS_TOKEN", "dfs.token");
    if (master) fill(f.read_token_file, "DFS_READ_TOKEN", "dfs.read-token");
    if (server) {
      fill(f.tls_cert, nullptr, "dfs.tls-cert");
      fill(f.tls_key, nullptr, "dfs.tls-key");
    }
    return f;
  }
};

// --redis-password / --redis-password-file, shared by the master and the replicator.
struct RedisPasswordFlags {
  std::string value, file;

  void Add(CLI::App& app) {
    app.add_option("--redis-password", value,
                   "Redis AUTH password (shows in ps: better $DFS_REDIS_PASSWORD or --redis-password-file)")
        ->envname("DFS_REDIS_PASSWORD");
    app.add_option("--redis-password-file", file, "file with the Redis AUTH password")
        ->envname("DFS_REDIS_PASSWORD_FILE");
  }
  Result<std::string> Load() const { return LoadRedisPassword(value, file); }
};

}  // namespace dfs
