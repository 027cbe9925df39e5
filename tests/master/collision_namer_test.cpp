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

TEST(CollisionNamerTest, RandomSuffixesDiffer) {
  EXPECT_EQ(RandomSuffix().size(), 6u);
  EXPECT_NE(RandomSuffix(), RandomSuffix());
}

}  // namespace dfs::master
