#include "common/path.h"

#include <gtest/gtest.h>

namespace dfs {

TEST(PathTest, AcceptsOrdinaryNames) {
  for (const char* p : {"a", "a.txt", "dir/sub/file.tar.gz", ".bashrc", "..hidden", "a..b", "spa ce",
                        "ünï/çødé", "日本語.txt", "x/...", "a-b_c~d"}) {
    EXPECT_TRUE(ValidatePath(p).ok()) << p;
  }
}

TEST(PathTest, RejectsBadNames) {
  std::string with_nul("a\0b", 3);
  std::string long_component(256, 'x');
  std::string long_path;
  while (long_path.size() <= kMaxPathBytes) long_path += "abcdefgh/";
  long_path += "x";
  for (const std::string& p :
       {std::string(""), std::string("/"), std::string("//"), std::string("/a"), std::string("a/"),
        std::string("a//b"), std::string("."), std::string(".."), std::string("../x"), std::string("a/../b"),
        std::string("a/./b"), std::string("a/.."), with_nul, std::string("a\nb"), std::string("a\tb"),
        std::string("a\x7f"), long_component, long_path, std::string("\xff\xfe"),
        std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("abc\xe2\x82")}) {
    EXPECT_FALSE(ValidatePath(p).ok()) << "'" << p << "'";
    EXPECT_EQ(ValidatePath(p).code(), Code::kInvalidArgument);
  }
}

TEST(PathTest, ComponentOfExactly255BytesIsFine) {
  EXPECT_TRUE(ValidatePath(std::string(255, 'y')).ok());
}

TEST(PathTest, NormalizeDropsOuterSlashes) {
  EXPECT_EQ(*NormalizeUserPath("/a/b/"), "a/b");
  EXPECT_EQ(*NormalizeUserPath("a"), "a");
  EXPECT_FALSE(NormalizeUserPath("/").ok());
  EXPECT_FALSE(NormalizeUserPath("a//b").ok());
}

TEST(PathTest, Helpers) {
  EXPECT_EQ(ParentPath("a/b/c"), "a/b");
  EXPECT_EQ(ParentPath("c"), "");
  EXPECT_EQ(BaseName("a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
  EXPECT_EQ(SplitPath("a/b/c"), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace dfs
