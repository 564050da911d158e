// KernelZswap: the kernel's zswap switched on or off for the kernel engine's
// run, and its pool read from /proc/meminfo.
//
// zswap is one system-wide setting (the zswap module's parameters,
// /sys/module/zswap/parameters/{enabled,compressor,max_pool_percent,
// accept_threshold_percent,shrinker_enabled}). A KernelZswap saves every one
// of them, sets what its run needs - enabled=Y and the compressor, or
// enabled=N - and its destructor writes back each one the run changed
// (enabled first, so no page is stored with a half-restored setting). The
// kernel engine holds it for the whole run, so the machine's setting comes
// back on every exit path: success, error, SIGINT/SIGTERM (not SIGKILL).
// Two benches that switch zswap at the same time restore each other's
// values: do not run them concurrently.
//
// The pool: /proc/meminfo's `Zswap:` is the memory the compressed pool holds
// (kB) and `Zswapped:` the pages stored in it (kB, uncompressed), both
// system-wide. A cgroup v1 memory controller does not charge the pool to the
// cgroup whose pages it holds; cgroup v2 does (memory.zswap.current).
//
// Thread-safety: none needed (one thread creates, uses and destroys it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uswap/status.h"

namespace uswap::bench {

// Where the zswap setting and the kernel's compressors are read; tests point
// them at files of their own.
struct ZswapPaths {
  std::string params = "/sys/module/zswap/parameters";
  std::string crypto = "/proc/crypto";
};

// The compressor On() picks when none is asked for: lzo-rle (lzo's format
// with a run-length pass: as small, faster on zero runs) when the kernel
// has it, else the kernel's current one.
inline constexpr const char kPreferredZswapCompressor[] = "lzo-rle";

class KernelZswap {
 public:
  // zswap on for the object's life: enabled=Y with `compressor` ("" = the
  // preferred one if /proc/crypto lists it, else the kernel's current one).
  // NotSupported when the kernel has no zswap (no `paths.params` directory);
  // the error of the failing write otherwise (what was changed is restored).
  // REQUIRES: root.
  static Result<std::unique_ptr<KernelZswap>> On(const std::string& compressor,
                                                 const ZswapPaths& paths = {});
  // zswap off (enabled=N) for the object's life. NotSupported as On().
  static Result<std::unique_ptr<KernelZswap>> Off(const ZswapPaths& paths = {});
  // Writes back every saved parameter whose value the run changed.
  ~KernelZswap();
  KernelZswap(const KernelZswap&) = delete;
  KernelZswap& operator=(const KernelZswap&) = delete;

  bool enabled() const { return enabled_; }
  // The compressor zswap uses now (read back after the switch: the kernel
  // falls back to its default when it cannot create a pool with the one asked).
  const std::string& compressor() const { return compressor_; }

  // True when this kernel has zswap (its parameters directory exists).
  static bool Available(const ZswapPaths& paths = {});

 private:
  struct Saved {
    std::string name, value;
  };
  explicit KernelZswap(ZswapPaths paths) : paths_(std::move(paths)) {}
  Status Save();
  // Writes `value` to parameter `name` unless it already holds it.
  Status Set(const std::string& name, const std::string& value);

  ZswapPaths paths_;
  std::vector<Saved> saved_;  // in the order they are restored
  bool enabled_ = false;
  std::string compressor_;
};

// The kernel's zswap pool at one moment (/proc/meminfo), with the swap in use.
struct ZswapSample {
  uint64_t pool_bytes = 0;       // Zswap: the pool's memory
  uint64_t stored_bytes = 0;     // Zswapped: the pages it holds, uncompressed
  uint64_t swap_used_bytes = 0;  // SwapTotal - SwapFree (zswap's pages hold slots too)
};
// nullopt when `meminfo` cannot be read or has no Zswap: line.
std::optional<ZswapSample> ReadZswapSample(const std::string& meminfo = "/proc/meminfo");

}  // namespace uswap::bench
