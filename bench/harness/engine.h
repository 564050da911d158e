// Engine: where `uswap bench` gets the memory a workload runs on.
//
//   ram     plain anonymous memory, no limit: the upper bound
//   kernel  anonymous memory in a forked child inside a memory cgroup limited
//           to the RAM budget, with a kernel swap file of the same size as
//           uswap's on the same file system (root only)
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
};

struct EngineResult {
  WorkloadResult workload;
  // Peak memory of the engine's whole process over the run, measured the
  // same way for uswap and kernel: the peak of a memory cgroup holding it
  // (MemoryCgroup::PeakBytes; uswap's is observe-only). 0: not measured
  // (not root, no memory controller; ram).
  uint64_t peak_bytes = 0;
  std::string note;  // anything unusual the engine saw (empty when none)
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  // Fills and runs `spec` once on fresh memory. NotSupported: the engine
  // cannot run on this machine (skipped; the message says why).
  virtual Result<EngineResult> Run(const WorkloadSpec& spec) = 0;
};

// `name` is "ram", "kernel" or "uswap"; InvalidArgument otherwise.
Result<std::unique_ptr<Engine>> MakeEngine(std::string_view name, const EngineConfig& config);

std::unique_ptr<Engine> MakeRamEngine(const EngineConfig& config);
std::unique_ptr<Engine> MakeKernelEngine(const EngineConfig& config);
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
