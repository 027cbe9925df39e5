#include "fuse_client/mount_options.h"

#include <gtest/gtest.h>

namespace dfs::fuse_client {
namespace {

Result<MountOptions> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "mount.dfs");
  return ParseMountArgs(args);
}

TEST(MountOptionsTest, MountHelperConvention) {
  // What mount(8) runs for `mount -t dfs 127.0.0.1:8820 /mnt/dfs -o _netdev,allow_other,cache_size=64M`.
  auto o = Parse({"127.0.0.1:8820", "/mnt/dfs", "-o", "rw,_netdev,allow_other,cache_size=64M,timeout=3"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->master_url, "http://127.0.0.1:8820");
  EXPECT_EQ(o->mountpoint, "/mnt/dfs");
  EXPECT_EQ(o->cache_bytes, 64u << 20);
  EXPECT_DOUBLE_EQ(o->timeout_s, 3);
  EXPECT_EQ(o->fuse_options, (std::vector<std::string>{"rw", "allow_other"}));
  EXPECT_FALSE(o->foreground);
}

TEST(MountOptionsTest, MasterFromOptionOrDefaultAndForeground) {
  auto o = Parse({"/mnt/x/", "-f", "-omaster=http://h:1,default_permissions"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->master_url, "http://h:1");
  EXPECT_EQ(o->mountpoint, "/mnt/x");
  EXPECT_TRUE(o->foreground);
  EXPECT_EQ(o->fuse_options, (std::vector<std::string>{"default_permissions"}));
}

TEST(MountOptionsTest, SeveralMastersAsAListOrOneMasterOptionEach) {
  auto listed = Parse({"h1:8820,http://h2:8820", "/mnt/dfs"});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->master_url, "http://h1:8820,http://h2:8820");
  // -o splits on commas: each master is its own master= option.
  auto opts = Parse({"/mnt/dfs", "-o", "master=h1:1,allow_other,master=http://h2:2"});
  ASSERT_TRUE(opts.ok());
  EXPECT_EQ(opts->master_url, "http://h1:1,http://h2:2");
  EXPECT_EQ(opts->fuse_options, (std::vector<std::string>{"allow_other"}));
  auto fstab = Parse({"dfs#h1:1,h2:2", "/mnt/dfs"});
  ASSERT_TRUE(fstab.ok());
  EXPECT_EQ(fstab->master_url, "http://h1:1,http://h2:2");
}

TEST(MountOptionsTest, RejectsWhatItCannotUse) {
  EXPECT_FALSE(Parse({}).ok());
  EXPECT_FALSE(Parse({"a", "b", "c"}).ok());
  EXPECT_FALSE(Parse({"/mnt", "--weird"}).ok());
  EXPECT_FALSE(Parse({"/mnt", "-o", "timeout=abc"}).ok());
  EXPECT_FALSE(Parse({"/mnt", "-o", "timeout=0"}).ok()) << "a request needs some time";
  EXPECT_FALSE(Parse({"/mnt", "-o", "attr_timeout=-1"}).ok());
  auto uncached = Parse({"/mnt", "-o", "attr_timeout=0"});
  ASSERT_TRUE(uncached.ok()) << "no attribute caching is a valid choice";
  EXPECT_DOUBLE_EQ(uncached->attr_timeout_s, 0);
  EXPECT_FALSE(Parse({"/mnt", "-o", "cache_size=12T"}).ok());
  EXPECT_FALSE(Parse({"/mnt", "-o"}).ok());
}

TEST(MountOptionsTest, VerifyIsReadByDefaultOrOpen) {
  EXPECT_FALSE(Parse({"/mnt"})->verify_at_open);
  EXPECT_FALSE(Parse({"/mnt", "-o", "verify=read"})->verify_at_open);
  EXPECT_TRUE(Parse({"/mnt", "-o", "verify=open"})->verify_at_open);
  EXPECT_FALSE(Parse({"/mnt", "-o", "verify=never"}).ok());
  EXPECT_TRUE(Parse({"/mnt", "-o", "verify=open"})->fuse_options.empty()) << "ours, not FUSE's";
}

TEST(MountOptionsTest, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("123"), 123u);
  EXPECT_EQ(*ParseByteSize("2K"), 2048u);
  EXPECT_EQ(*ParseByteSize("1G"), 1u << 30);
  EXPECT_FALSE(ParseByteSize("x").ok());
}

}  // namespace
}  // namespace dfs::fuse_client
