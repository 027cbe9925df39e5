// The JSON error decoder every client runs on a server's answer: any body,
// any status, never a crash; a 2xx is OK and an error status never is.
#include "common/http_util.h"
#include "fuzz/fuzz_target.h"

DFS_FUZZ_TARGET(error_body) {
  if (size < 2) return 0;
  int status = 100 + (data[0] | (data[1] << 8)) % 500;
  std::string body(dfs::fuzz::AsText(data + 2, size - 2));
  dfs::Status st = dfs::StatusFromResponse(status, body);
  FUZZ_CHECK(st.ok() == (status >= 200 && status < 300), "2xx and only 2xx is OK");
  if (!st.ok()) FUZZ_CHECK(st.http_status() >= 400, "an error maps to an error status");
  return 0;
}
