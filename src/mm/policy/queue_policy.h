// QueuePolicy: the textbook single-queue policies, "lru", "fifo" and
// "clock", over the engine's mapped/unmapped pages.
//
// The queue is kept as two lists: kOld (its older end, unmapped: the
// engine's inactive pages) and kYoung (the newer end, mapped). Deactivate
// moves the boundary (young tail -> old head), which keeps the queue order,
// so with every reference visible (`uswap sim --observe all`) each is the
// exact textbook policy:
//   lru   - a reference moves the page to the young head; evict the oldest.
//           cf. the kernel's lists before 2.4, CacheLib MMLru.
//   fifo  - references change nothing; evict the oldest inserted.
//   clock - a reference sets the frame's referenced bit; at eviction an
//           oldest frame with the bit set loses it and goes to the young
//           head (second chance). cf. Corbató's CLOCK, the kernel's
//           PG_referenced; policy bit 0 is the referenced bit.
// Live, references to mapped pages are not seen; a mapped page the engine
// finds among the victims is put back active (young head).
#pragma once

#include "mm/policy/list_policy.h"

namespace uswap {

class QueuePolicy final : public ListPolicy {
 public:
  enum class Kind { kLru, kFifo, kClock };
  QueuePolicy(Kind kind, const ReclaimPolicyOptions& options)
      : ListPolicy(options, 1u << kOld), kind_(kind) {}
  const char* name() const override;

 private:
  enum : uint8_t { kYoung = 1, kOld = 2 };
  static constexpr uint8_t kReferenced = kPolicyBit0;
  USWAP_LIST_POLICY_HOOKS;

  const Kind kind_;
};

}  // namespace uswap
