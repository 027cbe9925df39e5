// NamespaceStore through the SQLite MetadataStore: the rename(2),
// rmdir(2) and mkdir(2) cases, link counts, paged listings, and the
// migration of a database the path-table release (schema 2) wrote.
#include "master/metadata_store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <map>

#include <gtest/gtest.h>

#include "master/collision_namer.h"
#include "master/sql/sqlite_database.h"
#include "tests/master/store_backends.h"
#include "tests/support/process.h"

#ifndef DFS_TEST_DATA_DIR
#error "DFS_TEST_DATA_DIR must name tests/master/data"
#endif

namespace dfs::master {
namespace {

using Names = std::vector<std::string>;

class NamespaceStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  virtual Backend backend() const { return GetParam(); }
  void SetUp() override {
    where_ = StoreUrl(backend(), dir_);
    auto s = MetadataStore::Open(where_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ns_ = store_.get();
  }
  // Every test leaves a store that an fsck finds consistent.
  void TearDown() override {
    if (!store_) return;
    auto problems = store_->CheckConsistency();
    ASSERT_TRUE(problems.ok()) << problems.status().ToString();
    for (const auto& p : *problems) ADD_FAILURE() << "fsck: " << p;
  }
  Status Put(const std::string& path, const std::string& blob, ConflictMode mode = ConflictMode::kFail) {
    FileRecord f;
    f.path = path;
    f.size = 3;
    f.md5 = "900150983cd24fb0d6963f7d28e17f72";
    f.mtime = NowSeconds();
    f.chunks = {ChunkRecord{0, 0, f.size, f.md5, blob, "n1"}};
    auto c = store_->CommitFile(f, mode, [](const std::string& p) { return CollisionName(p, RandomSuffix()); });
    return c.status();
  }
  std::vector<std::string> ListNames(const std::string& dir) {
    std::vector<std::string> out;
    auto page = ns_->List(dir);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok()) {
      for (const auto& e : page->entries) out.push_back(e.name);
    }
    return out;
  }
  int64_t Nlink(const std::string& path) { return ns_->Stat(path)->nlink; }

  dfs::testing::TempDir dir_;
  std::string where_;  // the store's URL
  std::unique_ptr<MetadataStore> store_;
  NamespaceStore* ns_ = nullptr;  // the store, as its namespace half
};

// What only the SQLite store has: its migrations from older releases, its file.
class NamespaceStoreTestSqlite : public NamespaceStoreTest {
 protected:
  Backend backend() const override { return Backend::kSqlite; }
};

DFS_INSTANTIATE_FOR_BACKENDS(NamespaceStoreTest);


TEST_P(NamespaceStoreTest, PutMakesItsFoldersAndDeleteKeepsThem) {
  ASSERT_TRUE(Put("a/b/c.txt", "b1").ok());
  EXPECT_TRUE(ns_->Stat("a/b")->is_dir);
  EXPECT_EQ(ListNames("a/b"), Names{"c.txt"});
  ASSERT_TRUE(store_->DeleteFile("a/b/c.txt").ok());
  EXPECT_EQ(ListNames("a"), Names{"b"}) << "a folder stays when its last file goes";
  EXPECT_EQ(Put("a/b", "b2").code(), Code::kIsDirectory);
  ASSERT_TRUE(Put("f", "b3").ok());
  EXPECT_EQ(Put("f/g", "b4").code(), Code::kNotDirectory);
  EXPECT_EQ(ns_->MakeDir("f/d", 0755, true).code(), Code::kNotDirectory);
  EXPECT_EQ(ns_->List("f").status().code(), Code::kNotDirectory);
  EXPECT_EQ(ns_->List("nope").status().code(), Code::kNotFound);
}

// The mount's deferred unlinks: many names in one commit, each with its own
// outcome; a name that is another inode now, a folder, a name not there, one
// the caller may not remove are refused and change nothing.
TEST_P(NamespaceStoreTest, DeleteFilesRemovesEachNameThatIsStillTheInodeNamed) {
  for (const char* p : {"d/a", "d/b", "d/c", "d/e", "locked/f"}) ASSERT_TRUE(Put(p, std::string("blob-") + p).ok());
  ASSERT_TRUE(ns_->MakeDir("d/sub", 0755, false).ok());
  const int64_t a = ns_->Stat("d/a")->ino, b = ns_->Stat("d/b")->ino;
  ASSERT_TRUE(Put("d/c", "blob-c2", ConflictMode::kOverwrite).ok());  // same inode, new content
  const int64_t c = ns_->Stat("d/c")->ino;
  ASSERT_TRUE(store_->DeleteFile("d/e").ok());
  ASSERT_TRUE(Put("d/e", "blob-e2").ok());  // a new inode under the old name
  Credentials nobody{65534, 65534, {}};
  auto done = store_->DeleteFiles({{"d/a", a}, {"d/b", 0}, {"d/c", c}, {"d/e", b}, {"d/sub", 0}, {"d/none", 0}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->size(), 6u);
  EXPECT_TRUE((*done)[0].ok()) << (*done)[0].status().ToString();
  EXPECT_TRUE((*done)[1].ok()) << "ino 0: whatever the name is";
  EXPECT_TRUE((*done)[2].ok());
  EXPECT_EQ((*done)[3].status().code(), Code::kNotFound) << "d/e is another file now";
  EXPECT_EQ((*done)[4].status().code(), Code::kIsDirectory);
  EXPECT_EQ((*done)[5].status().code(), Code::kNotFound);
  EXPECT_EQ((*done)[0]->chunks.size(), 1u) << "what was removed, with its content to collect";
  EXPECT_EQ(ListNames("d"), (Names{"e", "sub"}));
  auto refused = store_->DeleteFiles({{"locked/f", 0}}, &nobody);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)[0].status().code(), Code::kAccessDenied);
  EXPECT_EQ(ListNames("locked"), Names{"f"});
}

