#include "master/metadata_store.h"

#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "master/collision_namer.h"
#include "master/namespace_store.h"
#include "master/sql/database.h"
#include "master/sql/sqlite_database.h"
#include "tests/master/store_backends.h"
#include "tests/support/process.h"

namespace dfs::master {
using dfs::testing::WaitUntil;

class MetadataStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  virtual Backend backend() const { return GetParam(); }
  void SetUp() override {
    where_ = StoreUrl(backend(), dir_);
    auto s = MetadataStore::Open(where_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    if (!store_) return;
    auto problems = store_->CheckConsistency();
    ASSERT_TRUE(problems.ok()) << problems.status().ToString();
    for (const auto& p : *problems) ADD_FAILURE() << "fsck: " << p;
  }
  static NodeRecord Node(const std::string& id, double last_heartbeat) {
    NodeRecord n;
    n.node_id = id;
    n.url = "http://127.0.0.1:1";
    n.last_heartbeat = last_heartbeat;
    return n;
  }
  FileRecord File(const std::string& path, const std::string& blob) {
    FileRecord f;
    f.path = path;
    f.size = 3;
    f.md5 = "900150983cd24fb0d6963f7d28e17f72";
    f.mtime = NowSeconds();
    f.chunks = {ChunkRecord{0, 0, f.size, f.md5, blob, "n1"}};
    f.want_copies = 3;
    return f;
  }
  static std::string Rename(const std::string& p) { return CollisionName(p, RandomSuffix()); }

  dfs::testing::TempDir dir_;
  std::string where_;  // the store's URL
  std::unique_ptr<MetadataStore> store_;
};

// What only the SQLite store has: its migrations from older releases, its file.
class MetadataStoreTestSqlite : public MetadataStoreTest {
 protected:
  Backend backend() const override { return Backend::kSqlite; }
};

DFS_INSTANTIATE_FOR_BACKENDS(MetadataStoreTest);

TEST_P(MetadataStoreTest, CommitGetListDelete) {
  auto c = store_->CommitFile(File("a/b.txt", "b1"), ConflictMode::kRename, Rename);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->renamed);
  auto f = store_->GetFile("a/b.txt");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->chunks.at(0).blob_id, "b1");
  EXPECT_EQ(store_->ListFiles("a/")->size(), 1u);
  EXPECT_EQ(store_->ListFiles("b")->size(), 0u);
  auto reps = store_->GetReplicas("b1");
  ASSERT_EQ(reps->size(), 1u);
  EXPECT_EQ((*reps)[0].node_id, "n1");
  EXPECT_EQ(store_->UnpublishedJobs(10)->size(), 1u) << "a replication job is committed with the file";
  ASSERT_TRUE(store_->DeleteFile("a/b.txt").ok());
  EXPECT_EQ(store_->GetFile("a/b.txt").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->PendingDeletions(10)->size(), 1u) << "the blob is queued for deletion";
  EXPECT_EQ(store_->DeleteFile("a/b.txt").status().code(), Code::kNotFound);
}

