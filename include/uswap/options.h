// Config: everything a uswap Space is opened with. Every field has a reason
// and a default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace uswap {

struct SwapAreaConfig {
  std::string path;          // a file or block device formatted as a Linux swap area
  int priority = INT32_MIN;  // INT32_MIN: assign -1, -2, ... in order (as the kernel)
};

enum class FaultDelivery {
  // Handler threads read faults from the userfaultfd and resolve them.
  // Correct for every access, including system calls (read(2) into a region).
  kHandlerThreads,
  // UFFD_FEATURE_SIGBUS: the faulting thread resolves its own fault in a
  // SIGBUS handler (no cross-thread wake-up, ~2x faster minor faults).
  // LIMIT: a system call that touches a non-resident page fails with EFAULT
  // instead of faulting, and only one Space per process may use this mode.
  kSigbus,
};

struct Config {
  // RAM budget: resident pages of all regions stay within it (see space.h
  // for the exceptions, all counted). Must hold at least 64 pages.
  size_t ram_budget_bytes = 256u << 20;
  std::vector<SwapAreaConfig> swap_areas;
  size_t page_size = 4096;  // only 4 KiB is supported today

  // Watermarks in pages; 0 = derive from the budget in the kernel's shape
  // (min ~1/64 of the budget, low = 1.25 min, high = 1.5 min, at least 16/20/24 pages).
  // kswapd wakes below low and reclaims up to high; a fault that finds free
  // frames below min reclaims directly.
  size_t watermark_min_pages = 0;
  size_t watermark_low_pages = 0;
  size_t watermark_high_pages = 0;

  // Swap-in readahead window in pages (virtually adjacent swapped pages read
  // with the faulting one). 1 disables readahead. cf. page_cluster (2^3).
  unsigned readahead_pages = 8;
  // Largest window of a sequential stream in pages (the window doubles per
  // swap-in from readahead_pages up to this, and to at most a quarter of
  // the budget; cf. read_ahead_kb). Must be in [readahead_pages, 1024].
  unsigned stream_readahead_pages = 128;
  // Resident-but-unmapped neighbours mapped with the faulting page.
  unsigned fault_around_pages = 16;
  // Write-back batch: pages reclaimed and written together (contiguous slots).
  unsigned writeback_batch_pages = 64;
  // Share of resident pages kept on the inactive (unmapped) list, in percent.
  // Touching an inactive page costs a minor fault; too small a list makes
  // reclaim evict recently used pages. cf. inactive_is_low(). The default,
  // 10, was measured against 25 (doc/policies.md, "The inactive share").
  static constexpr unsigned kDefaultInactivePercent = 10;
  unsigned inactive_percent = kDefaultInactivePercent;

  FaultDelivery fault_delivery = FaultDelivery::kHandlerThreads;
  unsigned handler_threads = 2;  // kHandlerThreads mode only
  // kHandlerThreads mode: after resolving a fault, one handler thread polls
  // the userfaultfd for up to this many microseconds before it sleeps, the
  // window adapting to the gaps between faults as the kernel's haltpoll
  // governor adapts its own (0 = always sleep). On a virtual machine whose
  // idle vCPUs halt, every sleep-to-wake of a handler costs a hypervisor
  // round trip (~10-40 µs here, doc/engine.md); a polling handler saves it
  // while faults come often, and stops polling when they do not. The poller
  // yields its CPU to any other runnable thread on every turn.
  unsigned handler_poll_us = 200;

  // Block store kind for the swap areas: "file" (pread/pwrite), "uring"
  // (io_uring, many requests in flight), or "" for the default.
  std::string block_store;
  bool direct_io = true;  // O_DIRECT: swap I/O bypasses the page cache, as kernel swap does

  // Reclaim policy by name: "two-list" (the kernel's active/inactive lists),
  // "lru", "fifo", "clock", "arc", "s3fifo", "lirs" or "rdist"; Space::Open
  // refuses any other. doc/policies.md compares them (`uswap sim`).
  std::string reclaim_policy = "two-list";

  // What to do when reclaim cannot free a frame (swap full, all pinned):
  // soft (default): grow past the budget, count and log the overshoot;
  // hard: fail the faulting access with SIGBUS.
  bool hard_limit = false;

  // Most memory mlock'ed at once (Region::Mlock, mlockall under `uswap
  // run`; cf. RLIMIT_MEMLOCK): mlock'ed pages never leave RAM, so what they
  // hold is a part of the budget the other pages cannot use, and an Mlock
  // past it fails with NoSpace. 0 (default) = three quarters of
  // ram_budget_bytes; at most ram_budget_bytes. Region::Pin is not limited.
  size_t mlock_limit_bytes = 0;

  // Records the faults of this Space as a page trace for `uswap sim`
  // (doc/policies.md): "" = off, else a path created 0600 (truncated).
  // One reference per fault uswap resolves (first touch, swap-in, minor
  // fault, write-protect), not every access: accesses to mapped pages
  // never reach uswap. The file says so in a '#' header line ("text") or a
  // PATH.info side file ("u64": raw little-endian page numbers).
  // Page = virtual address >> 12. Costs one buffered append per fault.
  std::string record_faults;
  std::string record_format = "text";  // "text" (PAGE r|w per line) or "u64"

  // Compressed RAM tier (uswap's zswap, doc/tiers.md): pages leaving RAM
  // are compressed into a pool inside the budget, and faults on them are
  // served without disk I/O. "auto" (default: lz4 when the build has
  // liblz4, else off), "lz4", "zstd" or "off".
  std::string compress = "auto";
  int compress_level = 0;  // zstd only: 1..19 (0 = 1)
  // Pages that compress to more than this many bytes go to disk (counted).
  unsigned compress_threshold_bytes = 2990;
  // The pool's share of the budget in percent (1..90), or 0 (default):
  // adaptive, from what pool hits save against what resident frames save
  // (doc/tiers.md). cf. zswap's max_pool_percent.
  unsigned compress_max_pool_percent = 0;

  // A RAM budget shared with other Spaces, in this process or in others
  // (a descriptor from CreateSharedBudget(), space.h; -1 = none). Every
  // frame and uswap's metadata are charged to it as well as to
  // ram_budget_bytes, so the members together stay within it, as the
  // processes of a memory cgroup do: when it runs short each member is asked
  // to reclaim its share, in proportion to what it holds, and a charge it
  // refuses waits for the others to make room. Read by Space::Open only.
  int shared_budget_fd = -1;
  // With a shared budget: also charge this process's share of its
  // anonymous memory outside uswap's regions and metadata (the program's
  // own, the allocator's, libraries'; pages shared copy-on-write with a
  // fork parent count in proportion), measured every 100 ms from /proc, so
  // that the group holds whole processes as a memory cgroup does; frames
  // make room for it. One Space per process should set it (`uswap run`
  // does).
  bool shared_budget_counts_process = false;

  // Per-page checksum (32 bits of XXH3) kept in memory and verified on swap-in.
  bool checksums = true;
  // Encrypt pages (AES-256-GCM, random per-Space key) before they reach swap.
  bool encrypt = false;

  // Publish the counters for `uswap stat` on a UNIX socket readable by
  // this user (and root) only: "" = off unless the environment variable
  // USWAP_STATS_SOCKET is set (to "auto" or a path), "auto" =
  // $XDG_RUNTIME_DIR/uswap/PID.sock (else /run/uswap/ for root, else
  // /tmp/uswap-UID/; the directory is made 0700), or a socket path. The
  // socket is removed when the Space closes. Costs one sleeping thread.
  std::string stats_socket;
};

}  // namespace uswap
