// Stats: vmstat-style counters of a Space (cf. /proc/vmstat), a snapshot
// (Space::stats()), and the difference of two snapshots (Since).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace uswap {

struct AreaStats {
  std::string path;
  int priority = 0;
  uint64_t pages = 0;        // usable slots
  uint64_t inuse_pages = 0;  // slots holding a page
  uint64_t bad_pages = 0;
};

struct Stats {
  uint64_t pgfault = 0;             // faults handled (all kinds)
  uint64_t pgmajfault = 0;          // faults that waited for swap-in I/O
  uint64_t pgminorfault = 0;        // re-touch of a resident, unmapped page
  uint64_t zero_page_faults = 0;    // first touch (or all-zero page) filled with zeros
  uint64_t wp_faults = 0;           // first write to a clean page that still owns a slot
  uint64_t pswpin = 0;              // pages read from swap on disk (from the pool: zswap_loaded)
  uint64_t pswpout = 0;             // pages reclaim wrote to swap (the compressed tier's: zswap_*)
  uint64_t pgscan = 0;              // inactive pages examined by reclaim
  uint64_t pgsteal = 0;             // frames freed by reclaim
  uint64_t pgactivate = 0;          // inactive -> active
  uint64_t pgdeactivate = 0;        // active -> inactive (unmapped)
  uint64_t pgrotated = 0;           // referenced inactive pages given another round
  uint64_t clean_drops = 0;         // frames freed without I/O (clean, slot still valid)
  uint64_t zero_drops = 0;          // all-zero pages freed without a slot
  uint64_t same_filled_drops = 0;   // pages of one repeated word kept as the word: no slot
  uint64_t same_filled_faults = 0;  // faults that refilled such a page from its word
  uint64_t kswapd_wakeups = 0;
  uint64_t direct_reclaims = 0;
  uint64_t swap_cache_hits = 0;    // swap-in found the page already in the swap cache
  uint64_t readahead_pages = 0;    // pages read ahead of a fault
  uint64_t readahead_hits = 0;     // read-ahead pages later touched
  uint64_t write_errors = 0;       // swap writes that failed (slot marked bad, page kept)
  uint64_t read_errors = 0;        // swap-ins that failed for good (SIGBUS)
  uint64_t checksum_errors = 0;    // swap-ins whose checksum did not match
  uint64_t hard_limit_faults = 0;  // accesses failed with SIGBUS: no frame under the hard limit
  uint64_t memfd_errors = 0;       // memfd fills that failed (ENOMEM...): nothing lost, retried
  uint64_t budget_overshoot_pages = 0;  // frames allocated past the budget (soft limit)
  // A shared budget (Config::shared_budget_fd; 0 without one):
  uint64_t group_reclaim_requests = 0;  // kswapd passes that reclaimed this Space's share
  uint64_t group_waits = 0;             // charges that waited for other members to make room
  // Faults in a lock-on-fault range (mlockall) past the mlock limit: the page stayed unlocked.
  uint64_t mlock_limit_refusals = 0;
  // The compressed tier (Config::compress; all 0 when off).
  uint64_t zswap_stored = 0;            // pages compressed into the pool
  uint64_t zswap_loaded = 0;            // faults served from the pool (no disk I/O)
  uint64_t zswap_written_back = 0;      // objects written back to their slots (not in pswpout)
  uint64_t zswap_rejected_poor = 0;     // pages that compressed worse than the threshold
  uint64_t zswap_rejected_full = 0;     // pages sent to disk because the pool was full
  uint64_t zswap_writeback_errors = 0;  // write-backs that failed (the object stays)
  uint64_t zswap_corrupt = 0;           // objects that did not decompress (EBADMSG)
  uint64_t zswap_copied_in = 0;         // objects a fork copy brought as they were (uswap run)
  uint64_t resident_pages = 0;          // frames in use now
  uint64_t free_frames = 0;             // budget - resident (0 when over)
  uint64_t budget_pages = 0;
  uint64_t frame_limit = 0;       // frames the budget holds now: budget_pages less uswap's metadata
  uint64_t swap_cache_pages = 0;  // entries in the swap cache now
  uint64_t mlocked_pages = 0;     // pages mlock'ed now (cf. Mlocked in /proc/meminfo)
  uint64_t metadata_bytes = 0;    // page tables, frame descriptors, tier tables (charged)
  uint64_t zswap_objects = 0;     // compressed pages in the pool now
  uint64_t zswap_pool_pages = 0;  // pages the pool holds now (charged to the budget)
  uint64_t zswap_payload_bytes = 0;  // compressed bytes in it
  uint64_t zswap_limit_pages = 0;    // the pool's share of the budget now (adaptive or fixed)
  // The shared budget's, for the whole group (all 0 without one).
  uint64_t group_limit_bytes = 0;
  uint64_t group_usage_bytes = 0;  // charged by every member now (frames, metadata)
  uint64_t group_peak_bytes = 0;   // the highest usage so far (cf. memory.max_usage_in_bytes)
  uint64_t group_members = 0;      // Spaces in the group now
  std::vector<AreaStats> areas;

  // What happened between two snapshots of one Space (`earlier` taken
  // first), as `vmstat 1` shows it: each counter (pgfault ...
  // budget_overshoot_pages) is this snapshot's value less the earlier one;
  // the gauges (resident_pages, free_frames, budget_pages,
  // swap_cache_pages, metadata_bytes) and `areas` are this snapshot's. A
  // counter that is lower than in `earlier` (snapshots of different
  // Spaces) gives 0. Never fails; Stats is a plain value (no locking).
  Stats Since(const Stats& earlier) const;

  // "name value" lines, vmstat style.
  std::string ToText() const;
  std::string ToJson() const;
  // Prometheus text exposition format: counters as uswap_NAME_total,
  // gauges as uswap_NAME, areas labelled by path.
  std::string ToPrometheus() const;
};

}  // namespace uswap
