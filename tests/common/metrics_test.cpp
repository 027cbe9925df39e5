#include "common/metrics.h"

#include <gtest/gtest.h>

#include "common/http_metrics.h"

namespace dfs::metrics {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(MetricsTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry r;
  r.GetCounter("dfs_things_total", "things", {{"kind", "a"}}).Add();
  r.GetCounter("dfs_things_total", "things", {{"kind", "a"}}).Add(2);
  r.GetCounter("dfs_things_total", "things", {{"kind", "b\"x"}}).Add(0.5);
  r.GetGauge("dfs_level", "level").Set(-3);
  std::string text = r.Render();
  EXPECT_TRUE(HasLine(text, "# HELP dfs_things_total things")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE dfs_things_total counter")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_things_total{kind=\"a\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_things_total{kind=\"b\\\"x\"} 0.5")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE dfs_level gauge")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_level -3")) << text;
  EXPECT_TRUE(text.find("process_resident_memory_bytes ") != std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.GetHistogram("dfs_op_seconds", "op time", {{"op", "x"}}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // on a bound: counted in that bucket (le)
  h.Observe(0.5);
  h.Observe(5);
  std::string text = r.Render();
  EXPECT_TRUE(HasLine(text, "dfs_op_seconds_bucket{op=\"x\",le=\"0.1\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_op_seconds_bucket{op=\"x\",le=\"1\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_op_seconds_bucket{op=\"x\",le=\"+Inf\"} 4")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_op_seconds_count{op=\"x\"} 4")) << text;
  EXPECT_TRUE(HasLine(text, "dfs_op_seconds_sum{op=\"x\"} 5.65")) << text;
}

TEST(MetricsTest, CollectorsRunAtRenderTime) {
  Registry r;
  int calls = 0;
  r.AddCollector([&](SampleSink& out) {
    ++calls;
    out.Gauge("dfs_nodes", "nodes", {{"state", "up"}}, 3);
    out.Gauge("dfs_nodes", "nodes", {{"state", "down"}}, calls);
  });
  r.Render();
  std::string text = r.Render();
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(HasLine(text, "dfs_nodes{state=\"down\"} 2")) << text;
  EXPECT_EQ(text.find("# TYPE dfs_nodes gauge"), text.rfind("# TYPE dfs_nodes gauge")) << "one header per family";
}

TEST(MetricsTest, OneNameCannotBeTwoTypes) {
  Registry r;
  r.GetCounter("dfs_x", "x");
  EXPECT_THROW(r.GetGauge("dfs_x", "x"), std::logic_error);
}

TEST(MetricsTest, LargeValuesKeepTheirDigits) {
  Registry r;
  r.GetGauge("dfs_t", "t").Set(1795588650.25);
  EXPECT_TRUE(HasLine(r.Render(), "dfs_t 1795588650.25"));
}

TEST(RouteLabelTest, UserPathsNeverBecomeLabels) {
  std::vector<std::string> routes = {"/", "/healthz", "/api/v1/files", "/api/v1/files/x"};
  EXPECT_EQ(RouteLabel("/", routes), "/");
  EXPECT_EQ(RouteLabel("/healthz", routes), "/healthz");
  EXPECT_EQ(RouteLabel("/api/v1/files/a/b.txt", routes), "/api/v1/files");
  EXPECT_EQ(RouteLabel("/api/v1/files/x/y", routes), "/api/v1/files/x");  // the longest route wins
  EXPECT_EQ(RouteLabel("/api/v1/filesystem", routes), "other");
  EXPECT_EQ(RouteLabel("/secret-name.txt", routes), "other");
  EXPECT_EQ(RouteLabel("/healthz/../../etc", routes), "/healthz");
}

}  // namespace
}  // namespace dfs::metrics
