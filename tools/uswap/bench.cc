// uswap bench: one workload through uswap, the kernel's own swap and plain
// RAM, side by side in one run (DESIGN.md §6). The pieces live in
// bench/harness: workload.h (patterns, page contents, verification),
// engine.h (ram, kernel, uswap), report.h (table, JSON).
//
// Order of runs: for each pattern, for each thread count, `--runs` rounds of
// every engine in turn (engines interleave, so slow drift of the machine hits
// them alike); the run with the median throughput of each engine is reported.
//
// Swap files: uswap's area is --swap (created and formatted when missing and
// then removed at exit; used as is when it already is a swap area), by
// default $TMPDIR/uswap-bench-<pid>.swap (TMPDIR default /var/tmp) sized
// twice the region: at least twice what either engine can swap out, so that
// neither is penalised by a full or fragmented area. The kernel engine makes
// its own file of the same size in the same directory, so both swap to the
// same file system.
//
// SIGINT/SIGTERM: the handler only sets a flag; the running engine stops,
// tears down what it set up (swapon, cgroup, child, files) and the command
// exits with 130.
//
// zswap: the kernel engine runs with the kernel's zswap forced off;
// --kernel-zswap turns it into kernel+zswap (zswap on, its pool reported),
// and --equal-memory then gives it the cgroup limit at which limit + pool =
// --ram (the pool is not charged to a v1 cgroup). Both kernel engines can
// also run side by side: --engine uswap,kernel,kernel+zswap. The machine's
// zswap setting is restored after each run (bench/harness/kernel_zswap.h).
//
// Exit code: 0 when every run finished with 0 mismatches (a skipped engine is
// not a failure), 1 when a run failed or any round saw a mismatch, 2 on bad
// usage, 130 when interrupted.
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/harness/engine.h"
#include "bench/harness/plot.h"
#include "bench/harness/report.h"
#include "bench/harness/swap_file.h"
#include "bench/harness/workload.h"
#include "cli_util.h"
#include "commands.h"
#include "mm/policy/reclaim_policy.h"
#include "uswap/version.h"