TEST_P(NamespaceStoreTest, FolderLinkCountsFollowSubfolders) {
  EXPECT_EQ(Nlink(""), 2);
  ASSERT_TRUE(ns_->MakeDir("d", 0750, false).ok());
  ASSERT_TRUE(ns_->MakeDir("d/e", 0755, false).ok());
  ASSERT_TRUE(ns_->MakeDir("d/f", 0755, false).ok());
  ASSERT_TRUE(Put("d/x", "b1").ok());
  EXPECT_EQ(Nlink(""), 3);
  EXPECT_EQ(Nlink("d"), 4) << "2 + two subfolders; files do not count";
  EXPECT_EQ(ns_->Stat("d")->mode, 0750);
  ASSERT_TRUE(ns_->Rename("d/e", "e").ok());
  EXPECT_EQ(Nlink("d"), 3);
  EXPECT_EQ(Nlink(""), 4);
  ASSERT_TRUE(ns_->RemoveDir("d/f").ok());
  EXPECT_EQ(Nlink("d"), 2);
  EXPECT_EQ(ns_->MakeDir("d", 0755, false).code(), Code::kAlreadyExists);
  EXPECT_EQ(ns_->MakeDir("q/r", 0755, false).code(), Code::kNotFound);
  ASSERT_TRUE(ns_->MakeDir("q/r", 0755, true).ok());
}

