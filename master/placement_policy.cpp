#include "master/placement_policy.h"

#include <random>

namespace dfs::master {

std::optional<NodeRecord> PlacementPolicy::Choose(const std::vector<NodeRecord>& nodes,
                                                  std::optional<uint64_t> size,
                                                  const std::set<std::string>& excluded) const {
  std::vector<const NodeRecord*> candidates;
  for (const auto& n : nodes) {
    if (n.state != NodeState::kUp || excluded.count(n.node_id)) continue;
    if (size && n.free < *size) continue;
    candidates.push_back(&n);
  }
  if (candidates.empty()) return std::nullopt;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, candidates.size() - 1);
  return *candidates[pick(rng)];
}

}  // namespace dfs::master
