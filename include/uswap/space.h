// Space and Region: the public face of the paging engine.
//
// A Space owns a RAM budget, swap areas and the threads that serve page
// faults (kHandlerThreads mode) and reclaim (kswapd). Space::Map() returns
// a Region: memory that behaves like zero-initialised anonymous memory of
// any size; its cold pages go to swap and come back on the next touch.
//
//   uswap::Config cfg;
//   cfg.ram_budget_bytes = 64 << 20;
//   cfg.swap_areas.push_back({"/var/tmp/app.swap"});
//   auto space = uswap::Space::Open(cfg);
//   if (!space.ok()) { report(space.status()); return; }
//   auto region = (*space)->Map(1 << 30);
//   char* p = static_cast<char*>((*region)->data());   // use as memory
//
// Budget slack: resident pages may exceed the budget by at most
// kBudgetSlackPages (frames taken by in-flight faults while reclaim runs).
//
// Thread-safety: Space and Region methods may be called from any thread.
// Region memory may be read and written by any thread concurrently.
// A Region must be destroyed before its Space (destroying a Space with live
// Regions aborts with a message saying so). Regions are not inherited by
// fork() children (MADV_DONTFORK): a child has no fault handler for them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "uswap/options.h"
#include "uswap/stats.h"
#include "uswap/status.h"

namespace uswap {

class Region;
class SpaceImpl;

inline constexpr size_t kBudgetSlackPages = 64;

class Space {
 public:
  // Probes userfaultfd features, opens the swap areas and starts the
  // threads. Fails (never crashes) when userfaultfd is unavailable or lacks
  // a feature, when an area is invalid or held, or when the budget is too
  // small; the message names the problem.
  static Result<std::unique_ptr<Space>> Open(const Config& config);
  ~Space();  // stops threads, closes fds and mappings, releases area locks
  Space(const Space&) = delete;
  Space& operator=(const Space&) = delete;

  // A new region of `bytes` (rounded up to pages) of zeroed memory.
  Result<std::unique_ptr<Region>> Map(size_t bytes);

  // Adds a swap area at run time.
  Status Swapon(const std::string& path, int priority = INT32_MIN);
  // Removes an area: every page in it is read back (or moved to another area
  // when the budget is short); nothing is lost. Fails with NoSpace, leaving
  // the area on, when the pages fit nowhere.
  Status Swapoff(const std::string& path);

  Stats stats() const;
  const Config& config() const;

  SpaceImpl* impl() { return impl_.get(); }  // for tests and tools in this tree

 private:
  explicit Space(std::unique_ptr<SpaceImpl> impl);
  std::unique_ptr<SpaceImpl> impl_;
};

class RegionImpl;

class Region {
 public:
  ~Region();  // returns every frame and swap slot of the region
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  void* data() const;
  size_t size() const;

  // Pinned pages are faulted in and never reclaimed (the seeds'
  // unreclaimable pages). Ranges are rounded out to pages. Pins nest.
  Status Pin(size_t offset, size_t len);
  Status Unpin(size_t offset, size_t len);

  RegionImpl* impl() { return impl_.get(); }

 private:
  friend class SpaceImpl;
  explicit Region(std::unique_ptr<RegionImpl> impl);
  std::unique_ptr<RegionImpl> impl_;
};

}  // namespace uswap
