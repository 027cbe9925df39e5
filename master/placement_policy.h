// PlacementPolicy: where a new blob goes. Uniformly random among nodes that
// are up and have room, so load spreads without coordination.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "master/metadata_store.h"

namespace dfs::master {

class PlacementPolicy {
 public:
  // size: bytes to place when known. excluded: nodes already tried.
  std::optional<NodeRecord> Choose(const std::vector<NodeRecord>& nodes, std::optional<uint64_t> size,
                                   const std::set<std::string>& excluded) const;
};

}  // namespace dfs::master