// A request's relaxed commits (?sync=0) are commits like any other, only
// not waited on for the disk; Sync takes them there. A store opened again
// (a restarted master) has them.
TEST_P(MetadataStoreTest, RelaxedCommitsAreCommittedAndSynced) {
  const uint64_t before = RelaxedCommits::Count();
  {
    RelaxedCommits relaxed;
    ASSERT_TRUE(store_->CommitFile(File("r/kept.txt", "b1"), ConflictMode::kFail, Rename).ok());
    ASSERT_TRUE(store_->CommitFile(File("r/gone.txt", "b2"), ConflictMode::kFail, Rename).ok());
    ASSERT_TRUE(store_->DeleteFile("r/gone.txt").ok());
  }
  EXPECT_FALSE(RelaxedCommits::Active());
  EXPECT_GE(RelaxedCommits::Count() - before, 3u);
  ASSERT_TRUE(store_->Sync().ok());
  ASSERT_TRUE(store_->CommitFile(File("r/full.txt", "b3"), ConflictMode::kFail, Rename).ok());
  store_.reset();
  auto again = MetadataStore::Open(where_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  store_ = std::move(*again);
  EXPECT_TRUE(store_->GetFile("r/kept.txt").ok());
  EXPECT_TRUE(store_->GetFile("r/full.txt").ok());
  EXPECT_EQ(store_->GetFile("r/gone.txt").status().code(), Code::kNotFound);
}

TEST_P(MetadataStoreTest, ListPrefixIsLiteral) {
  ASSERT_TRUE(store_->CommitFile(File("a_b", "b1"), ConflictMode::kRename, Rename).ok());
  ASSERT_TRUE(store_->CommitFile(File("axb", "b2"), ConflictMode::kRename, Rename).ok());
  ASSERT_TRUE(store_->CommitFile(File("100%", "b3"), ConflictMode::kRename, Rename).ok());
  EXPECT_EQ(store_->ListFiles("a_")->size(), 1u);
  EXPECT_EQ(store_->ListFiles("100%")->size(), 1u);
  EXPECT_EQ(store_->ListFiles("")->size(), 3u);
}

// Names that differ only in case are different names: a listing, a folder
// check, a folder rename and rmdir of "a" never touch "A" (SQLite's LIKE
// compared without case, and `mv a b` moved A/* too).
TEST_P(MetadataStoreTest, NamesThatDifferOnlyInCaseAreDistinct) {
  NamespaceStore& ns = *store_;
  ASSERT_TRUE(ns.MakeDir("a", 0755, false).ok());
  ASSERT_TRUE(ns.MakeDir("A", 0755, false).ok());
  ASSERT_TRUE(store_->CommitFile(File("a/x", "b1"), ConflictMode::kFail, Rename).ok());
  ASSERT_TRUE(store_->CommitFile(File("A/y", "b2"), ConflictMode::kFail, Rename).ok());
  ASSERT_TRUE(store_->CommitFile(File("Ab", "b3"), ConflictMode::kFail, Rename).ok());
  EXPECT_EQ(store_->ListFiles("a/")->size(), 1u);
  EXPECT_EQ(store_->ListFiles("A")->size(), 2u) << "A/y and Ab";
  auto list = ns.List("a");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->entries.size(), 1u);
  EXPECT_EQ(list->entries[0].name, "x");
  // "A" holds a file: a PUT of "a" is not refused as a folder, and rmdir of "a" sees only a/x.
  ASSERT_TRUE(store_->DeleteFile("a/x").ok());
  ASSERT_TRUE(ns.RemoveDir("a").ok()) << "a is empty even though A/y exists";
  ASSERT_TRUE(ns.MakeDir("a", 0755, false).ok());
  ASSERT_TRUE(store_->CommitFile(File("a/x", "b4"), ConflictMode::kFail, Rename).ok());
  ASSERT_TRUE(ns.Rename("a", "b").ok());
  EXPECT_TRUE(store_->GetFile("b/x").ok());
  EXPECT_TRUE(store_->GetFile("A/y").ok()) << "the rename of a moved A/y";
  EXPECT_EQ(store_->GetFile("b/y").status().code(), Code::kNotFound);
  ASSERT_EQ(ns.List("A")->entries.size(), 1u);
  EXPECT_EQ(ns.Stat("a").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->CommitFile(File("B", "b5"), ConflictMode::kFail, Rename).status().code(), Code::kOk)
      << "B is a free name beside the folder b";
  // Byte order across the prefix's last byte: "b/" must not match "b0" or "b.".
  ASSERT_TRUE(store_->CommitFile(File("b0", "b6"), ConflictMode::kFail, Rename).ok());
  ASSERT_TRUE(store_->CommitFile(File("b.", "b7"), ConflictMode::kFail, Rename).ok());
  EXPECT_EQ(store_->ListFiles("b/")->size(), 1u);
  EXPECT_EQ(ns.List("b")->entries.size(), 1u);
  EXPECT_EQ(ns.RemoveDir("b").code(), Code::kNotEmpty);
}

TEST_P(MetadataStoreTest, ConflictModes) {
  ASSERT_TRUE(store_->CommitFile(File("x.txt", "b1"), ConflictMode::kRename, Rename).ok());
  auto renamed = store_->CommitFile(File("x.txt", "b2"), ConflictMode::kRename, Rename);
  ASSERT_TRUE(renamed.ok());
  EXPECT_TRUE(renamed->renamed);
  EXPECT_NE(renamed->file.path, "x.txt");
  EXPECT_EQ(renamed->file.path.substr(0, 2), "x_");

  auto fail = store_->CommitFile(File("x.txt", "b3"), ConflictMode::kFail, Rename);
  EXPECT_EQ(fail.status().code(), Code::kAlreadyExists);

  auto over = store_->CommitFile(File("x.txt", "b4"), ConflictMode::kOverwrite, Rename);
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->file.version, 2);
  EXPECT_EQ(store_->GetFile("x.txt")->chunks.at(0).blob_id, "b4");
  auto pending = store_->PendingDeletions(10);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].blob_id, "b1") << "the overwritten blob is queued for deletion";
}