TEST_P(NamespaceStoreTest, RenameFollowsRename2) {
  ASSERT_TRUE(ns_->MakeDir("a/b/c", 0755, true).ok());
  ASSERT_TRUE(Put("a/b/c/f", "b1").ok());
  ASSERT_TRUE(Put("g", "b2").ok());
  ASSERT_TRUE(ns_->MakeDir("empty", 0755, false).ok());
  ASSERT_TRUE(ns_->MakeDir("full", 0755, false).ok());
  ASSERT_TRUE(Put("full/x", "b3").ok());
  EXPECT_EQ(ns_->Rename("a", "a/b/c/a").code(), Code::kInvalidArgument) << "a folder into its own subtree";
  EXPECT_EQ(ns_->Rename("a", "a/b").code(), Code::kInvalidArgument);
  EXPECT_EQ(ns_->Rename("g", "a").code(), Code::kIsDirectory);
  EXPECT_EQ(ns_->Rename("a", "g").code(), Code::kNotDirectory);
  EXPECT_EQ(ns_->Rename("a", "full").code(), Code::kNotEmpty);
  EXPECT_EQ(ns_->Rename("nope", "x").code(), Code::kNotFound);
  EXPECT_EQ(ns_->Rename("g", "nope/x").code(), Code::kNotFound);
  EXPECT_EQ(ns_->Rename("g", "g/x").code(), Code::kNotDirectory);
  // A folder replaces an empty folder; the subtree moves with one entry.
  const int64_t ino = ns_->Stat("a/b/c/f")->ino;
  ASSERT_TRUE(ns_->Rename("a", "empty").ok());
  EXPECT_EQ(ns_->Stat("empty/b/c/f")->ino, ino);
  EXPECT_EQ(ns_->Stat("a").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetFile("empty/b/c/f")->chunks.at(0).blob_id, "b1");
  // A file replaces a file: the old one's content is queued for deletion.
  ASSERT_TRUE(ns_->Rename("g", "full/x").ok());
  EXPECT_EQ(store_->GetFile("full/x")->chunks.at(0).blob_id, "b2");
  auto pending = store_->PendingDeletions(10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].blob_id, "b3");
  EXPECT_EQ(store_->UnreferencedBlobs({"b1", "b2", "b3"}).value(), std::vector<std::string>{"b3"});
  EXPECT_TRUE(ns_->Rename("full/x", "full/x").ok());
}

TEST_P(NamespaceStoreTest, OverwriteKeepsTheInodeAndItsMode) {
  ASSERT_TRUE(Put("f", "b1").ok());
  const int64_t ino = ns_->Stat("f")->ino;
  AttrChange chmod;
  chmod.mode = 0600;
  chmod.mtime_change = TimeChange{false, 1000500000000};
  ASSERT_TRUE(ns_->SetAttr("f", chmod).ok());
  ASSERT_TRUE(Put("f", "b2", ConflictMode::kOverwrite).ok());
  auto st = ns_->Stat("f");
  EXPECT_EQ(st->ino, ino);
  EXPECT_EQ(st->mode, 0600);
  EXPECT_EQ(st->version, 2);
  EXPECT_GE(st->ctime, st->mtime - 1);
  AttrChange resize;
  resize.size = 99;
  EXPECT_EQ(ns_->SetAttr("f", resize).code(), Code::kInvalidArgument);
}

TEST_P(NamespaceStoreTest, ListingsPageInByteOrder) {
  // Byte order: upper case before lower case, "a.b" before "a/..." folders' names sort as names.
  for (const char* name : {"b", "A", "a", "a.b", "\xc3\xa9", "B", "0"}) ASSERT_TRUE(Put(std::string("d/") + name, name).ok());
  EXPECT_EQ(ListNames("d"), (Names{"0", "A", "B", "a", "a.b", "b", "\xc3\xa9"}));
  Names paged;
  std::string after;
  int pages = 0;
  do {
    auto page = ns_->List("d", after, 3);
    ASSERT_TRUE(page.ok());
    EXPECT_LE(page->entries.size(), 3u);
    for (const auto& e : page->entries) paged.push_back(e.name);
    after = page->next;
    ++pages;
  } while (!after.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged, ListNames("d"));
  EXPECT_EQ(ns_->List("d", "b", 10)->entries.size(), 1u);
}

TEST_P(NamespaceStoreTest, ListFilesByPrefixWalksOnlyTheSubtree) {
  for (const char* p : {"docs/a.txt", "docs/ab/c", "docs/b", "docsx", "Docs/a.txt", "x/docs/a"}) ASSERT_TRUE(Put(p, p).ok());
  auto paths = [&](const std::string& prefix) {
    Names out;
    auto files = store_->ListFiles(prefix);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    if (files.ok()) {
      for (const auto& f : *files) out.push_back(f.path);
    }
    return out;
  };
  EXPECT_EQ(paths("docs/"), (Names{"docs/a.txt", "docs/ab/c", "docs/b"}));
  EXPECT_EQ(paths("docs/a"), (Names{"docs/a.txt", "docs/ab/c"}));
  EXPECT_EQ(paths("docs"), (Names{"docs/a.txt", "docs/ab/c", "docs/b", "docsx"}));
  EXPECT_EQ(paths("D"), (Names{"Docs/a.txt"}));
  EXPECT_TRUE(paths("nope/").empty());
  EXPECT_EQ(paths("").size(), 6u);
}

