#include "mm/frame_pool.h"

#include <algorithm>
#include <string>

#include "base/check.h"

namespace uswap {

Result<Watermarks> ComputeWatermarks(uint64_t budget, const Watermarks& asked) {
  Watermarks wm;
  wm.min = asked.min ? asked.min : std::max<uint64_t>(16, budget / 64);
  wm.low = asked.low ? asked.low : wm.min * 5 / 4;
  wm.high = asked.high ? asked.high : wm.min * 3 / 2;
  if (!(wm.min < wm.low && wm.low < wm.high && wm.high <= budget / 2))
    return Status::InvalidArgument("watermarks must satisfy min < low < high <= budget/2 (got " +
                                   std::to_string(wm.min) + "/" + std::to_string(wm.low) + "/" +
                                   std::to_string(wm.high) + " of " + std::to_string(budget) +
                                   " pages)");
  return wm;
}

namespace {
constexpr size_t kChunkFrames = 4096;
}

FramePool::FramePool(uint64_t budget_pages, Watermarks wm) : budget_(budget_pages), wm_(wm) {}
FramePool::~FramePool() = default;

bool FramePool::TryCharge(uint64_t n) {
  uint64_t cur = charged_.load(std::memory_order_relaxed);
  do {
    if (cur + n > budget_) return false;
  } while (!charged_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  return true;
}

void FramePool::ForceCharge(uint64_t n) { charged_.fetch_add(n, std::memory_order_relaxed); }

void FramePool::Uncharge(uint64_t n) {
  uint64_t prev = charged_.fetch_sub(n, std::memory_order_relaxed);
  USWAP_CHECK_MSG(prev >= n, "frame uncharge underflow");
  uncharged_total_.fetch_add(n, std::memory_order_relaxed);
}

PageFrame* FramePool::AllocFrame() {
  MutexLock l(&mu_);
  if (free_.empty()) {
    chunks_.push_back(std::make_unique<PageFrame[]>(kChunkFrames));
    PageFrame* c = chunks_.back().get();
    free_.reserve(free_.size() + kChunkFrames);
    for (size_t i = kChunkFrames; i-- > 0;) free_.push_back(&c[i]);
  }
  PageFrame* f = free_.back();
  free_.pop_back();
  *f = PageFrame{};
  return f;
}

void FramePool::FreeFrame(PageFrame* f) {
  USWAP_DCHECK(f->list == 0);
  f->owner = nullptr;
  MutexLock l(&mu_);
  free_.push_back(f);
}

}  // namespace uswap
