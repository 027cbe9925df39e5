#include "storage/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/http_util.h"
#include "common/log.h"

namespace dfs::storage {

namespace fs = std::filesystem;

namespace {
Status ErrnoStatus(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(what + ": " + std::strerror(err));
  return Status::IOError(what + ": " + std::strerror(err));
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open dir " + dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync dir " + dir, errno);
  return Status::OK();
}

Status WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", errno);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Result<BlobInfo> ReadMeta(const std::string& path, const std::string& blob_id) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("blob " + blob_id + " not found");
  auto json = nlohmann::json::parse(in, nullptr, false);
  if (!json.is_object() || !json.contains("md5") || !json.contains("size")) {
    return Status::IOError("blob " + blob_id + ": unreadable meta");
  }
  return BlobInfo{blob_id, json["size"].get<uint64_t>(), json["md5"].get<std::string>()};
}

// A file system that keeps no (or no such large) extended attributes: the
// sidecar files carry them instead.
bool XattrUnsupported(int err) { return err == ENOTSUP || err == E2BIG || err == ERANGE || err == ENOSPC; }

// The value of extended attribute `name` of `path`; NotFound when it has none.
Result<std::string> GetXattr(const std::string& path, const char* name) {
  std::string value(512, '\0');
  for (;;) {
    ssize_t n = ::getxattr(path.c_str(), name, value.data(), value.size());
    if (n >= 0) {
      value.resize(static_cast<size_t>(n));
      return value;
    }
    if (errno == ERANGE) {  // larger than the guess: ask for its size
      n = ::getxattr(path.c_str(), name, nullptr, 0);
      if (n >= 0) {
        value.assign(static_cast<size_t>(n) + 1, '\0');
        continue;
      }
    }
    if (errno == ENODATA || errno == ENOTSUP || errno == ENOENT) return Status::NotFound(path + ": no " + name);
    return Status::IOError("getxattr " + path + ": " + std::strerror(errno));
  }
}

// Creates `path` with `data`, fsynced.
Status WriteSidecar(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus("create " + path, errno);
  if (Status st = WriteAll(fd.get(), data.data(), data.size()); !st.ok()) return st;
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync " + path, errno);
  return Status::OK();
}
}  // namespace

BlobWriter::BlobWriter(BlobStore* store, std::string blob_id, std::string tmp_path, UniqueFd fd,
                       BlockSumsWriter sums, uint64_t free_bytes)
    : store_(store),
      blob_id_(std::move(blob_id)),
      tmp_path_(std::move(tmp_path)),
      fd_(std::move(fd)),
      out_(tmp_path_),
      sums_(std::move(sums)),
      room_until_(std::min(free_bytes, kFreeSpaceRecheckBytes)) {}

BlobWriter::~BlobWriter() {
  if (!done_) {
    ::unlink(tmp_path_.c_str());
    ::unlink(sums_tmp_path().c_str());
    ::unlink(meta_tmp_path().c_str());
  }
}

Status BlobWriter::CheckRoom(size_t more) {
  if (written_ + more <= room_until_) return Status::OK();
  const uint64_t free = store_->FreeBytes();
  if (free < written_ + more) return Status::NoSpace("node is full");
  room_until_ = std::min(free, written_ + more + kFreeSpaceRecheckBytes);
  return Status::OK();
}

Status BlobWriter::Append(const char* data, size_t len) {
  if (Status room = CheckRoom(len); !room.ok()) return room;
  Status st = out_.Append(fd_.get(), data, len);
  if (st.ok()) st = sums_.Append(data, len);
  if (!st.ok()) return st;
  md5_.Update(data, len);
  written_ += len;
  return Status::OK();
}