Credentials User(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups = {}) {
  Credentials c;
  c.uid = uid;
  c.gid = gid;
  c.groups = std::move(groups);
  return c;
}

TEST_P(NamespaceStoreTest, HardLinksShareOneInodeUntilTheLastGoes) {
  ASSERT_TRUE(Put("f", "b1").ok());
  auto link = ns_->Link("f", "g");
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(link->ino, ns_->Stat("f")->ino);
  EXPECT_EQ(Nlink("f"), 2);
  EXPECT_EQ(ns_->Link("f", "g").status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(ns_->MakeDir("d", 0755, false).ok());
  EXPECT_EQ(ns_->Link("d", "d2").status().code(), Code::kNotPermitted) << "folders are not hard-linked";
  // New content through one name is seen through the other.
  ASSERT_TRUE(Put("g", "b2", ConflictMode::kOverwrite).ok());
  EXPECT_EQ(store_->GetFile("f")->chunks.at(0).blob_id, "b2");
  ASSERT_TRUE(store_->DeleteFile("f").ok());
  EXPECT_EQ(Nlink("g"), 1);
  EXPECT_EQ(store_->UnreferencedBlobs({"b2"})->size(), 0u) << "one link left: the content stays";
  ASSERT_TRUE(ns_->Rename("g", "h").ok());
  ASSERT_TRUE(store_->DeleteFile("h").ok());
  EXPECT_EQ(store_->UnreferencedBlobs({"b2"})->size(), 1u) << "the last link took the content along";
}

TEST_P(NamespaceStoreTest, SymlinksAndSpecialFilesAreInodesWithoutContent) {
  auto link = ns_->Symlink("l", "../some/where");
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(link->type, InodeType::kSymlink);
  EXPECT_EQ(ns_->Stat("l")->target, "../some/where");
  EXPECT_EQ(ns_->Stat("l")->size, 13u);
  EXPECT_EQ(ns_->Symlink("l", "x").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(ns_->Symlink("m", "").status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(ns_->MakeNode("fifo", InodeType::kFifo, 0640, 0).ok());
  ASSERT_TRUE(ns_->MakeNode("sock", InodeType::kSocket, 0600, 0).ok());
  auto dev = ns_->MakeNode("null", InodeType::kCharDevice, 0666, 0x103);
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(ns_->Stat("null")->rdev, 0x103);
  const Credentials alice = User(1000, 1000);
  EXPECT_EQ(ns_->MakeNode("blk", InodeType::kBlockDevice, 0600, 1, &alice).status().code(), Code::kAccessDenied)
      << "the root folder is 0755 root's";
  EXPECT_EQ(store_->GetFile("fifo").status().code(), Code::kNotFound) << "a fifo is not a file with content";
  EXPECT_EQ(Put("fifo", "b1").code(), Code::kAlreadyExists);
  EXPECT_EQ(ListNames("").size(), 4u);
  for (const char* name : {"l", "fifo", "sock", "null"}) ASSERT_TRUE(store_->DeleteFile(name).ok()) << name;
  EXPECT_TRUE(ListNames("").empty());
}

TEST_P(NamespaceStoreTest, OwnersAndPermissionsFollowPosix) {
  const Credentials alice = User(1000, 1000, {1000, 50}), bob = User(1001, 1001);
  ASSERT_TRUE(ns_->MakeDir("home", 0777, false).ok());
  ASSERT_TRUE(ns_->MakeDir("home/alice", 0700, false, &alice).ok());
  auto home = ns_->Stat("home/alice");
  EXPECT_EQ(home->uid, 1000);
  EXPECT_EQ(home->gid, 1000);
  EXPECT_EQ(ns_->Stat("home/alice/x", &bob).status().code(), Code::kAccessDenied) << "no search permission";
  EXPECT_EQ(ns_->MakeDir("home/alice/y", 0755, false, &bob).code(), Code::kAccessDenied);
  ASSERT_TRUE(ns_->Symlink("home/alice/l", "t", &alice).ok());
  // chown: only root gives away; the owner may pick one of its groups.
  AttrChange give;
  give.uid = 1001;
  EXPECT_EQ(ns_->SetAttr("home/alice/l", give, &alice).code(), Code::kNotPermitted);
  AttrChange group;
  group.gid = 50;
  EXPECT_TRUE(ns_->SetAttr("home/alice/l", group, &alice).ok());
  group.gid = 51;
  EXPECT_EQ(ns_->SetAttr("home/alice/l", group, &alice).code(), Code::kNotPermitted);
  EXPECT_TRUE(ns_->SetAttr("home/alice/l", give, nullptr).ok()) << "no credentials: not checked";
  // chmod: the owner only; setuid/setgid go on chown.
  ASSERT_TRUE(ns_->MakeNode("home/p", InodeType::kFifo, 06755, 0, &alice).ok());
  EXPECT_EQ(ns_->Stat("home/p")->mode, 06755);
  AttrChange chmod;
  chmod.mode = 0600;
  EXPECT_EQ(ns_->SetAttr("home/p", chmod, &bob).code(), Code::kNotPermitted);
  AttrChange same_group;
  same_group.gid = 1000;
  ASSERT_TRUE(ns_->SetAttr("home/p", same_group, &alice).ok());
  EXPECT_EQ(ns_->Stat("home/p")->mode, 0755) << "chown clears setuid, and setgid of a group-executable file";
  // A non-root owner outside the file's group cannot keep setgid.
  ASSERT_TRUE(ns_->SetAttr("home/p", give, nullptr).ok());  // now bob's, group 1000
  chmod.mode = 02755;
  ASSERT_TRUE(ns_->SetAttr("home/p", chmod, &bob).ok());
  EXPECT_EQ(ns_->Stat("home/p")->mode, 0755);
  // Times: now with write permission, a given time only as the owner.
  AttrChange touch;
  touch.mtime_change = TimeChange{true, 0};
  EXPECT_EQ(ns_->SetAttr("home/p", touch, &alice).code(), Code::kAccessDenied) << "0755: others may not write";
  touch.mtime_change = TimeChange{false, 12345000000123};
  ASSERT_TRUE(ns_->SetAttr("home/p", touch, &bob).ok());
  EXPECT_EQ(ns_->Stat("home/p")->mtime_ns, 12345000000123) << "times are kept to the nanosecond";
  EXPECT_EQ(ns_->SetAttr("home/p", touch, &alice).code(), Code::kNotPermitted);
}

TEST_P(NamespaceStoreTest, StickyFoldersAndSetgidFolders) {
  const Credentials alice = User(1000, 1000), bob = User(1001, 1001);
  ASSERT_TRUE(ns_->MakeDir("tmp", 01777, false).ok());
  ASSERT_TRUE(ns_->MakeNode("tmp/a", InodeType::kFifo, 0666, 0, &alice).ok());
  EXPECT_EQ(store_->DeleteFile("tmp/a", &bob).status().code(), Code::kNotPermitted);
  EXPECT_EQ(ns_->Rename("tmp/a", "tmp/b", RenameMode::kReplace, &bob).code(), Code::kNotPermitted);
  EXPECT_TRUE(ns_->Rename("tmp/a", "tmp/b", RenameMode::kReplace, &alice).ok());
  EXPECT_TRUE(store_->DeleteFile("tmp/b", &alice).ok());
  // A setgid folder gives new inodes its group, and new folders its setgid bit.
  ASSERT_TRUE(ns_->MakeDir("shared", 02777, false).ok());
  EXPECT_EQ(ns_->Stat("shared")->mode, 0777) << "mkdir(2) drops setgid from the mode it is given";
  AttrChange group;
  group.gid = 77;
  group.mode = 02777;
  ASSERT_TRUE(ns_->SetAttr("shared", group, nullptr).ok());
  ASSERT_TRUE(ns_->MakeDir("shared/sub", 0755, false, &alice).ok());
  auto sub = ns_->Stat("shared/sub");
  EXPECT_EQ(sub->gid, 77);
  EXPECT_EQ(sub->mode, 02755);
}

TEST_P(NamespaceStoreTest, RenameNoReplaceAndExchange) {
  ASSERT_TRUE(ns_->MakeDir("d/e", 0755, true).ok());
  ASSERT_TRUE(Put("f", "b1").ok());
  ASSERT_TRUE(Put("d/g", "b2").ok());
  EXPECT_EQ(ns_->Rename("f", "d/g", RenameMode::kNoReplace).code(), Code::kAlreadyExists);
  EXPECT_TRUE(ns_->Rename("f", "h", RenameMode::kNoReplace).ok());
  EXPECT_EQ(ns_->Rename("h", "nope", RenameMode::kExchange).code(), Code::kNotFound);
  // A file and a folder swap places; link counts follow the folder.
  ASSERT_TRUE(ns_->Rename("h", "d", RenameMode::kExchange).ok());
  EXPECT_TRUE(ns_->Stat("h/e")->is_dir);
  EXPECT_EQ(store_->GetFile("d")->chunks.at(0).blob_id, "b1");
  EXPECT_EQ(Nlink(""), 3);
  EXPECT_EQ(ns_->Rename("h", "h/e", RenameMode::kExchange).code(), Code::kInvalidArgument);
}

// Two clients racing: many threads rename different files onto one name, and
// two folders are moved into each other crosswise. The tree stays a tree.
TEST_P(NamespaceStoreTest, RacingRenamesLeaveAConsistentTree) {
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Put("src" + std::to_string(i), "b" + std::to_string(i)).ok());
  ASSERT_TRUE(ns_->MakeDir("x", 0755, false).ok());
  ASSERT_TRUE(ns_->MakeDir("y", 0755, false).ok());
  std::vector<std::thread> threads;
  std::atomic<int> crossing_ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { EXPECT_TRUE(ns_->Rename("src" + std::to_string(i), "target").ok()); });
  }
  threads.emplace_back([&] { crossing_ok += ns_->Rename("x", "y/x").ok(); });
  threads.emplace_back([&] { crossing_ok += ns_->Rename("y", "x/y").ok(); });
  for (auto& t : threads) t.join();
  const std::string top = ns_->Stat("x").ok() ? "x" : "y";
  EXPECT_EQ(ListNames(""), (Names{"target", top}));
  EXPECT_EQ(ListNames(top).size(), 1u) << "the other folder is inside the winner";
  EXPECT_EQ(crossing_ok.load(), 1) << "one crossing rename wins, the other is a move into itself";
  EXPECT_EQ(store_->ListFiles("")->size(), 1u);
  EXPECT_EQ(store_->PendingDeletions(100)->size(), 7u) << "seven replaced files' contents are queued";
}

