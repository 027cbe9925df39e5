// FUZZ_CHECK: a property a fuzz target asserts. In the libFuzzer binaries a
// failure prints the property and aborts (libFuzzer saves the input); in
// fuzz_regression_test it is a GoogleTest failure naming the replayed file.
#pragma once

#include <string>

namespace dfs::fuzz {
void CheckFailed(const char* expr, const char* file, int line, const std::string& detail);
}  // namespace dfs::fuzz

#define FUZZ_CHECK(cond, detail)                                                   \
  do {                                                                             \
    if (!(cond)) ::dfs::fuzz::CheckFailed(#cond, __FILE__, __LINE__, (detail));   \
  } while (0)