Status BlobWriter::StoreSums(const std::string& md5) {
  // In the blob file's own extended attributes: no other file to create,
  // fsync and rename, so a small blob is one new file (and its one fsync).
  const std::string& sums = sums_.encoded();
  if (store_->sums_in_ == BlobStore::SumsIn::kAttributes) {
    if (::fsetxattr(fd_.get(), kMd5Xattr, md5.data(), md5.size(), 0) == 0 &&
        ::fsetxattr(fd_.get(), kBlocksXattr, sums.data(), sums.size(), 0) == 0) {
      return Status::OK();
    }
    if (!XattrUnsupported(errno)) return ErrnoStatus("setxattr " + tmp_path_, errno);
    ::fremovexattr(fd_.get(), kMd5Xattr);
  }
  // Sidecar files instead, renamed into place before the blob (Publish).
  sidecars_ = true;
  if (Status st = WriteSidecar(sums_tmp_path(), sums); !st.ok()) return st;
  return WriteSidecar(meta_tmp_path(), nlohmann::json{{"md5", md5}, {"size", written_}}.dump());
}

Result<BlobInfo> BlobWriter::Commit(const std::string& expected_md5, std::optional<uint32_t> expected_crc32,
                                    BlobSync sync) {
  if (Status st = out_.Flush(fd_.get()); !st.ok()) return st;
  std::string md5 = md5_.HexDigest();
  if (!expected_md5.empty() && md5 != expected_md5) {
    return Status::ChecksumMismatch("md5 of the received body is " + md5 + ", expected " + expected_md5);
  }
  if (Status st = sums_.Write(); !st.ok()) return st;
  if (expected_crc32 && sums_.whole_crc() != *expected_crc32) {
    return Status::ChecksumMismatch("CRC-32 of the received body is " + Crc32::ToHex(sums_.whole_crc()) +
                                    ", expected " + Crc32::ToHex(*expected_crc32));
  }
  if (Status st = StoreSums(md5); !st.ok()) return st;
  if (sync == BlobSync::kNow && ::fsync(fd_.get()) != 0) return ErrnoStatus("fsync " + tmp_path_, errno);
  if (fd_.Close() != 0) return ErrnoStatus("close " + tmp_path_, errno);
  Status st = store_->Publish(*this, md5, sync);
  if (!st.ok()) return st;
  return BlobInfo{blob_id_, written_, md5};
}

Result<std::unique_ptr<BlobStore>> BlobStore::Open(const std::string& dir, uint64_t capacity, SumsIn sums_in) {
  std::error_code ec;
  fs::create_directories(dir + "/blobs", ec);
  fs::create_directories(dir + "/tmp", ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  // Leftovers of writes interrupted by a crash are never valid blobs.
  for (const auto& entry : fs::directory_iterator(dir + "/tmp", ec)) fs::remove(entry.path(), ec);
  std::unique_ptr<BlobStore> store(new BlobStore(dir, capacity, sums_in));
  auto list = store->List();
  if (!list.ok()) return list.status();
  for (const auto& b : *list) store->used_ += b.size;
  store->blobs_ = list->size();
  return store;
}

Status BlobStore::ValidateId(const std::string& blob_id) {
  if (blob_id.size() != 32) return Status::InvalidArgument("blob id must be 32 lower-case hex digits");
  for (char c : blob_id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status::InvalidArgument("blob id must be 32 lower-case hex digits");
    }
  }
  return Status::OK();
}

std::string BlobStore::BlobPath(const std::string& id) const {
  return dir_ + "/blobs/" + id.substr(0, 2) + "/" + id;
}
std::string BlobStore::MetaPath(const std::string& id) const { return BlobPath(id) + ".meta"; }
std::string BlobStore::BlocksPath(const std::string& id) const { return BlobPath(id) + ".blocks"; }

uint64_t BlobStore::FreeBytes() const {
  ++free_space_checks_;
  struct statvfs vfs {};
  uint64_t disk_free = UINT64_MAX;
  if (::statvfs(dir_.c_str(), &vfs) == 0) disk_free = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  uint64_t used = used_.load();
  uint64_t cap_free = UINT64_MAX;
  if (capacity_ > 0) cap_free = capacity_ > used ? capacity_ - used : 0;
  return std::min(disk_free, cap_free);
}

Usage BlobStore::GetUsage() const {
  Usage u;
  u.used = used_.load();
  u.blobs = blobs_.load();
  struct statvfs vfs {};
  uint64_t disk_total = 0;
  if (::statvfs(dir_.c_str(), &vfs) == 0) disk_total = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  u.capacity = capacity_ > 0 ? capacity_ : disk_total;
  u.free = FreeBytes();
  return u;
}