// A database the schema-2 release (path tables) wrote: tests/master/data/
// schema2.db, made by a real dfs-master and dfs-storage (see the README
// there). Every file keeps its content, copies, mode and time; folders keep
// theirs, empty ones included.
TEST_F(NamespaceStoreTestSqlite, ASchemaTwoDatabaseIsMigratedInPlace) {
  store_.reset();
  ns_ = nullptr;
  const std::string db = dir_.path() + "/old.db";
  std::filesystem::copy_file(std::string(DFS_TEST_DATA_DIR) + "/schema2.db", db);
  std::map<std::string, std::string> blob_of;  // as schema 2 had them
  {
    auto old = SqliteDatabase::Open(db);
    ASSERT_TRUE(old.ok());
    auto q = (*old)->Prepare("SELECT path, blob_id FROM files");
    while (q.Step()) blob_of[q.Text(0)] = q.Text(1);
  }
  ASSERT_GE(blob_of.size(), 4u);
  auto s = MetadataStore::Open(db);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  NamespaceStore& ns = **s;
  for (const auto& [path, blob] : blob_of) {
    auto f = (*s)->GetFile(path);
    ASSERT_TRUE(f.ok()) << path << ": " << f.status().ToString();
    EXPECT_EQ(f->chunks.at(0).blob_id, blob);
    EXPECT_GE((*s)->GetReplicas(blob)->size(), 1u) << path;
  }
  EXPECT_EQ((*s)->ListFiles("")->size(), blob_of.size());
  EXPECT_EQ((*s)->CountFiles()->files, blob_of.size());
  auto empty = ns.Stat("empty");
  ASSERT_TRUE(empty.ok()) << "an empty folder made with mkdir survives";
  EXPECT_TRUE(empty->is_dir);
  EXPECT_EQ(ns.Stat("docs/private.txt")->mode, 0600) << "a chmod survives";
  EXPECT_EQ(ns.Stat("docs")->nlink, 3) << "docs holds one folder";
  // And it is a working store: the old names can be renamed, replaced, deleted.
  ASSERT_TRUE(ns.Rename("docs", "papers").ok());
  EXPECT_TRUE((*s)->GetFile("papers/deep/er/file.bin").ok());
  (*s).reset();
  auto again = MetadataStore::Open(db);
  ASSERT_TRUE(again.ok()) << "a migrated database opens again";
  EXPECT_TRUE((*again)->GetFile("papers/deep/er/file.bin").ok());
  auto problems = (*again)->CheckConsistency();
  ASSERT_TRUE(problems.ok());
  EXPECT_EQ(*problems, Names{}) << "the migrated tree passes fsck";
}

