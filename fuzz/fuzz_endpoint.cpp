// URL and listen-address parsing (flags, node advertise URLs from
// registration bodies): what parses has a host and a port in range, and
// prints back to a URL that parses to the same endpoint. Md5 hex checking
// and URL encoding ride along (an encoded path or query value decodes back
// to the input with cpp-httplib's own decoder).
#include "common/http_util.h"
#include "common/md5.h"
#include <cctype>

#include "fuzz/fuzz_target.h"

DFS_FUZZ_TARGET(endpoint) {
  std::string_view text = dfs::fuzz::AsText(data, size);
  for (auto parsed : {dfs::ParseEndpoint(text), dfs::ParseListen(text)}) {
    if (!parsed.ok()) continue;
    FUZZ_CHECK(!parsed->host.empty(), "host");
    FUZZ_CHECK(parsed->port > 0 && parsed->port <= 65535, "port range");
    auto again = dfs::ParseEndpoint(parsed->ToUrl());
    FUZZ_CHECK(again.ok() && again->host == parsed->host && again->port == parsed->port &&
                   again->scheme == parsed->scheme,
               "URL round trip");
  }
  bool hex = text.size() == 32;
  for (unsigned char c : text) hex = hex && std::isxdigit(c);
  FUZZ_CHECK(dfs::Md5::IsValidHex(text) == hex, "md5 hex check");
  std::string encoded = dfs::EncodePathForUrl(text);
  for (unsigned char c : encoded) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '?' && c != '#', "encoded URL path is plain");
  // What the servers' decoder (cpp-httplib's) makes of it is the input again.
  FUZZ_CHECK(httplib::detail::decode_url(encoded, false) == text, "encoded path decodes to the input");
  std::string query = dfs::EncodeQueryValue(text);
  for (unsigned char c : query) FUZZ_CHECK(std::isalnum(c) || c == '%' || c == '-' || c == '_' || c == '.' || c == '~', "encoded query value is plain");
  FUZZ_CHECK(httplib::detail::decode_url(query, true) == text, "encoded query value decodes to the input");
  return 0;
}