TEST_P(MetadataStoreTest, FileAndDirectoryCannotShareAPath) {
  ASSERT_TRUE(store_->CommitFile(File("d/f", "b1"), ConflictMode::kRename, Rename).ok());
  EXPECT_EQ(store_->CommitFile(File("d", "b2"), ConflictMode::kOverwrite, Rename).status().code(),
            Code::kIsDirectory);
  EXPECT_EQ(store_->CommitFile(File("d/f/g", "b3"), ConflictMode::kRename, Rename).status().code(),
            Code::kNotDirectory);
}

TEST_P(MetadataStoreTest, ConcurrentSameNameCommitsGetDistinctNames) {
  std::vector<std::thread> threads;
  std::vector<std::string> names(20);
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      auto c = store_->CommitFile(File("same.txt", "blob" + std::to_string(i)), ConflictMode::kRename, Rename);
      if (c.ok()) names[i] = c->file.path;
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(names.begin(), names.end());
  EXPECT_EQ(distinct.size(), 20u);
  EXPECT_EQ(distinct.count(""), 0u);
  EXPECT_EQ(store_->ListFiles("same")->size(), 20u);
}

// Healing and the counts look at the watched blobs only, never every file:
// a blob is watched from its PUT until it has its copies, and again when a
// copy goes bad or a holder goes down.
TEST_P(MetadataStoreTest, HealingWatchesOnlyBlobsThatMayLackCopies) {
  for (const char* id : {"n1", "n2", "n3"}) ASSERT_TRUE(store_->UpsertNode(Node(id, NowSeconds())).ok());
  ASSERT_TRUE(store_->CommitFile(File("f", "b1"), ConflictMode::kFail, Rename).ok());
  const double dead_before = NowSeconds() - 60;
  EXPECT_EQ(store_->CountReplication(dead_before)->under_replicated, 1u);
  EXPECT_EQ(*store_->QueueUnderReplicated(dead_before, 0, 10), 1) << "one copy of three";
  for (const char* id : {"n2", "n3"}) ASSERT_TRUE(store_->AddReplica("b1", id, File("f", "b1").md5).ok());
  EXPECT_EQ(store_->CountReplication(dead_before)->under_replicated, 0u);
  EXPECT_EQ(*store_->QueueUnderReplicated(dead_before, 0, 10), 0);
  auto watched = [&]() -> int64_t {
    // The SQLite store's own table, read through a second connection (on
    // PostgreSQL only what the store answers is checked).
    if (backend() != Backend::kSqlite) return -1;
    auto db = SqliteDatabase::Open(dir_.path() + "/meta.db");
    EXPECT_TRUE(db.ok());
    auto q = (*db)->Prepare("SELECT COUNT(*) FROM heal_watch");
    q.Step();
    return q.Int(0);
  };
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 0) << "fully replicated: no longer looked at"; }
  ASSERT_TRUE(store_->MarkReplicaBad("b1", "n2").ok());
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 1); }
  EXPECT_EQ(store_->CountReplication(dead_before)->under_replicated, 1u);
  ASSERT_TRUE(store_->AddReplica("b1", "n2", File("f", "b1").md5).ok());
  EXPECT_EQ(*store_->QueueUnderReplicated(dead_before, 0, 10), 0);
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 0); }
  // A holder goes silent: its blobs are watched, and once it is dead they heal.
  NodeRecord silent = Node("n3", NowSeconds() - 100);
  ASSERT_TRUE(store_->UpsertNode(silent).ok());
  ASSERT_EQ(store_->MarkSilentNodesDown(NowSeconds() - 10)->size(), 1u);
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 1); }
  EXPECT_EQ(*store_->QueueUnderReplicated(NowSeconds() - 1000, 0, 10), 0) << "down a moment: its copy still counts";
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 1) << "but the blob stays watched"; }
  ASSERT_TRUE(store_->UpsertNode(Node("n4", NowSeconds())).ok());
  EXPECT_EQ(*store_->QueueUnderReplicated(NowSeconds(), 0, 10), 1) << "dead: a copy is made elsewhere";
  EXPECT_EQ(store_->CountFiles()->files, 1u);
  EXPECT_EQ(store_->CountFiles()->bytes, 3u);
  ASSERT_TRUE(store_->DeleteFile("f").ok());
  if (backend() == Backend::kSqlite) { EXPECT_EQ(watched(), 0); }
  EXPECT_EQ(store_->CountFiles()->files, 0u);
}