// The fsck finds what a damaged database holds: each kind of damage made
// through a second connection is reported, and nothing else.
TEST_F(NamespaceStoreTestSqlite, CheckConsistencyReportsDamage) {
  ASSERT_TRUE(ns_->MakeDir("d", 0755, false).ok());
  ASSERT_TRUE(Put("d/f", "b1").ok());
  ASSERT_TRUE(store_->CheckConsistency()->empty());
  const int64_t file = ns_->Stat("d/f")->ino;
  const int64_t dir = ns_->Stat("d")->ino;
  {
    auto db = SqliteDatabase::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(db.ok());
    (*db)->Exec("UPDATE inodes SET nlink = 3 WHERE ino = " + std::to_string(file));
    (*db)->Exec("INSERT INTO inodes (type, mode, atime_ns, mtime_ns, ctime_ns) VALUES ('fifo', 420, 0, 0, 0)");
    (*db)->Exec("INSERT INTO entries (parent, name, ino) VALUES (" + std::to_string(dir) + ", X'2E2E', " +
                std::to_string(file) + ")");  // "..": also a third name
    (*db)->Exec("UPDATE counters SET value = value + 7 WHERE name = 'bytes'");
  }
  auto problems = store_->CheckConsistency();
  ASSERT_TRUE(problems.ok()) << problems.status().ToString();
  auto has = [&](const std::string& what) {
    return std::any_of(problems->begin(), problems->end(), [&](const std::string& p) { return p.find(what) == 0; });
  };
  EXPECT_TRUE(has("invalid name")) << ::testing::PrintToString(*problems);
  EXPECT_TRUE(has("inode without a name"));
  EXPECT_TRUE(has("non-folder whose nlink"));
  EXPECT_TRUE(has("byte counter"));
  EXPECT_EQ(problems->size(), 5u) << "the nameless fifo has nlink 1 and no name: "  // two findings
                                  << ::testing::PrintToString(*problems);
  store_.reset();  // damaged on purpose: TearDown's fsck would fail
}