namespace uswap::cli {
namespace {

using namespace uswap::bench;  // NOLINT: this file is the harness's front end

constexpr const char kCmd[] = "bench";

constexpr const char kUsage[] =
    "usage: uswap bench --region SIZE --ram SIZE [options]\n"
    "\n"
    "Runs one workload through uswap, the kernel's swap (root only) and RAM, and\n"
    "prints their figures side by side.\n"
    "\n"
    "  --engine LIST     uswap,kernel,kernel+zswap,ram or all (= uswap,kernel,ram;\n"
    "                    default all)\n"
    "  --pattern LIST    seq-read, seq-write, rand-read, rand-write, zipf-read, mixed\n"
    "                    (comma list; default rand-read)\n"
    "  --region SIZE     region size (e.g. 2G)\n"
    "  --ram SIZE        RAM budget of uswap and the kernel's cgroup (e.g. 512M)\n"
    "  --kernel-limit SIZE  the kernel's cgroup limit instead of --ram (e.g. uswap's\n"
    "                    measured peak, to give both the same whole-process memory)\n"
    "  --kernel-zswap[=COMPRESSOR]  kernel+zswap: the kernel engine with the kernel's\n"
    "                    zswap on (without this option zswap is off for its runs);\n"
    "                    COMPRESSOR default lzo-rle when the kernel has it, else the\n"
    "                    kernel's. Adds the pool's peak (a v1 cgroup does not charge\n"
    "                    it) and ratio. Needs kernel in --engine; zswap is restored\n"
    "  --equal-memory    with --kernel-zswap: calibrate at --ram, then run at the\n"
    "                    cgroup limit L where L + the pool's peak = --ram\n"
    "  --threads LIST    threads sharing the region (comma list; default 1)\n"
    "  --ops N           accesses in total (default: one pass / region-pages accesses)\n"
    "  --seconds S       stop after S seconds (with --ops: whichever comes first)\n"
    "  --runs N          rounds per engine; the median-throughput run is reported (default 1)\n"
    "  --swap FILE       uswap's swap area (default $TMPDIR/uswap-bench-PID.swap)\n"
    "  --zipf THETA      zipf skew, 0 < THETA < 1 (default 0.99)\n"
    "  --data KIND       random, compressible (~3:1) or zero (default random)\n"
    "  --seed S          content and access seed (default 1)\n"
    "  --handler-threads N  uswap fault handler threads (default 2)\n"
    "  --sigbus          uswap: SIGBUS fault delivery instead of handler threads\n"
    "  --policy NAME     uswap's reclaim policy: lru, fifo, clock, two-list, arc,\n"
    "                    s3fifo, lirs or rdist (default two-list; doc/policies.md)\n"
    "  --inactive-percent N  uswap's inactive (unmapped) share of resident pages,\n"
    "                    1-90 (default 10; Config::inactive_percent)\n"
    "  --compress ALG    uswap's compressed tier: lz4, zstd or off (default: uswap's\n"
    "                    default, lz4 when built with it; doc/tiers.md)\n"
    "  --json            one JSON object per engine run, one per line\n"
    "  --plot FILE       also draw the results (FILE.svg or FILE.png, with gnuplot)\n";

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Options {
  std::vector<std::string> engines{"uswap", "kernel", "ram"};
  std::vector<Pattern> patterns{Pattern::kRandRead};
  std::vector<unsigned> threads{1};
  WorkloadSpec spec;
  uint64_t ram_bytes = 0;
  uint64_t kernel_limit_bytes = 0;  // 0: --ram
  bool kernel_zswap = false;        // --kernel-zswap: kernel becomes kernel+zswap
  std::string zswap_compressor;     // --kernel-zswap=COMPRESSOR
  bool equal_memory = false;
  unsigned runs = 1;
  std::string swap_path;
  unsigned handler_threads = 2;
  bool sigbus = false;
  std::string policy;             // --policy NAME, "" for Config's default
  unsigned inactive_percent = 0;  // --inactive-percent N, 0 for Config's default
  std::string compress;           // --compress ALG, "" for Config's default
  bool json = false;
  std::string plot;  // --plot FILE, "" for none
};

// Parses a positive integer (at most `max`) or returns an error message.
bool ParseCount(const char* text, uint64_t max, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno || end == text || *end || v == 0 || v > max || text[0] == '-') return false;
  *out = v;
  return true;
}

// Returns -1 on success, else the exit code of the usage error.
int ParseOptions(int argc, char** argv, Options* o) {
  enum {
    kEngine = 256,
    kPattern,
    kRegion,
    kRam,
    kThreads,
    kOps,
    kSeconds,
    kRuns,
    kSwap,
    kZipf,
    kData,
    kSeed,
    kHandlerThreads,
    kSigbus,
    kKernelLimit,
    kJson,
    kPlot,
    kPolicy,
    kInactivePercent,
    kCompress,
    kKernelZswap,
    kEqualMemory,
    kHelp
  };
  static const option kLong[] = {
      {"engine", required_argument, nullptr, kEngine},
      {"pattern", required_argument, nullptr, kPattern},
      {"region", required_argument, nullptr, kRegion},
      {"ram", required_argument, nullptr, kRam},
      {"threads", required_argument, nullptr, kThreads},
      {"ops", required_argument, nullptr, kOps},
      {"seconds", required_argument, nullptr, kSeconds},
      {"runs", required_argument, nullptr, kRuns},
      {"swap", required_argument, nullptr, kSwap},
      {"zipf", required_argument, nullptr, kZipf},
      {"data", required_argument, nullptr, kData},
      {"seed", required_argument, nullptr, kSeed},
      {"handler-threads", required_argument, nullptr, kHandlerThreads},
      {"sigbus", no_argument, nullptr, kSigbus},
      {"kernel-limit", required_argument, nullptr, kKernelLimit},
      {"json", no_argument, nullptr, kJson},
      {"plot", required_argument, nullptr, kPlot},
      {"policy", required_argument, nullptr, kPolicy},
      {"inactive-percent", required_argument, nullptr, kInactivePercent},
      {"compress", required_argument, nullptr, kCompress},
      {"kernel-zswap", optional_argument, nullptr, kKernelZswap},
      {"equal-memory", no_argument, nullptr, kEqualMemory},
      {"help", no_argument, nullptr, kHelp},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  optind = 1;
  bool have_region = false;
  int c;
  while ((c = getopt_long(argc, argv, ":h", kLong, nullptr)) != -1) {
    const std::string arg = optarg ? optarg : "";
    uint64_t n = 0;
    switch (c) {
      case kEngine:
        o->engines.clear();
        for (const std::string& e : SplitList(arg)) {
          if (e == "all") {
            for (const char* name : {"uswap", "kernel", "ram"}) o->engines.push_back(name);
          } else if (e == "uswap" || e == "kernel" || e == "kernel+zswap" || e == "ram") {
            o->engines.push_back(e);
          } else {
            return UsageError(
                kCmd, "unknown engine '" + e + "' (uswap, kernel, kernel+zswap, ram or all)");
          }
        }
        if (o->engines.empty()) return UsageError(kCmd, "--engine needs a value");
        break;
      case kPattern:
        o->patterns.clear();
        for (const std::string& p : SplitList(arg)) {
          std::optional<Pattern> pattern = ParsePattern(p);
          if (!pattern) return UsageError(kCmd, "unknown pattern '" + p + "'");
          o->patterns.push_back(*pattern);
        }
        if (o->patterns.empty()) return UsageError(kCmd, "--pattern needs a value");
        break;
      case kRegion:
      case kRam:
      case kKernelLimit: {
        Result<uint64_t> size = ParseSize(arg);
        if (!size.ok()) return UsageError(kCmd, size.status().message());
        if (c == kRegion) {
          o->spec.region_bytes = *size;
          have_region = true;
        } else if (c == kRam) {
          o->ram_bytes = *size;
        } else {
          o->kernel_limit_bytes = *size;
        }
        break;
      }
      case kThreads:
        o->threads.clear();
        for (const std::string& t : SplitList(arg)) {
          if (!ParseCount(t.c_str(), 1024, &n)) return UsageError(kCmd, "bad --threads " + t);
          o->threads.push_back(static_cast<unsigned>(n));
        }
        if (o->threads.empty()) return UsageError(kCmd, "--threads needs a value");
        break;
      case kOps:
        if (!ParseCount(optarg, UINT64_MAX - 1, &o->spec.ops)) {
          return UsageError(kCmd, "bad --ops " + arg);
        }
        break;
      case kSeconds:
      case kZipf: {
        char* end = nullptr;
        double v = std::strtod(optarg, &end);
        if (end == optarg || *end || !(v > 0)) {
          return UsageError(kCmd, "bad --" + std::string(c == kZipf ? "zipf " : "seconds ") + arg);
        }
        (c == kZipf ? o->spec.zipf_theta : o->spec.seconds) = v;
        break;
      }
      case kRuns:
        if (!ParseCount(optarg, 100, &n)) return UsageError(kCmd, "bad --runs " + arg);
        o->runs = static_cast<unsigned>(n);
        break;
      case kSwap:
        o->swap_path = arg;
        break;
      case kData: {
        std::optional<DataKind> d = ParseDataKind(arg);
        if (!d) return UsageError(kCmd, "bad --data " + arg + " (random, compressible or zero)");
        o->spec.data = *d;
        break;
      }
      case kSeed:
        if (!ParseCount(optarg, UINT64_MAX, &o->spec.seed)) {
          return UsageError(kCmd, "bad --seed " + arg);
        }
        break;
      case kHandlerThreads:
        if (!ParseCount(optarg, 64, &n)) return UsageError(kCmd, "bad --handler-threads " + arg);
        o->handler_threads = static_cast<unsigned>(n);
        break;
      case kSigbus:
        o->sigbus = true;
        break;
      case kPolicy:
        // The engine's own table decides (mm/policy/policy_registry.cc).
        if (arg.empty() || !CreateReclaimPolicy(arg, {}))
          return UsageError(kCmd, "unknown --policy '" + arg +
                                      "' (lru, fifo, clock, two-list, arc, s3fifo, lirs or rdist)");
        o->policy = arg;
        break;
      case kInactivePercent:
        if (!ParseCount(optarg, 90, &n)) return UsageError(kCmd, "bad --inactive-percent " + arg);
        o->inactive_percent = static_cast<unsigned>(n);
        break;
      case kCompress:
        if (arg != "lz4" && arg != "zstd" && arg != "off")
          return UsageError(kCmd, "unknown --compress '" + arg + "' (lz4, zstd or off)");
        o->compress = arg;
        break;
      case kKernelZswap:
        if (optarg && arg.empty()) return UsageError(kCmd, "--kernel-zswap= needs a compressor");
        o->kernel_zswap = true;
        o->zswap_compressor = arg;
        break;
      case kEqualMemory:
        o->equal_memory = true;
        break;
      case kJson:
        o->json = true;
        break;
      case kPlot:
        if (Status st = CheckPlotPath(arg); !st.ok()) return UsageError(kCmd, st.message());
        o->plot = arg;
        break;
      case 'h':
      case kHelp:
        std::fputs(kUsage, stdout);
        return 0;
      default:
        return BadOption(kCmd, c, argv);
    }
  }
  if (optind < argc) return UsageError(kCmd, std::string("unexpected argument ") + argv[optind]);
  if (!have_region) return UsageError(kCmd, "--region is required");
  auto has = [&](const char* e) {
    return std::find(o->engines.begin(), o->engines.end(), e) != o->engines.end();
  };
  if (o->kernel_zswap) {
    if (!has("kernel") && !has("kernel+zswap")) {
      return UsageError(kCmd, "--kernel-zswap needs the kernel engine in --engine");
    }
    for (std::string& e : o->engines) {
      if (e == "kernel") e = "kernel+zswap";
    }
    // "--engine kernel,kernel+zswap --kernel-zswap" would run it twice.
    std::vector<std::string> once;
    for (const std::string& e : o->engines) {
      if (std::find(once.begin(), once.end(), e) == once.end()) once.push_back(e);
    }
    o->engines = std::move(once);
  }
  if (o->equal_memory && !has("kernel+zswap")) {
    return UsageError(kCmd, "--equal-memory needs --kernel-zswap (or the kernel+zswap engine)");
  }
  if (o->equal_memory && o->kernel_limit_bytes) {
    return UsageError(kCmd, "--equal-memory chooses the kernel's limit: no --kernel-limit");
  }
  const bool limited = std::any_of(o->engines.begin(), o->engines.end(),
                                   [](const std::string& e) { return e != "ram"; });
  if (limited && o->ram_bytes == 0) return UsageError(kCmd, "--ram is required (uswap, kernel)");
  for (Pattern p : o->patterns) {
    for (unsigned t : o->threads) {
      WorkloadSpec s = o->spec;
      s.pattern = p;
      s.threads = t;
      if (std::string err = ValidateSpec(s); !err.empty()) return UsageError(kCmd, err);
    }
  }
  return -1;
}

void OnSignal(int) { InterruptFlag().store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked call returns EINTR and sees the flag
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string DefaultSwapPath() {
  return TempDir() + "/uswap-bench-" + std::to_string(::getpid()) + ".swap";
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The run with the median throughput among `rounds` (all OK).
RunRecord Median(std::vector<RunRecord> rounds) {
  std::sort(rounds.begin(), rounds.end(), [](const RunRecord& a, const RunRecord& b) {
    return AccessesPerSecond(a.result.workload) < AccessesPerSecond(b.result.workload);
  });
  return rounds[rounds.size() / 2];
}

}  // namespace

int BenchMain(int argc, char** argv) {
  Options o;
  if (int rc = ParseOptions(argc, argv, &o); rc >= 0) return rc;
  InstallSignalHandlers();

  // Twice the region, plus the header page (see the top of this file).
  const uint64_t swap_bytes = (2 * o.spec.region_bytes + 2 * kPageSize) / kPageSize * kPageSize;
  if (o.swap_path.empty()) o.swap_path = DefaultSwapPath();
  std::unique_ptr<SwapFile> uswap_area;
  if (std::find(o.engines.begin(), o.engines.end(), "uswap") != o.engines.end()) {
    Result<std::unique_ptr<SwapFile>> area = SwapFile::CreateOrOpen(o.swap_path, swap_bytes);
    if (!area.ok()) return Fail(kCmd, o.swap_path, area.status().message());
    uswap_area = std::move(*area);
  }
  EngineConfig ec;
  ec.ram_bytes = o.ram_bytes;
  ec.kernel_limit_bytes = o.kernel_limit_bytes;
  ec.uswap_swap_path = o.swap_path;
  ec.swap_dir = DirName(o.swap_path);
  ec.swap_bytes = uswap_area ? (uswap_area->pages() + 1) * kPageSize : swap_bytes;
  ec.handler_threads = o.handler_threads;
  ec.sigbus = o.sigbus;
  ec.reclaim_policy = o.policy;
  ec.inactive_percent = o.inactive_percent;
  ec.compress = o.compress;
  ec.zswap_compressor = o.zswap_compressor;
  ec.equal_memory = o.equal_memory;
  std::vector<std::unique_ptr<Engine>> engines;
  for (const std::string& name : o.engines) {
    Result<std::unique_ptr<Engine>> e = MakeEngine(name, ec);
    if (!e.ok()) return UsageError(kCmd, e.status().message());
    engines.push_back(std::move(*e));
  }

  const bool progress = ::isatty(STDERR_FILENO);
  if (!o.json) std::printf("%s\n", TableHeader().c_str());
  std::vector<RunRecord> all;
  bool failed = false;
  for (Pattern pattern : o.patterns) {
    for (unsigned threads : o.threads) {
      std::vector<std::vector<RunRecord>> rounds(engines.size());
      std::vector<RunRecord> group;                  // what is reported: skips, failures, medians
      std::vector<bool> out(engines.size(), false);  // skipped or failed: no more rounds
      for (unsigned round = 0; round < o.runs && !InterruptFlag().load(); ++round) {
        for (size_t i = 0; i < engines.size() && !InterruptFlag().load(); ++i) {
          if (out[i]) continue;
          RunRecord rec;
          rec.engine = engines[i]->name();
          rec.spec = o.spec;
          rec.spec.pattern = pattern;
          rec.spec.threads = threads;
          rec.ram_bytes = rec.engine == "ram" ? 0 : o.ram_bytes;
          if (progress) rec.spec.progress_label = rec.engine + " " + PatternName(pattern);
          Result<EngineResult> r = engines[i]->Run(rec.spec);
          if (InterruptFlag().load()) break;
          if (r.ok()) {
            rec.result = std::move(*r);
            // Every round counts, not only the median that gets reported.
            if (const WorkloadResult& w = rec.result.workload; w.mismatches) {
              std::fprintf(stderr, "uswap bench: %s %s round %u: %llu mismatches, first: %s\n",
                           rec.engine.c_str(), PatternName(pattern), round + 1,
                           static_cast<unsigned long long>(w.mismatches), w.first_mismatch);
              failed = true;
            }
            rounds[i].push_back(std::move(rec));
          } else {
            rec.status = r.status();
            group.push_back(std::move(rec));
            rounds[i].clear();
            out[i] = true;
          }
        }
      }
      if (InterruptFlag().load()) break;
      for (std::vector<RunRecord>& r : rounds) {
        if (!r.empty()) group.push_back(Median(std::move(r)));
      }
      for (const RunRecord& rec : group) {
        if (!rec.status.ok() && !rec.status.IsNotSupported()) failed = true;
        if (rec.status.ok() && rec.result.workload.mismatches) failed = true;
        if (o.json) {
          std::printf("%s\n", JsonLine(rec, group).c_str());
        } else {
          std::printf("%s\n", TableRow(rec).c_str());
        }
        all.push_back(rec);
      }
      std::fflush(stdout);
    }
  }
  if (!o.json) std::printf("%s", RatioLines(all).c_str());
  if (!o.plot.empty() && !InterruptFlag().load()) {
    const std::string title = "uswap " + std::string(Version()) + ": region " +
                              HumanSize(o.spec.region_bytes) + ", RAM " + HumanSize(o.ram_bytes) +
                              ", " + std::to_string(o.runs) + " round(s), median";
    if (Status st = WritePlot(all, o.plot, title); !st.ok())
      return Fail(kCmd, o.plot, st.message());
  }
  if (InterruptFlag().load()) {
    std::fprintf(stderr, "uswap bench: interrupted; swap areas, cgroups and files removed\n");
    return 130;
  }
  return failed ? 1 : 0;
}

}  // namespace uswap::cli
