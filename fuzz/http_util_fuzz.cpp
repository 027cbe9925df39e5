// HTTP helpers (common/http_util.h): ParseEndpoint/ParseListen accept only a
// host and a port in 1..65535 and round-trip through ToUrl(); the URL
// encoders emit only unreserved characters and %XX and cpp-httplib's decoder
// gives the input back; StatusFromResponse turns any body into a Status.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "common/http_util.h"
#include "fuzz/fuzz_check.h"

namespace {
bool Same(const dfs::Endpoint& a, const dfs::Endpoint& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);

  if (auto ep = dfs::ParseEndpoint(input); ep.ok()) {
    FUZZ_CHECK(!ep->host.empty() && ep->host.find('/') == std::string::npos, input);
    FUZZ_CHECK(ep->port >= 1 && ep->port <= 65535, input);
    FUZZ_CHECK(ep->scheme == "http" || ep->scheme == "https", input);
    auto again = dfs::ParseEndpoint(ep->ToUrl());
    FUZZ_CHECK(again.ok() && Same(*again, *ep), input + " -> " + ep->ToUrl());
  }
  if (auto ep = dfs::ParseListen(input); ep.ok()) {
    FUZZ_CHECK(!ep->host.empty() && ep->port >= 1 && ep->port <= 65535, input);
    auto again = dfs::ParseListen(ep->host + ":" + std::to_string(ep->port));
    FUZZ_CHECK(again.ok() && again->host == ep->host && again->port == ep->port, input);
  }

  for (bool keep_slash : {true, false}) {
    std::string encoded = keep_slash ? dfs::EncodePathForUrl(input) : dfs::EncodeQueryValue(input);
    for (size_t i = 0; i < encoded.size(); ++i) {
      auto c = static_cast<unsigned char>(encoded[i]);
      bool ok = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '%' ||
                (keep_slash && c == '/');
      FUZZ_CHECK(ok, encoded);
    }
    FUZZ_CHECK(httplib::detail::decode_url(encoded, /*convert_plus_to_space=*/false) == input, encoded);
  }

  int http_status = size > 0 ? 200 + data[0] % 400 : 500;
  dfs::Status st = dfs::StatusFromResponse(http_status, input);
  FUZZ_CHECK(st.ok() == (http_status < 300), input);
  return 0;
}