TEST_F(NamespaceStoreTestSqlite, ADatabaseFromANewerReleaseIsRefused) {
  store_.reset();
  ns_ = nullptr;
  {
    auto db = SqliteDatabase::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(db.ok());
    (*db)->Exec("UPDATE schema_version SET version = 99");
  }
  auto s = MetadataStore::Open(dir_.path() + "/meta.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().ToString();
}

}  // namespace
}  // namespace dfs::master

namespace dfs::master {
namespace {

// An open file outlives its names (POSIX): unlinked or replaced by a
// rename while a handle is open, it stays readable and writable, nameless,
// and goes with the last handle; a renamed open file is written where it now is.
TEST_P(NamespaceStoreTest, OpenHandlesKeepUnlinkedFilesUntilClosed) {
  ASSERT_TRUE(Put("f", "b1").ok());
  auto h = store_->OpenHandle("f", 60);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(store_->OpenHandle("", 60).status().code(), Code::kIsDirectory);
  EXPECT_EQ(store_->OpenHandle("nope", 60).status().code(), Code::kNotFound);
  ASSERT_TRUE(store_->DeleteFile("f").ok());
  EXPECT_EQ(ns_->Stat("f").status().code(), Code::kNotFound) << "the name is gone";
  auto st = store_->StatHandle(h->handle);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->nlink, 0);
  EXPECT_EQ(st->name, "");
  EXPECT_EQ(store_->GetFileOfHandle(h->handle)->chunks.at(0).blob_id, "b1") << "the content stays";
  EXPECT_TRUE(store_->PendingDeletions(10)->empty()) << "nothing is deleted while open";
  EXPECT_EQ(store_->CheckConsistency()->size(), 0u) << "a nameless open file is consistent";
  // A write through the handle replaces the nameless file's content.
  FileRecord next;
  next.size = 5;
  next.md5 = "5d41402abc4b2a76b9719d911017c592";
  next.mtime = NowSeconds();
  next.chunks = {ChunkRecord{0, 0, next.size, next.md5, "b2", "n1"}};
  auto written = store_->CommitToHandle(h->handle, next);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->file.path, "");
  EXPECT_EQ(store_->StatHandle(h->handle)->size, 5u);
  ASSERT_TRUE(store_->CloseHandle(h->handle).ok());
  EXPECT_EQ(store_->StatHandle(h->handle).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->CloseHandle(h->handle).code(), Code::kNotFound);
  Names deleted;
  auto pending = store_->PendingDeletions(10);
  ASSERT_TRUE(pending.ok());
  for (const auto& d : *pending) deleted.push_back(d.blob_id);
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, (Names{"b1", "b2"})) << "both contents go with the last handle";
  EXPECT_EQ(store_->CountFiles()->files, 0u);
}

