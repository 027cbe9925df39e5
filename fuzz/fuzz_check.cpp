// CheckFailed for the libFuzzer binaries: print and abort, so the input is
// saved as a crash (see scripts/fuzz.sh).
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_check.h"

namespace dfs::fuzz {
void CheckFailed(const char* expr, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d) %s\n", expr, file, line, detail.c_str());
  std::abort();
}
}  // namespace dfs::fuzz
