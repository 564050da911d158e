#include "mm/policy/s3fifo.h"

namespace uswap {

void S3FifoPolicy::AddLocked(PageFrame* f, bool /*mapped*/, uint32_t shadow) {
  bool ghost = shadow && ghost_.Erase(ShadowStamp(shadow));
  lists_.PushHead(ghost ? kMYoung : kSYoung, f);
}

bool S3FifoPolicy::AccessLocked(PageFrame* f) {
  f->policy_word = std::min(f->policy_word + 1, kMaxFreq);
  return false;
}

PageFrame* S3FifoPolicy::DeactivateOneLocked() {
  bool small = (FromSmallLocked() && lists_.Tail(kSYoung)) || !lists_.Tail(kMYoung);
  PageFrame* f = lists_.Tail(small ? kSYoung : kMYoung);
  if (f) IsolateLocked(f);
  return f;
}

PageFrame* S3FifoPolicy::VictimLocked() {
  // Each round either evicts or takes a frequency unit away (at most 3 per
  // frame) or moves a page from S to M once: bounded by 4 * resident.
  for (;;) {
    if (FromSmallLocked()) {
      PageFrame* f = OldestLocked(kSOld, kSYoung);
      if (f->policy_word > 0) {
        f->policy_word = 0;
        lists_.Unlink(f);
        lists_.PushHead(kMYoung, f);
        continue;
      }
      IsolateLocked(f);
      return f;
    }
    PageFrame* f = OldestLocked(kMOld, kMYoung);
    if (!f) return nullptr;
    if (f->policy_word > 0) {
      f->policy_word--;
      lists_.Unlink(f);
      lists_.PushHead(kMYoung, f);
      continue;
    }
    IsolateLocked(f);
    return f;
  }
}

void S3FifoPolicy::PutbackLocked(PageFrame* f, bool active) {
  bool small = Origin(f) == kSYoung || Origin(f) == kSOld;
  if (active) {  // in use after all: a reference
    f->policy_word = std::min(f->policy_word + 1, kMaxFreq);
    lists_.PushHead(small ? kSYoung : kMYoung, f);
    return;
  }
  lists_.PushHead(small ? kSOld : kMOld, f);
}

uint32_t S3FifoPolicy::EvictedLocked(PageFrame* f) {
  const uint32_t stamp = ClockLocked();
  if (Origin(f) == kSYoung || Origin(f) == kSOld) {
    ghost_.Push(stamp);
    const size_t cap = std::max<size_t>(1, CapacityLocked() - CapacityLocked() / 10);
    while (ghost_.size() > cap) ghost_.PopOldest();
  }
  return PackShadow(stamp, 0);
}

}  // namespace uswap