Result<std::unique_ptr<BlobWriter>> BlobStore::BeginWrite(const std::string& blob_id,
                                                          std::optional<uint64_t> expected_size) {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  const uint64_t free = FreeBytes();
  if (expected_size && *expected_size > free) {
    return Status::NoSpace("blob of " + std::to_string(*expected_size) + " bytes does not fit: " +
                           std::to_string(free) + " bytes free");
  }
  std::string tmp = TmpPath(blob_id);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus("create " + tmp, errno);
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(this, blob_id, tmp, std::move(fd), BlockSumsWriter::InMemory(), free));
}

Status BlobStore::SyncPublished(const std::string& id, BlobSync sync) {
  const std::string shard = dir_ + "/blobs/" + id.substr(0, 2);
  if (sync == BlobSync::kNow) return FsyncDir(shard);
  std::lock_guard lock(pending_mu_);
  pending_files_.push_back(BlobPath(id));
  pending_dirs_.insert(shard);
  return Status::OK();
}

Status BlobStore::SyncPending() {
  std::vector<std::string> files;
  std::set<std::string> dirs;
  {
    std::lock_guard lock(pending_mu_);
    files.swap(pending_files_);
    dirs.swap(pending_dirs_);
  }
  Status failed;
  std::vector<std::string> unsynced;
  for (const std::string& path : files) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd && errno == ENOENT) continue;  // deleted (or quarantined) meanwhile: nothing to keep
    if (!fd || ::fsync(fd.get()) != 0) {
      failed = ErrnoStatus("fsync " + path, errno);
      unsynced.push_back(path);
    }
  }
  std::set<std::string> dirs_left;
  for (const std::string& dir : dirs) {
    if (Status st = FsyncDir(dir); !st.ok()) {
      failed = st;
      dirs_left.insert(dir);
    }
  }
  if (!failed.ok()) {
    std::lock_guard lock(pending_mu_);
    pending_files_.insert(pending_files_.end(), unsynced.begin(), unsynced.end());
    pending_dirs_.insert(dirs_left.begin(), dirs_left.end());
  }
  return failed;
}

size_t BlobStore::pending_syncs() const {
  std::lock_guard lock(pending_mu_);
  return pending_files_.size();
}

void BlobStore::StartSyncer(std::chrono::milliseconds every) {
  if (syncer_.joinable()) return;  // one syncer per store
  syncer_ = std::thread([this, every] {
    std::unique_lock lock(syncer_mu_);
    while (!syncer_cv_.wait_for(lock, every, [this] { return stopping_; })) {
      if (pending_syncs() == 0) continue;
      lock.unlock();
      if (Status st = SyncPending(); !st.ok()) {
        DFS_LOG(WARN, "storage") << "sync of recent blobs failed (tried again): " << st.ToString();
      }
      lock.lock();
    }
  });
}

BlobStore::~BlobStore() {
  {
    std::lock_guard lock(syncer_mu_);
    stopping_ = true;
  }
  syncer_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  if (Status st = SyncPending(); !st.ok()) DFS_LOG(WARN, "storage") << "final sync: " << st.ToString();
}

