// PageFrame: one budgeted frame of RAM holding a resident region page.
// cf. struct page (its lru hook, PG_active, PG_referenced).
//
// Glossary (used throughout src/mm and src/fault):
//   page  - a page of a region (index = byte offset / page size)
//   frame - a budgeted RAM page; a resident page owns exactly one frame
//   slot  - a page-sized block of a swap area (SwapEntry)
//
// The intrusive list hook and the policy flag bits belong to the reclaim
// policy (CacheLib's mmHook_/kMMFlag*): only the policy touches them, under
// its own lock. `owner` and `index` are constant while the frame is in use.
#pragma once

#include <cstdint>

namespace uswap {

class MmRegion;

struct PageFrame {
  MmRegion* owner = nullptr;  // region whose page this frame holds
  uint64_t index = 0;         // page index within the owner
  // --- reclaim policy state (guarded by the policy's lock) ---
  PageFrame* prev = nullptr;
  PageFrame* next = nullptr;
  uint8_t list = 0;          // which policy list holds the frame (0 = none / isolated)
  uint8_t policy_flags = 0;  // reserved for the policy (e.g. referenced)
  uint32_t policy_word = 0;  // reserved for the policy (frequency, last-use clock)
};
// Fits the padding after the two bytes above: one frame per budgeted page, so
// its size is part of the engine's per-page overhead.
static_assert(sizeof(PageFrame) == 40, "PageFrame grew: keep policy state in policy_word");

}  // namespace uswap
