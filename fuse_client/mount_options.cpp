#include "fuse_client/mount_options.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

namespace dfs::fuse_client {
namespace {

// Options only mount(8) and fstab care about.
bool IsFstabOnly(const std::string& key) {
  static const std::set<std::string> kKeys = {"defaults", "_netdev", "noauto", "auto", "nofail", "user",
                                              "users",    "nouser",  "owner",  "group", "comment"};
  return kKeys.count(key) > 0 || key.rfind("x-", 0) == 0;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// zero_ok: attr_timeout=0 (no attribute caching) is fine, timeout=0 is not.
Result<double> ParseSeconds(const std::string& key, const std::string& value, bool zero_ok) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || v < 0 || (v == 0 && !zero_ok) || v > 86400) {
    return Status::InvalidArgument(key + "= must be a number of seconds, got '" + value + "'");
  }
  return v;
}

// "dfs#host:port" or "host:port" or a URL, or a comma-separated list of
// them (several masters): each becomes a URL; the list stays comma-separated.
std::string NormalizeMaster(std::string spec) {
  if (spec.rfind("dfs#", 0) == 0) spec = spec.substr(4);
  std::string out;
  for (std::string item : SplitCommas(spec)) {
    if (item.find("://") == std::string::npos) item = "http://" + item;
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

}  // namespace

Result<uint64_t> ParseByteSize(const std::string& text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str()) return Status::InvalidArgument("bad size '" + text + "'");
  std::string unit(end);
  int shift = unit.empty() ? 0 : unit == "K" || unit == "k" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0) return Status::InvalidArgument("bad size unit in '" + text + "' (use K, M or G)");
  return static_cast<uint64_t>(v) << shift;
}

std::string MountUsage() {
  return "usage: mount.dfs [MASTER] MOUNTPOINT [-o OPTIONS] [-f]\n"
         "  MASTER      HOST:PORT or URL of dfs-master, or several: URL,URL,... (failover);\n"
         "              or -o master=URL (repeated for several), or $DFS_MASTER;\n"
         "              default http://127.0.0.1:8820\n"
         "  -f          stay in the foreground (default: daemonize)\n"
         "  -d          FUSE debug output (implies -f)\n"
         "  -o master=URL,cache_dir=DIR,cache_size=1G,timeout=10,attr_timeout=2,attempts=2\n"
         "     verify=read|open (check each chunk as it is read, the default; or the whole\n"
         "     file when it is opened),\n"
         "     token_file=FILE (the cluster token; else $DFS_TOKEN_FILE or $DFS_TOKEN),\n"
         "     ca=FILE (CA for an https:// master)\n"
         "     plus FUSE options: allow_other, default_permissions, ro, ...\n"
         "unmount with: umount MOUNTPOINT  or  fusermount3 -u MOUNTPOINT\n";
}

Result<MountOptions> ParseMountArgs(const std::vector<std::string>& args) {
  MountOptions o;
  std::vector<std::string> positional;
  std::string master_opt;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return Status::InvalidArgument("help");
    if (a == "-f") {
      o.foreground = true;
    } else if (a == "-d") {
      o.debug = o.foreground = true;
    } else if (a == "-s" || a == "-n" || a == "-v") {
      // mount(8)'s sloppy / no-mtab / verbose flags: nothing to do.
    } else if (a == "-t" || a == "-N") {
      ++i;  // type (we know it) / namespace (unsupported, ignored)
    } else if (a == "-o" || a.rfind("-o", 0) == 0) {
      std::string list = a == "-o" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(2);
      if (list.empty()) return Status::InvalidArgument("-o needs a value");
      for (const auto& opt : SplitCommas(list)) {
        size_t eq = opt.find('=');
        std::string key = opt.substr(0, eq), value = eq == std::string::npos ? "" : opt.substr(eq + 1);
        if (key == "master") {
          // -o splits on commas: several masters are several master= options.
          master_opt += (master_opt.empty() ? "" : ",") + value;
        } else if (key == "cache_dir") {
          o.cache_dir = value;
        } else if (key == "cache_size") {
          auto size = ParseByteSize(value);
          if (!size.ok()) return size.status();
          o.cache_bytes = *size;
        } else if (key == "timeout" || key == "attr_timeout") {
          auto s = ParseSeconds(key, value, key == "attr_timeout");
          if (!s.ok()) return s.status();
          (key == "timeout" ? o.timeout_s : o.attr_timeout_s) = *s;
        } else if (key == "token_file") {
          o.token_file = value;
        } else if (key == "ca") {
          o.tls_ca = value;
        } else if (key == "token") {
          return Status::InvalidArgument("token= would show in ps and /proc/mounts: use token_file= or $DFS_TOKEN");
        } else if (key == "verify") {
          if (value != "open" && value != "read") return Status::InvalidArgument("verify= must be open or read");
          o.verify_at_open = value == "open";
        } else if (key == "attempts") {
          o.attempts = std::atoi(value.c_str());
          if (o.attempts < 1 || o.attempts > 20) return Status::InvalidArgument("attempts= must be 1..20");
        } else if (!IsFstabOnly(key)) {
          o.fuse_options.push_back(opt);
        }
      }
    } else if (!a.empty() && a[0] == '-') {
      return Status::InvalidArgument("unknown flag '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty() || positional.size() > 2) return Status::InvalidArgument("expected [MASTER] MOUNTPOINT");
  o.mountpoint = positional.back();
  if (positional.size() == 2) {
    o.master_url = NormalizeMaster(positional[0]);
  } else if (!master_opt.empty()) {
    o.master_url = NormalizeMaster(master_opt);
  } else if (const char* env = std::getenv("DFS_MASTER"); env && *env) {
    o.master_url = NormalizeMaster(env);
  } else {
    o.master_url = "http://127.0.0.1:8820";
  }
  if (!master_opt.empty() && positional.size() == 2) o.master_url = NormalizeMaster(master_opt);
  std::error_code ec;
  o.mountpoint = std::filesystem::absolute(o.mountpoint, ec).lexically_normal().string();
  if (o.mountpoint.size() > 1 && o.mountpoint.back() == '/') o.mountpoint.pop_back();
  if (o.cache_dir.empty()) {
    const char* home = std::getenv("HOME");
    o.cache_dir = ::geteuid() == 0 || !home ? "/var/cache/dfs" : std::string(home) + "/.cache/dfs";
  }
  o.cache_dir = std::filesystem::absolute(o.cache_dir, ec).lexically_normal().string();
  return o;
}

}  // namespace dfs::fuse_client