Status BlobStore::Publish(BlobWriter& writer, const std::string& md5, BlobSync sync) {
  const std::string& id = writer.blob_id_;
  std::lock_guard lock(publish_mu_);
  const std::string shard = dir_ + "/blobs/" + id.substr(0, 2);
  if (auto existing = Stat(id); existing.ok()) {
    if (existing->md5 != md5) return Status::AlreadyExists("blob " + id + " exists with another md5");
    // A repeated write (a redelivered copy, or a repair of a copy found
    // corrupt): the new bytes were just verified, so they replace the old,
    // block sums first (the same bytes have the same block sums).
    if (writer.sidecars_ && ::rename(writer.sums_tmp_path().c_str(), BlocksPath(id).c_str()) != 0) {
      return ErrnoStatus("rename over blob " + id, errno);  // ~BlobWriter removes the temp files
    }
    if (::rename(writer.tmp_path_.c_str(), BlobPath(id).c_str()) != 0) return ErrnoStatus("rename over blob " + id, errno);
    writer.done_ = true;
    ::unlink(writer.meta_tmp_path().c_str());  // the same md5 and size
    if (!writer.sidecars_) {  // the new file carries them: an older copy's sidecars go
      ::unlink(MetaPath(id).c_str());
      ::unlink(BlocksPath(id).c_str());
    }
    return SyncPublished(id, sync);
  }
  std::error_code ec;
  fs::create_directories(shard, ec);
  if (ec) return Status::IOError("mkdir " + shard + ": " + ec.message());
  // Sidecars (if any) first: a visible blob always has its md5 and block sums.
  const std::string meta_tmp = writer.meta_tmp_path();
  if ((writer.sidecars_ && (::rename(meta_tmp.c_str(), MetaPath(id).c_str()) != 0 ||
                            ::rename(writer.sums_tmp_path().c_str(), BlocksPath(id).c_str()) != 0)) ||
      ::rename(writer.tmp_path_.c_str(), BlobPath(id).c_str()) != 0) {
    int err = errno;
    if (writer.sidecars_) {
      ::unlink(meta_tmp.c_str());
      ::unlink(MetaPath(id).c_str());
      ::unlink(BlocksPath(id).c_str());
    }
    return ErrnoStatus("rename into " + shard, err);
  }
  writer.done_ = true;
  used_ += writer.written_;
  ++blobs_;
  return SyncPublished(id, sync);
}

Result<BlobInfo> BlobStore::Stat(const std::string& blob_id) const {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  struct stat sb {};
  if (::stat(BlobPath(blob_id).c_str(), &sb) != 0) return Status::NotFound("blob " + blob_id + " not found");
  Result<BlobInfo> meta = BlobInfo{blob_id, 0, ""};
  if (auto md5 = GetXattr(BlobPath(blob_id), kMd5Xattr); md5.ok()) {
    meta->md5 = std::move(*md5);
  } else if (md5.status().code() == Code::kNotFound) {
    meta = ReadMeta(MetaPath(blob_id), blob_id);  // written with sidecars (or before the attributes)
  } else {
    return md5.status();
  }
  if (!meta.ok()) return meta.status();
  meta->size = static_cast<uint64_t>(sb.st_size);  // what is on disk is what we serve
  meta->mtime = static_cast<double>(sb.st_mtim.tv_sec) + static_cast<double>(sb.st_mtim.tv_nsec) / 1e9;
  return meta;
}

Result<UniqueFd> BlobStore::OpenForRead(const std::string& blob_id) const {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  UniqueFd fd(::open(BlobPath(blob_id).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Status::NotFound("blob " + blob_id + " not found");
    return ErrnoStatus("open blob " + blob_id, errno);
  }
  return fd;
}

Result<BlockSums> BlobStore::OpenBlockSums(const std::string& blob_id, uint64_t size) const {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  auto attribute = GetXattr(BlobPath(blob_id), kBlocksXattr);
  if (attribute.ok()) return BlockSums::FromBytes(std::move(*attribute), size, "blob " + blob_id);
  if (attribute.status().code() != Code::kNotFound) return attribute.status();
  return BlockSums::Open(BlocksPath(blob_id), size);
}

Result<bool> BlobStore::Quarantine(const std::string& blob_id, int read_fd) {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  std::lock_guard lock(publish_mu_);
  struct stat now {}, read {};
  if (::stat(BlobPath(blob_id).c_str(), &now) != 0 || ::fstat(read_fd, &read) != 0 || now.st_ino != read.st_ino ||
      now.st_dev != read.st_dev) {
    return false;  // gone or replaced meanwhile: nothing bad left to move
  }
  const std::string dir = dir_ + "/quarantine";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("mkdir " + dir + ": " + ec.message());
  const std::string to = dir + "/" + blob_id + "." + RandomHex(4);
  // The blob first: once it is gone it is not served, whatever happens next.
  if (::rename(BlobPath(blob_id).c_str(), to.c_str()) != 0) return ErrnoStatus("quarantine blob " + blob_id, errno);
  ::rename(MetaPath(blob_id).c_str(), (to + ".meta").c_str());
  ::rename(BlocksPath(blob_id).c_str(), (to + ".blocks").c_str());
  // Their mtime says when they were quarantined (PruneQuarantine goes by it).
  for (const std::string& moved : {to, to + ".meta", to + ".blocks"}) ::utimensat(AT_FDCWD, moved.c_str(), nullptr, 0);
  uint64_t size = static_cast<uint64_t>(now.st_size);
  used_ -= std::min<uint64_t>(size, used_.load());
  if (blobs_ > 0) --blobs_;
  return true;
}

Result<size_t> BlobStore::PruneQuarantine(std::chrono::seconds keep) {
  const std::string dir = dir_ + "/quarantine";
  std::error_code ec;
  if (!fs::exists(dir, ec)) return size_t{0};
  const time_t cutoff = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - keep);
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= cutoff) continue;
    if (fs::remove(entry.path(), ec)) ++removed;
  }
  if (ec) return Status::IOError("prune " + dir + ": " + ec.message());
  return removed;
}

