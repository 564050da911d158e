// Engine: where `uswap bench` gets the memory a workload runs on.
//
//   ram     plain anonymous memory, no limit: the upper bound
//   kernel  anonymous memory in a forked child inside a memory cgroup limited
//           to the RAM budget, with a kernel swap file of the same size as
//           uswap's on the same file system (root only); the kernel's zswap
//           is off for the run
//   kernel+zswap  the same with the kernel's zswap on (kernel_zswap.h): the
//           kernel's compressed tier, to compare with uswap's
//   uswap   a Region of a uswap::Space with the RAM budget and the swap file
//
// Every engine runs the same RunWorkload() (workload.h) and reports the same
// counters, so their figures compare side by side.
//
// Interruption: the CLI's SIGINT/SIGTERM handler sets InterruptFlag(). An
// engine then stops its workload, undoes everything it set up (swapon,
// cgroup, files, child process) and returns a Status saying it was
// interrupted.
//
// Thread-safety: one engine runs one workload at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "uswap/status.h"
#include "workload.h"

namespace uswap::bench {

struct EngineConfig {
  uint64_t ram_bytes = 0;           // RAM limit of kernel and uswap (ram ignores it)
  uint64_t kernel_limit_bytes = 0;  // the kernel's cgroup limit when not ram_bytes (0)
  std::string uswap_swap_path;      // uswap's swap area (an existing swap area file)
  std::string swap_dir;             // directory of the kernel engine's swap file
  uint64_t swap_bytes = 0;          // size of the kernel engine's swap file
  unsigned handler_threads = 2;     // uswap: fault handler threads
  bool sigbus = false;              // uswap: SIGBUS fault delivery instead of threads
  std::string reclaim_policy;       // uswap: Config::reclaim_policy ("" = its default)
  unsigned inactive_percent = 0;    // uswap: Config::inactive_percent (0 = its default)
  std::string compress;             // uswap: Config::compress ("" = its default)
  std::string zswap_compressor;     // kernel+zswap: "" = KernelZswap::On's choice
  // kernel+zswap: give the cgroup the limit L at which L + the zswap pool's
  // peak = ram_bytes (the pool is not charged to a v1 cgroup), found by a
  // calibration run at ram_bytes (kernel_engine.cc).
  bool equal_memory = false;
};

// The kernel's zswap over a kernel+zswap run.
struct ZswapFigures {
  std::string compressor;     // "" when zswap was off (every other engine)
  bool pool_charged = false;  // the cgroup's limit covers the pool (v2; v1 does not)
  // The peak of /proc/meminfo `Zswap:` over the run (less its value at the
  // start): the pool's memory. System-wide: other processes' swap counts too.
  uint64_t pool_peak_bytes = 0;
  uint64_t stored_bytes = 0;   // `Zswapped:` at that peak: the pages it held, uncompressed
  uint64_t swapped_bytes = 0;  // the child's swapped-out bytes at that peak (pool or disk)
  uint64_t usage_bytes = 0;    // the child cgroup's charged memory at that peak
  // Compression ratio at the peak (stored / pool), 0 when nothing was stored.
  double ratio() const {
    return pool_peak_bytes ? static_cast<double>(stored_bytes) / pool_peak_bytes : 0;
  }
};

// How a kernel+zswap --equal-memory run chose its limit.
struct EqualMemory {
  bool asked = false;
  // false: no limit > 0 gives limit + pool <= the budget (the pool alone
  // outgrows it), or nothing to solve; the run is at the budget itself.
  bool solved = false;
  uint64_t budget_bytes = 0;            // uswap's budget (--ram)
  uint64_t limit_bytes = 0;             // the solved limit L (solved only)
  double pool_per_swapped = 0;          // calibration: pool bytes per swapped-out byte
  uint64_t calibration_pool_bytes = 0;  // the calibration run's pool peak (at the budget)
  std::string why;                      // when not solved, or solved trivially
};

// Below this a cgroup limit leaves the child no room to work (its stack,
// binary and page tables): such an L counts as no solution.
inline constexpr uint64_t kMinEqualMemoryLimit = 1 << 20;

// The limit L at which L + the pool = `budget`, from a calibration run at
// `budget` whose pool peak held `cal.pool_peak_bytes` for `cal.swapped_bytes`
// swapped out while the cgroup held `cal.usage_bytes`. The run touches W =
// usage + swapped; at a limit L about W - L is swapped out, so the pool is
// r (W - L) with r = pool / swapped, and L + r (W - L) = budget gives
// L = (budget - r W) / (1 - r), at most `budget` (rounded down to pages).
// Not solved when r >= 1 or L < kMinEqualMemoryLimit.
EqualMemory SolveEqualMemory(uint64_t budget, const ZswapFigures& cal);

struct EngineResult {
  WorkloadResult workload;
  // Peak memory of the engine's whole process over the run, measured the
  // same way for uswap and kernel: the peak of a memory cgroup holding it
  // (MemoryCgroup::PeakBytes; uswap's is observe-only). 0: not measured
  // (not root, no memory controller; ram).
  uint64_t peak_bytes = 0;
  uint64_t limit_bytes = 0;  // kernel engines: the cgroup's limit (0: none)
  ZswapFigures zswap;        // kernel+zswap only
  EqualMemory equal_memory;  // kernel+zswap --equal-memory only
  std::string note;          // anything unusual the engine saw (empty when none)
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Fills and runs `spec` once on fresh memory. NotSupported: the engine
  // cannot run on this machine (skipped; the message says why).
  virtual Result<EngineResult> Run(const WorkloadSpec& spec) = 0;
};

// `name` is "ram", "kernel", "kernel+zswap" or "uswap"; InvalidArgument otherwise.
Result<std::unique_ptr<Engine>> MakeEngine(std::string_view name, const EngineConfig& config);

std::unique_ptr<Engine> MakeRamEngine(const EngineConfig& config);
// The kernel engine; with `zswap`, kernel+zswap.
std::unique_ptr<Engine> MakeKernelEngine(const EngineConfig& config, bool zswap);
std::unique_ptr<Engine> MakeUswapEngine(const EngineConfig& config);

// Set (async-signal-safely) by the CLI's signal handler; polled by engines.
std::atomic<bool>& InterruptFlag();
Status Interrupted();  // the Status an interrupted engine returns

// RAII anonymous private mapping (MAP_NORESERVE; transparent huge pages off,
// so every engine pages 4 KiB at a time).
class AnonMapping {
 public:
  static Result<AnonMapping> Create(size_t bytes);
  AnonMapping(AnonMapping&& o) noexcept;
  AnonMapping& operator=(AnonMapping&&) = delete;
  ~AnonMapping();
  uint8_t* data() const { return data_; }

 private:
  AnonMapping(uint8_t* data, size_t bytes) : data_(data), bytes_(bytes) {}
  uint8_t* data_;
  size_t bytes_;
};

// Counters of the calling process: getrusage() major faults and the pswpin /
// pswpout lines of `swap_stat_file` (default /proc/vmstat: system-wide,
// fine on a quiet machine).
Counters ProcessCounters(const std::string& swap_stat_file = "/proc/vmstat");

}  // namespace uswap::bench
