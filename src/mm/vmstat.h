// VmStat: the engine's event counters (cf. enum vm_event_item and
// /proc/vmstat). Relaxed atomics: counters are statistics, never used for
// synchronisation. Snapshot into the public uswap::Stats by the api layer.
#pragma once

#include <atomic>
#include <cstdint>

namespace uswap {

#define USWAP_VMSTAT_ITEMS(X) \
  X(pgfault)                  \
  X(pgmajfault)               \
  X(pgminorfault)             \
  X(zero_page_faults)         \
  X(wp_faults)                \
  X(pswpin)                   \
  X(pswpout)                  \
  X(pgscan)                   \
  X(pgsteal)                  \
  X(pgactivate)               \
  X(pgdeactivate)             \
  X(pgrotated)                \
  X(clean_drops)              \
  X(zero_drops)               \
  X(same_filled_drops)        \
  X(same_filled_faults)       \
  X(kswapd_wakeups)           \
  X(direct_reclaims)          \
  X(swap_cache_hits)          \
  X(readahead_pages)          \
  X(readahead_hits)           \
  X(write_errors)             \
  X(read_errors)              \
  X(checksum_errors)          \
  X(hard_limit_faults)        \
  X(memfd_errors)             \
  X(budget_overshoot_pages)   \
  X(group_reclaim_requests)   \
  X(group_waits)              \
  X(mlock_limit_refusals)

struct VmStat {
#define USWAP_VMSTAT_FIELD(name) std::atomic<uint64_t> name{0};
  USWAP_VMSTAT_ITEMS(USWAP_VMSTAT_FIELD)
#undef USWAP_VMSTAT_FIELD
};

inline void Count(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace uswap
