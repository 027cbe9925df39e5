// One source per fuzz target, built two ways:
//  - with -DDFS_FUZZ_LIBFUZZER (clang, -fsanitize=fuzzer): the libFuzzer entry point;
//  - otherwise: a function registered by name, which fuzz_replay_test runs on
//    every file of fuzz/corpus/<name>/ and fuzz/regressions/<name>/ in the
//    normal test suite, so a crash once found stays fixed.
// FUZZ_CHECK states a property; a violation aborts (a crash to libFuzzer, a
// failed test to ctest).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace dfs::fuzz {

using TargetFn = int (*)(const uint8_t*, size_t);
inline std::map<std::string, TargetFn>& Targets() {
  static std::map<std::string, TargetFn> targets;
  return targets;
}
struct Register {
  Register(const char* name, TargetFn fn) { Targets()[name] = fn; }
};

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace dfs::fuzz

#define FUZZ_CHECK(cond, what)                                                          \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "fuzz property violated: %s (%s:%d)\n", what, __FILE__, __LINE__); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#ifdef DFS_FUZZ_LIBFUZZER
#define DFS_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define DFS_FUZZ_TARGET(name)                                                   \
  static int FuzzTarget_##name(const uint8_t* data, size_t size);              \
  static ::dfs::fuzz::Register fuzz_register_##name(#name, &FuzzTarget_##name); \
  static int FuzzTarget_##name(const uint8_t* data, size_t size)
#endif