TEST_P(MetadataStoreTest, NodesGoDownWhenSilent) {
  NodeRecord n = Node("n1", NowSeconds() - 100);
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  auto down = store_->MarkSilentNodesDown(NowSeconds() - 10);
  ASSERT_EQ(down->size(), 1u);
  EXPECT_EQ((*store_->ListNodes())[0].state, NodeState::kDown);
  n.last_heartbeat = NowSeconds();
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  EXPECT_EQ((*store_->ListNodes())[0].state, NodeState::kUp) << "a heartbeat brings a node back";
}

TEST_P(MetadataStoreTest, ADrainingNodeThatGoesSilentIsMarkedDownAndStaysDraining) {
  NodeRecord n = Node("n1", NowSeconds());
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  EXPECT_EQ(*store_->SetNodeDraining("n1", true), NodeState::kDraining);
  n.last_heartbeat = NowSeconds() - 100;
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  ASSERT_EQ(store_->MarkSilentNodesDown(NowSeconds() - 10)->size(), 1u);
  NodeRecord listed = (*store_->ListNodes())[0];
  EXPECT_EQ(listed.state, NodeState::kDown) << "a dead draining node must not be tried first on reads";
  EXPECT_TRUE(listed.draining);
  EXPECT_EQ(*store_->SetNodeDraining("n1", true), NodeState::kDown) << "draining does not bring a dead node up";
  n.last_heartbeat = NowSeconds();
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  EXPECT_EQ((*store_->ListNodes())[0].state, NodeState::kDraining) << "back up, still draining";
  EXPECT_EQ(*store_->SetNodeDraining("n1", false), NodeState::kUp);
  EXPECT_FALSE(store_->SetNodeDraining("nope", true).ok());
}

TEST_F(MetadataStoreTestSqlite, SchemaVersionOneIsMigrated) {
  NodeRecord n = Node("n1", NowSeconds());
  ASSERT_TRUE(store_->UpsertNode(n).ok());
  store_.reset();
  {  // what version 1 left: no draining column, "draining" only in state
    auto db = SqliteDatabase::Open(dir_.path() + "/meta.db");
    ASSERT_TRUE(db.ok());
    (*db)->Exec("ALTER TABLE nodes DROP COLUMN draining; UPDATE nodes SET state = 'draining';"
                "UPDATE schema_version SET version = 1;");
  }
  auto s = MetadataStore::Open(dir_.path() + "/meta.db");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  NodeRecord listed = (*(*s)->ListNodes())[0];
  EXPECT_EQ(listed.state, NodeState::kDraining);
  EXPECT_TRUE(listed.draining);
}

// A background task's lease: one holder at a time, renewed by its holder,
// taken over once it lapses or is released.
TEST_P(MetadataStoreTest, LeasesHaveOneHolderAtATime) {
  EXPECT_TRUE(*store_->HoldLease("healing", "master-a", 60));
  EXPECT_FALSE(*store_->HoldLease("healing", "master-b", 60)) << "held by a";
  EXPECT_TRUE(*store_->HoldLease("healing", "master-a", 60)) << "renewed";
  EXPECT_TRUE(*store_->HoldLease("outbox", "master-b", 60)) << "leases are per task";
  ASSERT_TRUE(store_->ReleaseLease("healing", "master-b").ok());
  EXPECT_FALSE(*store_->HoldLease("healing", "master-b", 60)) << "only the holder releases";
  ASSERT_TRUE(store_->ReleaseLease("healing", "master-a").ok());
  EXPECT_TRUE(*store_->HoldLease("healing", "master-b", 0.2)) << "released: free";
  EXPECT_TRUE(WaitUntil([&] { return *store_->HoldLease("healing", "master-a", 60); }, std::chrono::seconds(10)))
      << "lapsed: taken over";
  EXPECT_FALSE(*store_->HoldLease("healing", "master-b", 60));
}

