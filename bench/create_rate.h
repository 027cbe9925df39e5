// The create rate of a real master: small files created through its HTTP
// API (PUT /api/v1/files/...?conflict=fail, one keep-alive connection with
// TCP_NODELAY per client thread, as curl) and through a real FUSE mount
// (mount.dfs; open O_EXCL, write, close per file from client threads), in
// rounds, each round into fresh names of one folder per way. Several
// clusters are measured interleaved, a round of each in turn, so that a
// noisy moment of the shared machine hits them alike: namespace_bench times
// its full master against an empty twin cluster that way.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/support/cluster.h"

namespace dfs::bench {

inline constexpr size_t kCreateFileBytes = 4096;

struct CreateRate {
  double http_files_per_s = 0;
  double mount_files_per_s = 0;
  long master_rss_kib = 0;  // after the last round
};

// One cluster under measurement: its mount (made here, unmounted and stopped
// by pid on destruction) and the folders its creates go to.
class CreateProbe {
 public:
  // Mounts `cluster` and makes `folder`_http/ and `folder`_mount/ in it.
  [[nodiscard]] static Result<std::unique_ptr<CreateProbe>> Start(dfs::testing::TestCluster& cluster,
                                                                  const std::string& folder);
  ~CreateProbe();
  CreateProbe(const CreateProbe&) = delete;
  CreateProbe& operator=(const CreateProbe&) = delete;

  // Untimed HTTP creates into `folder`_warmup/: the nodes' blob folders and
  // the master's spool exist before anything is timed.
  [[nodiscard]] Status WarmUp(int files, int clients);
  // Files [first, first + files) by each way; the seconds they took.
  [[nodiscard]] Result<double> Http(int first, int files, int clients);
  [[nodiscard]] Result<double> Mount(int first, int files, int clients);
  long MasterRssKiB() const;

 private:
  CreateProbe(dfs::testing::TestCluster& cluster, std::string folder, std::string mountpoint);
  dfs::testing::TestCluster& cluster_;
  const std::string folder_, mountpoint_;
  dfs::testing::Subprocess mount_;
};

// `files` creates each way on every probe, in `rounds` rounds; one rate per
// probe, in their order.
[[nodiscard]] Result<std::vector<CreateRate>> MeasureCreates(const std::vector<CreateProbe*>& probes, int files,
                                                             int clients, int rounds);

}  // namespace dfs::bench
