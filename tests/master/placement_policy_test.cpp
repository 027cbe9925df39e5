#include "master/placement_policy.h"

#include <map>

#include <gtest/gtest.h>

namespace dfs::master {

namespace {
NodeRecord Node(std::string id, std::string state, uint64_t free) {
  NodeRecord n;
  n.node_id = std::move(id);
  n.state = NodeStateFromString(state);
  n.free = free;
  return n;
}
}  // namespace

TEST(PlacementPolicyTest, OnlyUpNodesWithRoomAndNotExcluded) {
  PlacementPolicy policy;
  std::vector<NodeRecord> nodes = {Node("a", "up", 100), Node("b", "down", 1000), Node("c", "up", 10),
                                   Node("d", "draining", 1000), Node("e", "up", 1000)};
  for (int i = 0; i < 200; ++i) {
    auto n = policy.Choose(nodes, 50, {"e"});
    ASSERT_TRUE(n);
    EXPECT_EQ(n->node_id, "a");
  }
  EXPECT_FALSE(policy.Choose(nodes, 5000, {}));
  EXPECT_FALSE(policy.Choose(nodes, 1, {"a", "c", "e"}));
  EXPECT_FALSE(policy.Choose({}, std::nullopt, {}));
}

TEST(PlacementPolicyTest, SpreadsRoughlyUniformly) {
  PlacementPolicy policy;
  std::vector<NodeRecord> nodes = {Node("a", "up", 1000), Node("b", "up", 1000), Node("c", "up", 1000)};
  std::map<std::string, int> counts;
  for (int i = 0; i < 3000; ++i) ++counts[policy.Choose(nodes, std::nullopt, {})->node_id];
  for (const auto& [id, n] : counts) EXPECT_GT(n, 700) << id;  // expected 1000 each
  EXPECT_EQ(counts.size(), 3u);
}

}  // namespace dfs::master