// A deleted file's blob is queued on its holders; a failed delete waits
// longer before the next try, a done one leaves the queue.
TEST_P(MetadataStoreTest, BlobDeletionsBackOffAndFinish) {
  ASSERT_TRUE(store_->UpsertNode(Node("n1", NowSeconds())).ok());
  ASSERT_TRUE(store_->CommitFile(File("gone", "b1"), ConflictMode::kFail, Rename).ok());
  ASSERT_TRUE(store_->DeleteFile("gone").ok());
  auto pending = store_->PendingDeletions(10);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].blob_id, "b1");
  ASSERT_TRUE(store_->DeletionFailed("b1", "n1").ok());
  pending = store_->PendingDeletions(10);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_TRUE(pending->empty()) << "a failed delete is tried again later, not at once";
  ASSERT_TRUE(store_->DeletionDone("b1", "n1").ok());
  auto none = store_->UnreferencedBlobs({"b1"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, std::vector<std::string>{"b1"});
}

// A copy reported for a blob no file holds any more (deleted while it was
// made) is garbage: NotFound, and queued for deletion on that node, once
// however often it is reported.
TEST_P(MetadataStoreTest, ACopyOfAnUnreferencedBlobIsQueuedForDeletion) {
  ASSERT_TRUE(store_->UpsertNode(Node("n1", NowSeconds())).ok());
  ASSERT_TRUE(store_->UpsertNode(Node("n2", NowSeconds())).ok());
  EXPECT_EQ(store_->AddReplica("orphan", "n2", "m").code(), Code::kNotFound);
  EXPECT_EQ(store_->AddReplica("orphan", "n2", "m").code(), Code::kNotFound) << "reported twice";
  auto pending = store_->PendingDeletions(10);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].blob_id, "orphan");
  EXPECT_EQ((*pending)[0].node_id, "n2");
}

// Appends (CommitChunk one past the last chunk) note the file for
// compaction once it is quiet; CommitMerge swaps a run of chunks for one
// and renumbers the ones after it, or refuses when the run changed.
TEST_P(MetadataStoreTest, AppendsAreNotedAndAMergeReplacesItsRun) {
  ASSERT_TRUE(store_->UpsertNode(Node("n1", NowSeconds())).ok());
  auto c = store_->CommitFile(File("log", "b0"), ConflictMode::kFail, Rename);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const int64_t ino = c->file.ino;
  const double before = NowSeconds() - 1;
  for (int i = 1; i <= 3; ++i) {
    ChunkRecord chunk{i, uint64_t(3 * i), 3, "m" + std::to_string(i), "b" + std::to_string(i), "n1"};
    auto appended = store_->CommitChunk(ino, ChunkExpectation{"", false}, chunk, uint64_t(3 * i + 3), NowSeconds());
    ASSERT_TRUE(appended.ok() && *appended) << appended.status().ToString();
  }
  EXPECT_TRUE(store_->FilesToCompact(before, 10)->empty()) << "changed since";
  EXPECT_EQ(*store_->FilesToCompact(NowSeconds() + 1, 10), std::vector<int64_t>{ino});
  const int64_t version = store_->GetFileByIno(ino)->version;
  // A run that is no longer what it was is refused.
  EXPECT_FALSE(*store_->CommitMerge(ino, {"b1", "bX"}, ChunkRecord{1, 3, 6, "mm", "m12", "n1"}));
  EXPECT_FALSE(*store_->CommitMerge(ino, {"b0", "b1"}, ChunkRecord{1, 3, 6, "mm", "m12", "n1"})) << "wrong place";
  ASSERT_TRUE(*store_->CommitMerge(ino, {"b1", "b2"}, ChunkRecord{1, 3, 6, "mm", "m12", "n1"}));
  auto file = store_->GetFileByIno(ino);
  ASSERT_TRUE(file.ok());
  ASSERT_EQ(file->chunks.size(), 3u);
  const std::vector<std::string> blobs{file->chunks[0].blob_id, file->chunks[1].blob_id, file->chunks[2].blob_id};
  EXPECT_EQ(blobs, (std::vector<std::string>{"b0", "m12", "b3"}));
  EXPECT_EQ(file->chunks[2].index, 2);
  EXPECT_EQ(file->chunks[2].offset, 9u);
  EXPECT_EQ(file->size, 12u);
  EXPECT_EQ(file->version, version) << "the same bytes: no new version";
  std::set<std::string> deleted;
  auto pending = store_->PendingDeletions(10);
  ASSERT_TRUE(pending.ok());
  for (const auto& d : *pending) deleted.insert(d.blob_id);
  EXPECT_EQ(deleted, (std::set<std::string>{"b1", "b2"}));
  EXPECT_EQ((*store_->GetReplicas("m12")).size(), 1u);
  // A postponed file is left out until then.
  ASSERT_TRUE(store_->PostponeCompaction(ino, NowSeconds() + 3600).ok());
  EXPECT_TRUE(store_->FilesToCompact(NowSeconds() + 1, 10)->empty());
  ASSERT_TRUE(store_->PostponeCompaction(ino, NowSeconds() - 1).ok());
  EXPECT_EQ(store_->FilesToCompact(NowSeconds() + 1, 10)->size(), 1u);
  // The note goes only if nothing was appended after the pass began.
  ASSERT_TRUE(store_->ForgetCompaction(ino, NowSeconds() - 2).ok());
  EXPECT_EQ(store_->FilesToCompact(NowSeconds() + 1, 10)->size(), 1u);
  ASSERT_TRUE(store_->ForgetCompaction(ino, NowSeconds() + 1).ok());
  EXPECT_TRUE(store_->FilesToCompact(NowSeconds() + 1, 10)->empty());
  // A removed file's note is listed, so the pass drops it.
  auto appended = store_->CommitChunk(ino, ChunkExpectation{"", false}, ChunkRecord{3, 12, 3, "m4", "b4", "n1"}, 15,
                                      NowSeconds());
  ASSERT_TRUE(appended.ok() && *appended);
  ASSERT_TRUE(store_->DeleteFile("log").ok());
  EXPECT_EQ(*store_->FilesToCompact(NowSeconds() + 1, 10), std::vector<int64_t>{ino});
}

