#include "common/md5.h"

#include <algorithm>

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

namespace dfs {
namespace {

// BackgroundMd5 hashes on its own thread what Update copied: the digest is
// Md5's for any size (across block edges) and any cut into pieces.
TEST(BackgroundMd5Test, MatchesMd5ForAnySizeAndCut) {
  const size_t block = BackgroundMd5::kBlockBytes;
  for (size_t size : {size_t{0}, size_t{1}, block - 1, block, block + 1, 5 * block + 12345}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7 + i / 1000);
    for (size_t piece : {size_t{1} << 12, size_t{100000}, size_t{1} << 20}) {
      if (size > 2 * block && piece == 4096) continue;  // enough small pieces in the smaller sizes
      BackgroundMd5 md5;
      for (size_t at = 0; at < size; at += piece) md5.Update(data.data() + at, std::min(piece, size - at));
      EXPECT_EQ(md5.HexDigest(), Md5::Of(data)) << size << " bytes in pieces of " << piece;
    }
  }
  BackgroundMd5 unused;  // destroyed without a digest: the thread still ends
  unused.Update("abc", 3);
}

}  // namespace
}  // namespace dfs
