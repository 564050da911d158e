// uswap sim: replays a page trace through the engine's own reclaim policies
// (mm/policy) and Belady's OPT, and prints misses, the ratio to OPT and, in
// faults mode, the minor faults a live uswap would take and an estimated
// time. Definitions: mm/policy/simulator.h; formats: mm/policy/trace.h;
// doc/policies.md.
//
// Exit code: 0 on success, 1 when the trace cannot be read or is empty or
// malformed, 2 on bad usage (unknown policy or format, bad --cache).
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "commands.h"
#include "mm/policy/reclaim_policy.h"
#include "mm/policy/simulator.h"
#include "mm/policy/trace.h"

namespace uswap::cli {
namespace {

constexpr const char kCmd[] = "sim";

// Fault costs measured by bench/fault_bench.cc on the development machine
// (doc/engine.md): a swap-in from the swap file ~70 µs, a minor fault (an
// unmapped resident page mapped again) ~15 µs.
constexpr double kDefaultMajorUs = 70;
constexpr double kDefaultMinorUs = 15;

constexpr const char kUsage[] =
    "usage: uswap sim --trace FILE|- --cache N|P% [options]\n"
    "       uswap sim [options] FILE|-\n"
    "\n"
    "Replays a page trace through uswap's reclaim policies (the code the engine\n"
    "runs live) and Belady's OPT, and prints misses and the ratio to OPT.\n"
    "\n"
    "  --trace FILE|-    the trace ('-' = standard input)\n"
    "  --format FMT      text (a page number per line, optional r/w), u32 (LE, bit 31\n"
    "                    = write) or u64 (LE page numbers) (default text)\n"
    "  --cache N|P%      cache size in pages, or a percentage of the distinct pages\n"
    "  --policy LIST     comma list of opt,lru,fifo,clock,two-list,arc,s3fifo,lirs,rdist\n"
    "                    or all (default all)\n"
    "  --observe MODE    all: every reference is seen (a cache simulator);\n"
    "                    faults: only what a live uswap sees, references to unmapped\n"
    "                    pages as minor faults (default all)\n"
    "  --major-us US     cost of a miss (major fault) for the estimate (default 70)\n"
    "  --minor-us US     cost of a minor fault for the estimate (default 15)\n"
    "  --json            one JSON object per policy, one per line\n";

struct Options {
  std::string trace;
  TraceFormat format = TraceFormat::kText;
  std::string cache;
  std::vector<std::string> policies;
  Observe observe = Observe::kAll;
  double major_us = kDefaultMajorUs;
  double minor_us = kDefaultMinorUs;
  bool json = false;
};

std::vector<std::string> AllPolicies() {
  std::vector<std::string> v{"opt"};
  for (const std::string& n : ReclaimPolicyNames()) v.push_back(n);
  return v;
}

bool KnownPolicy(const std::string& name) {
  for (const std::string& n : AllPolicies())
    if (n == name) return true;
  return false;
}

bool ParseCost(const char* text, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text, &end);
  if (errno || end == text || *end || !(v >= 0) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// -1 on success, else the exit code of the usage error.
int ParseOptions(int argc, char** argv, Options* o) {
  enum { kTrace = 256, kFormat, kCache, kPolicy, kObserve, kMajor, kMinor, kJson, kHelp };
  static const option kLong[] = {
      {"trace", required_argument, nullptr, kTrace},
      {"format", required_argument, nullptr, kFormat},
      {"cache", required_argument, nullptr, kCache},
      {"policy", required_argument, nullptr, kPolicy},
      {"observe", required_argument, nullptr, kObserve},
      {"major-us", required_argument, nullptr, kMajor},
      {"minor-us", required_argument, nullptr, kMinor},
      {"json", no_argument, nullptr, kJson},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":h", kLong, nullptr)) != -1) {
    const std::string arg = optarg ? optarg : "";
    switch (c) {
      case kTrace:
        o->trace = arg;
        break;
      case kFormat: {
        auto f = ParseTraceFormat(arg);
        if (!f) return UsageError(kCmd, "unknown --format '" + arg + "' (text, u32 or u64)");
        o->format = *f;
        break;
      }
      case kCache:
        o->cache = arg;
        break;
      case kPolicy: {
        o->policies.clear();
        std::istringstream in(arg);
        for (std::string p; std::getline(in, p, ',');) {
          if (p.empty()) continue;
          if (p == "all") {
            for (const std::string& n : AllPolicies()) o->policies.push_back(n);
          } else if (KnownPolicy(p)) {
            o->policies.push_back(p);
          } else {
            return UsageError(kCmd,
                              "unknown policy '" + p +
                                  "' (opt, lru, fifo, clock, two-list, arc, s3fifo, lirs, rdist "
                                  "or all)");
          }
        }
        if (o->policies.empty()) return UsageError(kCmd, "--policy needs a value");
        break;
      }
      case kObserve:
        if (arg == "all")
          o->observe = Observe::kAll;
        else if (arg == "faults")
          o->observe = Observe::kFaults;
        else
          return UsageError(kCmd, "unknown --observe '" + arg + "' (all or faults)");
        break;
      case kMajor:
      case kMinor:
        if (!ParseCost(optarg, c == kMajor ? &o->major_us : &o->minor_us))
          return UsageError(
              kCmd, std::string("bad --") + (c == kMajor ? "major-us " : "minor-us ") + arg);
        break;
      case kJson:
        o->json = true;
        break;
      default:
        return HelpOrUsageError(kCmd, c == kHelp ? 'h' : c, argv, kUsage);
    }
  }
  if (optind < argc) {
    if (!o->trace.empty() || optind + 1 < argc)
      return UsageError(kCmd, "one trace only (--trace FILE or a FILE operand)");
    o->trace = argv[optind];
  }
  if (o->trace.empty()) return UsageError(kCmd, "--trace FILE|- is required");
  if (o->cache.empty()) return UsageError(kCmd, "--cache N|P% is required");
  if (o->policies.empty()) o->policies = AllPolicies();
  return -1;
}

// The cache size in pages; 0 when `text` is not a count >= 1 or a
// percentage in (0, 100].
size_t ParseCache(const std::string& text, size_t distinct) {
  char* end = nullptr;
  errno = 0;
  if (text.empty() || text[0] == '-' || text[0] == '+') return 0;
  if (text.back() == '%') {
    double p = std::strtod(text.c_str(), &end);
    if (errno || end != text.c_str() + text.size() - 1 || !(p > 0) || p > 100) return 0;
    return std::max<size_t>(1, static_cast<size_t>(std::llround(double(distinct) * p / 100)));
  }
  unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (errno || end == text.c_str() || *end) return 0;
  return static_cast<size_t>(n);
}

}  // namespace