TEST_P(MetadataStoreTest, SurvivesReopen) {
  ASSERT_TRUE(store_->CommitFile(File("keep.txt", "b1"), ConflictMode::kRename, Rename).ok());
  store_.reset();
  auto s = MetadataStore::Open(where_);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->GetFile("keep.txt").ok());
}

}  // namespace dfs::master

namespace dfs::master {
// The store is chosen by URL: sqlite:PATH or a bare path; anything else is
// a clear error, not a silently created file.
TEST(MetadataStoreOpen, TakesSqliteUrlsAndRefusesOthers) {
  dfs::testing::TempDir dir;
  auto s = MetadataStore::Open("sqlite:" + dir.path() + "/m.db");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/m.db"));
  for (const char* bad : {"sqlite:", "mysql://x"}) {
    auto o = MetadataStore::Open(bad);
    ASSERT_FALSE(o.ok()) << bad;
    EXPECT_EQ(o.status().code(), Code::kInvalidArgument) << bad;
  }
  // PostgreSQL that does not answer: a clear Unavailable, at once.
  auto pg = MetadataStore::Open("postgres://dfs@127.0.0.1:" + std::to_string(dfs::testing::FreePort()) + "/dfs");
  ASSERT_FALSE(pg.ok());
  EXPECT_EQ(pg.status().code(), Code::kUnavailable);
  EXPECT_NE(pg.status().message().find("cannot connect"), std::string::npos) << pg.status().ToString();
}
}  // namespace dfs::master

