#include "common/md5.h"

#include <gtest/gtest.h>

#include "tests/support/process.h"

namespace dfs {

TEST(Md5Test, KnownVectors) {
  EXPECT_EQ(Md5::Of(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5::Of("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5::Of("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Md5Test, StreamingEqualsOneShot) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 % 251);
  Md5 md5;
  for (size_t off = 0; off < data.size(); off += 777) md5.Update(std::string_view(data).substr(off, 777));
  EXPECT_EQ(md5.HexDigest(), Md5::Of(data));
}

TEST(Md5Test, OfFileMatchesContents) {
  testing::TempDir dir;
  std::string path = dir.path() + "/f";
  std::string expected = testing::WriteRandomFile(path, 3 * 1024 * 1024 + 5, 42);
  auto got = Md5::OfFile(path);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, expected);
  EXPECT_EQ(*got, Md5::Of(testing::ReadFile(path)));
  EXPECT_FALSE(Md5::OfFile(dir.path() + "/missing").ok());
}

TEST(Md5Test, ValidHex) {
  EXPECT_TRUE(Md5::IsValidHex("d41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_TRUE(Md5::IsValidHex("D41D8CD98F00B204E9800998ECF8427E"));
  EXPECT_FALSE(Md5::IsValidHex("d41d8cd98f00b204e9800998ecf8427"));
  EXPECT_FALSE(Md5::IsValidHex("g41d8cd98f00b204e9800998ecf8427e"));
  EXPECT_FALSE(Md5::IsValidHex(""));
}

// RFC 1864 Content-MD5: base64 of the 16 digest bytes.
TEST(Md5Test, HexFromBase64) {
  EXPECT_EQ(Md5::HexFromBase64("1B2M2Y8AsgTpgAmY7PhCfg=="), "d41d8cd98f00b204e9800998ecf8427e");  // md5("")
  EXPECT_EQ(Md5::HexFromBase64("XUFAKrxLKna5cZ2REBfFkg=="), Md5::Of("hello"));
  for (const char* bad : {"", "1B2M2Y8AsgTpgAmY7PhCfg", "1B2M2Y8AsgTpgAmY7PhCfg=", "1B2M2Y8AsgTpgAmY7PhCfg===",
                          "1B2M2Y8AsgTpgAmY7PhC*g==", "1B2M2Y8AsgTpgAmY7PhCfh==", "d41d8cd98f00b204e9800998ecf8427e",
                          "1B2M2Y8AsgTpgAmY7PhCfg==\n"}) {
    EXPECT_FALSE(Md5::HexFromBase64(bad)) << bad;
  }
}

}  // namespace dfs
