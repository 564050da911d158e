// FramePool: the RAM budget. Counts frames in use against the budget and
// hands out PageFrame descriptors.
// cf. the zone's free page count and watermarks (min/low/high).
//
// A frame is charged BEFORE the page materialises in the memfd and
// uncharged only AFTER its memory was released (hole punched), so the
// kernel-measured resident memory never exceeds the charged count.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "mm/page_frame.h"
#include "uswap/status.h"

namespace uswap {

struct Watermarks {
  uint64_t min = 0, low = 0, high = 0;  // free frames
};

// The watermarks of a `budget`-page pool in the kernel's shape: min ~
// budget/64 (at least 16), low = 5/4 min, high = 3/2 min (cf.
// __setup_per_zone_wmarks()); a non-zero `asked` field is taken as given.
// InvalidArgument unless min < low < high <= budget/2.
Result<Watermarks> ComputeWatermarks(uint64_t budget, const Watermarks& asked);

class FramePool {
 public:
  FramePool(uint64_t budget_pages, Watermarks wm);
  ~FramePool();

  // Takes n frames if they fit in the budget; false otherwise.
  bool TryCharge(uint64_t n);
  // Takes n frames regardless of the budget (soft-limit overshoot).
  void ForceCharge(uint64_t n);
  void Uncharge(uint64_t n);
  // Frames uncharged since the pool was made, by any thread: a reclaimer
  // that freed nothing itself compares it before and after its pass to
  // learn whether another thread (kswapd, a concurrent charge, Discard)
  // made room meanwhile.
  uint64_t uncharged_total() const { return uncharged_total_.load(std::memory_order_relaxed); }

  uint64_t budget() const { return budget_; }
  uint64_t charged() const { return charged_.load(std::memory_order_relaxed); }
  uint64_t free_frames() const {
    uint64_t c = charged();
    return c >= budget_ ? 0 : budget_ - c;
  }
  const Watermarks& watermarks() const { return wm_; }

  // Descriptor allocation (independent of charging).
  PageFrame* AllocFrame() EXCLUDES(mu_);
  void FreeFrame(PageFrame* f) EXCLUDES(mu_);

 private:
  const uint64_t budget_;
  const Watermarks wm_;
  std::atomic<uint64_t> charged_{0};
  std::atomic<uint64_t> uncharged_total_{0};
  Mutex mu_;
  std::vector<std::unique_ptr<PageFrame[]>> chunks_ GUARDED_BY(mu_);
  std::vector<PageFrame*> free_ GUARDED_BY(mu_);
};

}  // namespace uswap
