// URL and listen-address parsing (flags, node advertise URLs from
// registration bodies): what parses has a host and a port in range, and
// prints back to a URL that parses to the same endpoint. Md5 hex checking
// and URL encoding ride along (an encoded path or query value decodes back
// to the input with cpp-httplib's own decoder), and so does Content-MD5's
// base64 (what parses is canonical and encodes back to the input).
#include "common/http_util.h"
#include "common/md5.h"
#include <openssl/evp.h>

#include <cctype>
#include <cstdlib>

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
  if (auto from_base64 = dfs::Md5::HexFromBase64(text)) {
    // Content-MD5: only the canonical base64 of 16 bytes parses, to lower-case hex.
    FUZZ_CHECK(dfs::Md5::IsValidHex(*from_base64), "Content-MD5 gives 32 hex digits");
    unsigned char raw[16];
    for (int i = 0; i < 16; ++i) {
      const char pair[3] = {(*from_base64)[2 * i], (*from_base64)[2 * i + 1], 0};
      FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(pair[0])) && !std::isupper(static_cast<unsigned char>(pair[1])),
                 "Content-MD5 hex is lower case");
      raw[i] = static_cast<unsigned char>(std::strtoul(pair, nullptr, 16));
    }
    unsigned char again[32] = {};
    const int n = EVP_EncodeBlock(again, raw, sizeof raw);
    FUZZ_CHECK(std::string_view(reinterpret_cast<const char*>(again), static_cast<size_t>(n)) == text,
               "Content-MD5 round trip");
  }
  std::string encoded = dfs::EncodePathForUrl(text);
  for (unsigned char c : encoded) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '?' && c != '#', "encoded URL path is plain");
  // What the servers' decoder (cpp-httplib's) makes of it is the input again.
  FUZZ_CHECK(httplib::detail::decode_url(encoded, false) == text, "encoded path decodes to the input");
  std::string query = dfs::EncodeQueryValue(text);
  for (unsigned char c : query) FUZZ_CHECK(std::isalnum(c) || c == '%' || c == '-' || c == '_' || c == '.' || c == '~', "encoded query value is plain");
  FUZZ_CHECK(httplib::detail::decode_url(query, true) == text, "encoded query value decodes to the input");
  return 0;
}