std::string BlobStore::TmpPath(const std::string& blob_id) const { return dir_ + "/tmp/" + blob_id + "." + RandomHex(6); }

Result<bool> BlobStore::AdoptBlockSums(const std::string& blob_id, const std::string& sums_tmp, int read_fd) {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  std::lock_guard lock(publish_mu_);
  struct stat now {}, read {}, sums {};
  if (::stat(BlobPath(blob_id).c_str(), &now) != 0 || ::fstat(read_fd, &read) != 0 || now.st_ino != read.st_ino ||
      now.st_dev != read.st_dev || ::stat(BlocksPath(blob_id).c_str(), &sums) == 0) {
    return false;
  }
  if (::rename(sums_tmp.c_str(), BlocksPath(blob_id).c_str()) != 0) {
    return ErrnoStatus("rename block sums of " + blob_id, errno);
  }
  if (Status fs = FsyncDir(dir_ + "/blobs/" + blob_id.substr(0, 2)); !fs.ok()) return fs;
  return true;
}

Result<std::string> BlobStore::ComputeMd5(const std::string& blob_id) const {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  if (::access(BlobPath(blob_id).c_str(), F_OK) != 0) return Status::NotFound("blob " + blob_id + " not found");
  return Md5::OfFile(BlobPath(blob_id));
}

Status BlobStore::Delete(const std::string& blob_id) {
  Status st = ValidateId(blob_id);
  if (!st.ok()) return st;
  std::lock_guard lock(publish_mu_);
  struct stat sb {};
  if (::stat(BlobPath(blob_id).c_str(), &sb) != 0) return Status::NotFound("blob " + blob_id + " not found");
  if (::unlink(BlobPath(blob_id).c_str()) != 0) return ErrnoStatus("unlink blob " + blob_id, errno);
  ::unlink(MetaPath(blob_id).c_str());
  ::unlink(BlocksPath(blob_id).c_str());
  uint64_t size = static_cast<uint64_t>(sb.st_size);
  used_ -= std::min<uint64_t>(size, used_.load());
  if (blobs_ > 0) --blobs_;
  return Status::OK();
}

Result<std::vector<BlobInfo>> BlobStore::List() const {
  std::vector<BlobInfo> out;
  std::error_code ec;
  for (const auto& shard : fs::directory_iterator(dir_ + "/blobs", ec)) {
    if (!shard.is_directory()) continue;
    for (const auto& entry : fs::directory_iterator(shard.path(), ec)) {
      std::string name = entry.path().filename();
      if (!ValidateId(name).ok()) continue;  // .meta sidecars and strays
      auto info = Stat(name);
      if (info.ok()) out.push_back(*info);
    }
  }
  if (ec) return Status::IOError("list blobs: " + ec.message());
  return out;
}

Result<std::string> LoadOrCreateNodeId(const std::string& dir) {
  std::string path = dir + "/node_id";
  {
    std::ifstream in(path);
    std::string id;
    if (in >> id && !id.empty()) return id;
  }
  std::string id = RandomHex(8);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << "\n";
    if (!out) return Status::IOError("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename " + tmp, errno);
  return id;
}

}  // namespace dfs::storage