int SimMain(int argc, char** argv) {
  Options o;
  if (int rc = ParseOptions(argc, argv, &o); rc >= 0) return rc;
  // The size must parse before the trace is read (a usage error is cheap).
  if (ParseCache(o.cache, 100) == 0)
    return UsageError(kCmd, "bad --cache " + o.cache + " (pages >= 1, or a percentage like 25%)");

  int fd = 0;
  if (o.trace != "-") {
    fd = open(o.trace.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Fail(kCmd, o.trace, std::strerror(errno));
  }
  Result<Trace> trace = ReadTrace(fd, o.format);
  if (fd != 0) close(fd);
  if (!trace.ok()) return Fail(kCmd, o.trace, trace.status().ToString());
  const size_t cache = ParseCache(o.cache, trace->distinct());

  const bool faults = o.observe == Observe::kFaults;
  const SimResult opt = SimulateOpt(*trace, cache);
  if (!o.json) {
    std::printf(
        "trace %s: %zu references, %zu distinct pages; cache %zu pages (%.1f%%); "
        "observe %s\n",
        o.trace.c_str(), trace->refs.size(), trace->distinct(), cache,
        100.0 * double(cache) / double(trace->distinct()), faults ? "faults" : "all");
    std::printf("%-10s %12s %10s %12s %11s %7s %13s %10s\n", "policy", "references", "distinct",
                "misses", "miss ratio", "/OPT", "minor faults", "est. s");
  }
  for (const std::string& name : o.policies) {
    SimResult r;
    if (name == "opt") {
      r = opt;
    } else {
      ReclaimPolicyOptions po;
      po.capacity = cache;  // the engine knows its budget too
      std::unique_ptr<ReclaimPolicy> p = CreateReclaimPolicy(name, po);
      r = Simulate(*trace, cache, *p, o.observe);
    }
    const double vs_opt = opt.misses ? double(r.misses) / double(opt.misses) : 1.0;
    // OPT sees every reference for free: it has no minor faults.
    const double est_s =
        (double(r.misses) * o.major_us + double(r.minor_faults) * o.minor_us) / 1e6;
    if (o.json) {
      std::printf(
          "{\"policy\":%s,\"references\":%llu,\"distinct\":%llu,\"cache\":%zu,"
          "\"observe\":\"%s\",\"misses\":%llu,\"miss_ratio\":%.6f,\"vs_opt\":%.4f",
          JsonQuote(r.policy).c_str(), static_cast<unsigned long long>(r.references),
          static_cast<unsigned long long>(r.distinct), cache, faults ? "faults" : "all",
          static_cast<unsigned long long>(r.misses), r.miss_ratio(), vs_opt);
      if (faults)
        std::printf(",\"minor_faults\":%llu,\"est_seconds\":%.6f",
                    static_cast<unsigned long long>(r.minor_faults), est_s);
      std::printf("}\n");
      continue;
    }
    std::printf("%-10s %12llu %10llu %12llu %11.4f %7.3f", r.policy.c_str(),
                static_cast<unsigned long long>(r.references),
                static_cast<unsigned long long>(r.distinct),
                static_cast<unsigned long long>(r.misses), r.miss_ratio(), vs_opt);
    if (faults)
      std::printf(" %13llu %10.3f\n", static_cast<unsigned long long>(r.minor_faults), est_s);
    else
      std::printf(" %13s %10s\n", "-", "-");
  }
  return 0;
}

}  // namespace uswap::cli
