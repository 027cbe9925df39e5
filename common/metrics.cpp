#include "common/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace dfs::metrics {

namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

std::string FormatLabels(const Labels& labels, const std::string& extra_key = "", const std::string& extra = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_key.empty()) add(extra_key, extra);
  return out + "}";
}

void WriteHeader(std::ostringstream& out, const std::string& name, const std::string& type, const std::string& help) {
  std::string escaped;
  for (char c : help) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  out << "# HELP " << name << " " << escaped << "\n# TYPE " << name << " " << type << "\n";
}

// Resident set size in bytes, from /proc/self/statm (pages).
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double OpenFds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != decltype(it){};
       it.increment(ec)) {
    ++n;
  }
  return n;
}

const double kStartTime =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

void SampleSink::Gauge(const std::string& name, const std::string& help, const Labels& labels, double value) {
  samples_[name].push_back({"gauge", help, labels, value});
}

void SampleSink::Counter(const std::string& name, const std::string& help, const Labels& labels, double value) {
  samples_[name].push_back({"counter", help, labels, value});
}

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& type, const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered as " + it->second.type + " and " + type);
  }
  return it->second;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, "counter", help).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, "gauge", help).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help, const Labels& labels,
                                  const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, "histogram", help).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

void Registry::AddCollector(std::function<void(SampleSink&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Render() const {
  // Collectors may query a database or Redis: run them without the lock.
  std::vector<std::function<void(SampleSink&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  SampleSink sink;
  for (const auto& c : collectors) c(sink);
  sink.Gauge("process_resident_memory_bytes", "resident memory size in bytes", {}, ResidentBytes());
  sink.Gauge("process_open_fds", "open file descriptors", {}, OpenFds());
  sink.Gauge("process_start_time_seconds", "start time of the process since the epoch in seconds", {}, kStartTime);

  std::ostringstream out;
  for (const auto& [name, samples] : sink.samples_) {
    WriteHeader(out, name, samples.front().type, samples.front().help);
    for (const auto& s : samples) out << name << FormatLabels(s.labels) << " " << FormatValue(s.value) << "\n";
  }
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    WriteHeader(out, name, family.type, family.help);
    for (const auto& [labels, c] : family.counters) out << name << FormatLabels(labels) << " " << FormatValue(c->Value()) << "\n";
    for (const auto& [labels, g] : family.gauges) out << name << FormatLabels(labels) << " " << FormatValue(g->Value()) << "\n";
    for (const auto& [labels, h] : family.histograms) {
      auto counts = h->CumulativeCounts();
      for (size_t i = 0; i < h->bounds().size(); ++i) {
        out << name << "_bucket" << FormatLabels(labels, "le", FormatValue(h->bounds()[i])) << " " << counts[i] << "\n";
      }
      out << name << "_bucket" << FormatLabels(labels, "le", "+Inf") << " " << counts.back() << "\n";
      out << name << "_sum" << FormatLabels(labels) << " " << FormatValue(h->Sum()) << "\n";
      out << name << "_count" << FormatLabels(labels) << " " << counts.back() << "\n";
    }
  }
  return out.str();
}

}  // namespace dfs::metrics