namespace dfs::master {
// A database schema 5 wrote (one blob per file, in contents) opens as
// one-chunk files: same blobs, same copies, nothing rewritten on the nodes.
TEST(MetadataStoreChunks, SchemaFiveContentsBecomeOneChunkFiles) {
  dfs::testing::TempDir dir;
  const std::string db_path = dir.path() + "/meta.db";
  {
    auto s = MetadataStore::Open(db_path);
    ASSERT_TRUE(s.ok());
    for (const char* name : {"a", "d/b", "d/c"}) {
      FileRecord f;
      f.path = name;
      f.size = 3;
      f.md5 = "900150983cd24fb0d6963f7d28e17f72";
      f.chunks = {ChunkRecord{0, 0, 3, f.md5, std::string("blob-") + name[0] + name[strlen(name) - 1], "n1"}};
      ASSERT_TRUE((*s)->CommitFile(f, ConflictMode::kFail, [](const std::string& p) { return p; }).ok());
    }
  }
  {  // back to schema 5's shape: the blob in contents, no chunks table
    auto db = SqliteDatabase::Open(db_path);
    ASSERT_TRUE(db.ok());
    (*db)->Exec(
        "CREATE TABLE contents_v5 (ino INTEGER PRIMARY KEY REFERENCES inodes (ino), blob_id TEXT NOT NULL UNIQUE, "
        "md5 TEXT NOT NULL, primary_node TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, "
        "want_copies INTEGER NOT NULL DEFAULT 3);"
        "INSERT INTO contents_v5 SELECT c.ino, ch.blob_id, c.md5, ch.primary_node, c.version, c.want_copies "
        "FROM contents c JOIN chunks ch ON ch.ino = c.ino;"
        "DROP TABLE contents; DROP TABLE chunks; ALTER TABLE contents_v5 RENAME TO contents;"
        "UPDATE schema_version SET version = 5;");
  }
  auto s = MetadataStore::Open(db_path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto f = (*s)->GetFile("d/c");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->chunks.size(), 1u);
  EXPECT_EQ(f->chunks[0].blob_id, "blob-dc");
  EXPECT_EQ(f->chunks[0].size, 3u);
  EXPECT_EQ(f->chunks[0].md5, f->md5);
  EXPECT_EQ((*s)->GetReplicas("blob-dc")->size(), 1u) << "its copy is still known";
  EXPECT_EQ((*s)->GetBlob("blob-dc")->file.path, "d/c");
  auto problems = (*s)->CheckConsistency();
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty()) << ::testing::PrintToString(*problems);
}

// A file of several chunks: each is its own blob with its own copies and
// md5; the whole goes when the file does.
TEST(MetadataStoreChunks, ChunksAreBlobsOfTheirOwn) {
  dfs::testing::TempDir dir;
  auto s = MetadataStore::Open(dir.path() + "/meta.db");
  ASSERT_TRUE(s.ok());
  MetadataStore& store = **s;
  for (const char* id : {"n1", "n2"}) {
    NodeRecord n;
    n.node_id = id;
    n.url = "http://127.0.0.1:1";
    n.last_heartbeat = NowSeconds();
    ASSERT_TRUE(store.UpsertNode(n).ok());
  }
  FileRecord f;
  f.path = "big";
  f.size = 10;
  f.md5 = "whole";
  f.want_copies = 2;
  f.chunks = {ChunkRecord{0, 0, 4, "m0", "c0", "n1"}, ChunkRecord{1, 4, 4, "m1", "c1", "n2"},
              ChunkRecord{2, 8, 2, "m2", "c2", "n1"}};
  ASSERT_TRUE(store.CommitFile(f, ConflictMode::kFail, [](const std::string& p) { return p; }).ok());
  ASSERT_EQ(store.GetFile("big")->chunks.size(), 3u);
  EXPECT_EQ(store.GetBlob("c1")->chunk.md5, "m1");
  EXPECT_EQ(store.GetBlob("c1")->chunk.offset, 4u);
  EXPECT_EQ(store.AddReplica("c1", "n1", "whole").code(), Code::kChecksumMismatch) << "a copy has the chunk's md5";
  ASSERT_TRUE(store.AddReplica("c1", "n1", "m1").ok());
  EXPECT_EQ(*store.QueueUnderReplicated(NowSeconds() - 60, 0, 10), 2) << "c0 and c2 lack a copy, c1 does not";
  EXPECT_EQ(store.CountReplication(NowSeconds() - 60)->under_replicated, 1u) << "one file";
  EXPECT_EQ(*store.UnreferencedBlobs({"c0", "c2", "zz"}), std::vector<std::string>{"zz"});
  ASSERT_TRUE(store.CheckConsistency()->empty());
  ASSERT_TRUE(store.DeleteFile("big").ok());
  std::set<std::string> deleted;
  auto pending = store.PendingDeletions(10);
  ASSERT_TRUE(pending.ok());
  for (const auto& d : *pending) deleted.insert(d.blob_id + "@" + d.node_id);
  EXPECT_EQ(deleted, (std::set<std::string>{"c0@n1", "c1@n2", "c1@n1", "c2@n1"}));
  EXPECT_TRUE(store.CheckConsistency()->empty());
}
}  // namespace dfs::master
