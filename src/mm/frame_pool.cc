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

FramePool::FramePool(uint64_t budget_pages, size_t page_size, Watermarks wm, MemCgroup* group)
    : budget_(budget_pages),
      page_size_(page_size),
      frame_cost_(page_size + sizeof(PageFrame)),
      wm_(wm),
      group_(group) {}

FramePool::~FramePool() = default;

bool FramePool::TryCharge(uint64_t n) {
  uint64_t cur = charged_.load(std::memory_order_relaxed);
  do {
    if (cur + n > FramesFitting()) return false;
  } while (!charged_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
  if (group_ && !group_->TryCharge(n * frame_cost_)) {
    charged_.fetch_sub(n, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void FramePool::ForceCharge(uint64_t n) {
  charged_.fetch_add(n, std::memory_order_relaxed);
  if (group_) group_->ForceCharge(n * frame_cost_);
}

void FramePool::Uncharge(uint64_t n) {
  uint64_t prev = charged_.fetch_sub(n, std::memory_order_relaxed);
  USWAP_CHECK_MSG(prev >= n, "frame uncharge underflow");
  if (group_) group_->Uncharge(n * frame_cost_);
  uncharged_total_.fetch_add(n, std::memory_order_relaxed);
}

uint32_t FramePool::AllocFrame() {
  const uint32_t id = descriptors_.Alloc();
  *Get(id) = PageFrame{};
  return id;
}

void FramePool::FreeFrame(uint32_t id) {
  PageFrame* f = Get(id);
  USWAP_DCHECK(f->list == 0);
  f->owner = nullptr;
  descriptors_.Free(id);
}

}  // namespace uswap
