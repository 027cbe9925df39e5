// Crc32 (common/crc32.h): zlib's CRC-32, its hex form and combining.
#include "common/crc32.h"

#include <gtest/gtest.h>

namespace dfs {
namespace {

TEST(Crc32, KnownValuesHexAndCombine) {
  EXPECT_EQ(Crc32::Of(""), 0u);
  EXPECT_EQ(Crc32::ToHex(Crc32::Of("123456789")), "cbf43926");  // the standard check value
  Crc32 pieces;
  pieces.Update("1234", 4);
  pieces.Update("56789", 5);
  EXPECT_EQ(pieces.value(), 0xcbf43926u);
  EXPECT_EQ(Crc32::Combine(Crc32::Of("1234"), Crc32::Of("56789"), 5), 0xcbf43926u);
  EXPECT_EQ(Crc32::Combine(0, Crc32::Of("abc"), 3), Crc32::Of("abc")) << "an empty first part";
  EXPECT_EQ(Crc32::FromHex("cbf43926"), 0xcbf43926u);
  EXPECT_EQ(Crc32::FromHex("CBF43926"), 0xcbf43926u);
  EXPECT_EQ(Crc32::FromHex("00000000"), 0u);
  for (const char* bad : {"", "cbf4392", "cbf439260", "cbf4392g", "-bf43926", " cbf4392"}) {
    EXPECT_FALSE(Crc32::FromHex(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace dfs
