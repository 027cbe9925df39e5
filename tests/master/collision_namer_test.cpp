#include "master/collision_namer.h"

#include <gtest/gtest.h>

#include "common/path.h"

namespace dfs::master {

TEST(CollisionNamerTest, EveryNameShape) {
  EXPECT_EQ(CollisionName("a.txt", "abc123"), "a_abc123.txt");
  EXPECT_EQ(CollisionName("a.tar.gz", "abc123"), "a_abc123.tar.gz");
  EXPECT_EQ(CollisionName("Makefile", "abc123"), "Makefile_abc123");
  EXPECT_EQ(CollisionName(".bashrc", "abc123"), ".bashrc_abc123");
  EXPECT_EQ(CollisionName(".config.json", "abc123"), ".config_abc123.json");
  EXPECT_EQ(CollisionName("..a", "abc123"), "..a_abc123");
  EXPECT_EQ(CollisionName("a.", "abc123"), "a._abc123");
  EXPECT_EQ(CollisionName("dir/x.y", "abc123"), "dir/x_abc123.y");
  EXPECT_EQ(CollisionName("d.ir/Makefile", "abc123"), "d.ir/Makefile_abc123");
  EXPECT_EQ(CollisionName("report 2024.pdf", "abc123"), "report 2024_abc123.pdf");
  EXPECT_EQ(CollisionName("日本.txt", "abc123"), "日本_abc123.txt");
}

TEST(CollisionNamerTest, LongNamesStayValid) {
  std::string long_stem(250, 'x');
  std::string renamed = CollisionName("d/" + long_stem + ".txt", "abc123");
  EXPECT_TRUE(ValidatePath(renamed).ok()) << renamed;
  EXPECT_EQ(BaseName(renamed).size(), kMaxComponentBytes);
  EXPECT_NE(renamed.find("_abc123.txt"), std::string::npos);

  std::string utf8_stem;
  while (utf8_stem.size() < 250) utf8_stem += "é";
  std::string renamed_utf8 = CollisionName(utf8_stem + ".txt", "abc123");
  EXPECT_TRUE(ValidatePath(renamed_utf8).ok()) << "must not split a UTF-8 sequence";

  std::string long_ext = "a." + std::string(252, 'e');
  EXPECT_TRUE(ValidatePath(CollisionName(long_ext, "abc123")).ok());
}

// A folder path of exactly n bytes made of 200-byte components.
static std::string DeepDir(size_t n) {
  std::string dir;
  while (dir.size() < n) dir += std::string(200, 'y') + "/";
  dir.resize(n);
  if (dir.back() == '/') dir.back() = 'y';
  return dir;
}

TEST(CollisionNamerTest, DeepPathsStayWithinTheWholePathLimit) {
  // Found by fuzz/collision_name_fuzz.cpp: the name grew past 4096 bytes.
  std::string dir = DeepDir(kMaxPathBytes - 10);
  std::string path = dir + "/abc.txt";
  ASSERT_TRUE(ValidatePath(path).ok());
  std::string renamed = CollisionName(path, "abc123");
  EXPECT_TRUE(ValidatePath(renamed).ok()) << renamed.size();
  EXPECT_EQ(ParentPath(renamed), dir);
  EXPECT_NE(BaseName(renamed).find("_abc123"), std::string::npos);

  std::string full = DeepDir(kMaxPathBytes - 2) + "/a";  // no room for "_abc123"
  ASSERT_TRUE(ValidatePath(full).ok());
  std::string tight = CollisionName(full, "abc123");
  EXPECT_TRUE(ValidatePath(tight).ok());
  EXPECT_NE(tight, full);
}

TEST(CollisionNamerTest, CuttingToTheLimitNeverGivesTheOldNameBack) {
  // Found by fuzz_collision_name in CI: a 255-byte name that already ends
  // in "_<suffix>" came back unchanged after the cut.
  std::string stem_case = std::string(kMaxComponentBytes - 6, 'a') + "_f.txt";
  std::string ext_case = "`." + std::string(kMaxComponentBytes - 4, '|') + "_f";
  for (const std::string& path : {stem_case, ext_case, "dir/" + stem_case}) {
    ASSERT_TRUE(ValidatePath(path).ok());
    std::string renamed = CollisionName(path, "f");
    EXPECT_NE(renamed, path);
    EXPECT_TRUE(ValidatePath(renamed).ok());
    EXPECT_NE(BaseName(renamed).find("f"), std::string::npos);
  }
}

TEST(CollisionNamerTest, WhenOnlyTheOldNameFitsTheNewOneStillDiffers) {
  // Room for exactly "_f" beside a deep folder, and the file is "_f".
  std::string dir = DeepDir(kMaxPathBytes - 3);
  std::string path = dir + "/_f";
  ASSERT_EQ(path.size(), kMaxPathBytes);
  ASSERT_TRUE(ValidatePath(path).ok());
  std::string renamed = CollisionName(path, "f");
  EXPECT_NE(renamed, path);
  EXPECT_TRUE(ValidatePath(renamed).ok());
  EXPECT_EQ(ParentPath(renamed), dir);
}

TEST(CollisionNamerTest, RandomSuffixesDiffer) {
  EXPECT_EQ(RandomSuffix().size(), 6u);
  EXPECT_NE(RandomSuffix(), RandomSuffix());
}

}  // namespace dfs::master
