// The security flags every dfs program shares (CLI11), and applying them.
// Tokens are read from files or the environment only: a token given on the
// command line would show in `ps`.
#pragma once

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/security.h"

namespace dfs {

struct SecurityFlags {
  std::string token_file, read_token_file, tls_cert, tls_key, tls_ca;

  // server: also --tls-cert/--tls-key; master: also --read-token-file.
  void Add(CLI::App& app, bool server, bool master = false) {
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
    auto config = LoadSecurity(token_file, read_token_file, tls_cert, tls_key, tls_ca);
    if (!config.ok()) {
      std::cerr << program << ": " << config.status().message() << "\n";
      return false;
    }
    SetSecurity(*config);
    return true;
  }
};

}  // namespace dfs