TEST_P(NamespaceStoreTest, OpenHandlesFollowRenamesAndReplacements) {
  ASSERT_TRUE(ns_->MakeDir("d", 0755, false).ok());
  ASSERT_TRUE(Put("d/a", "b1").ok());
  ASSERT_TRUE(Put("b", "b2").ok());
  auto a = store_->OpenHandle("d/a", 60);
  auto b = store_->OpenHandle("b", 60);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(ns_->Rename("d", "e").ok());
  EXPECT_EQ(store_->StatHandle(a->handle)->name, "e/a") << "fstat sees the file where it now is";
  ASSERT_TRUE(ns_->Rename("e/a", "b").ok()) << "replaces b, which is open";
  EXPECT_EQ(store_->StatHandle(b->handle)->nlink, 0);
  EXPECT_EQ(store_->GetFile("b")->chunks.at(0).blob_id, "b1");
  EXPECT_EQ(store_->GetFileOfHandle(b->handle)->chunks.at(0).blob_id, "b2") << "the replaced file is still readable";
  auto gone = store_->RenewHandles({a->handle, b->handle, std::string(32, 'f')}, 60);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, Names{std::string(32, 'f')});
  // A client that dies stops renewing: its handles lapse and what only they kept goes.
  EXPECT_EQ(*store_->ExpireHandles(NowSeconds() + 30), 0) << "leases still running";
  EXPECT_EQ(*store_->ExpireHandles(NowSeconds() + 120), 2);
  EXPECT_EQ(store_->StatHandle(b->handle).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->CountFiles()->files, 1u) << "b (once d/a) stays, the replaced one is gone";
  EXPECT_EQ(store_->PendingDeletions(10)->size(), 1u);
}

}  // namespace
}  // namespace dfs::master
