// Prometheus metrics: counters, gauges and histograms kept in a Registry and
// rendered in the text exposition format for GET /metrics.
//
//   metrics::Registry registry;
//   auto& puts = registry.GetCounter("dfs_puts_total", "files stored", {{"result", "ok"}});
//   puts.Add();
//   registry.AddCollector([&](metrics::SampleSink& out) {   // values read at scrape time
//     out.Gauge("dfs_files", "files in the namespace", {}, CountFiles());
//   });
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace dfs::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Add(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf count.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<double> sum_{0};
};

// 1 ms .. 60 s: request and copy latencies.
std::vector<double> LatencyBuckets();

// What collectors write at scrape time.
class SampleSink {
 public:
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  void Counter(const std::string& name, const std::string& help, const Labels& labels, double value);

 private:
  friend class Registry;
  struct Sample {
    std::string type, help;
    Labels labels;
    double value;
  };
  std::map<std::string, std::vector<Sample>> samples_;
};

class Registry {
 public:
  // The same name and labels always give the same metric; references stay valid.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help, const Labels& labels = {},
                          const std::vector<double>& bounds = LatencyBuckets());
  void AddCollector(std::function<void(SampleSink&)> collector);

  // The text exposition format (version 0.0.4), with process_* metrics.
  std::string Render() const;

 private:
  struct Family {
    std::string type, help;
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyFor(const std::string& name, const std::string& type, const std::string& help);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::vector<std::function<void(SampleSink&)>> collectors_;
};

// "a\"b" -> a\"b escaped for a label value.
std::string EscapeLabelValue(const std::string& value);

}  // namespace dfs::metrics
