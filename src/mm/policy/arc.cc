#include "mm/policy/arc.h"

namespace uswap {

void ArcPolicy::AddLocked(PageFrame* f, bool /*mapped*/, uint32_t shadow) {
  const size_t c = CapacityLocked();
  const uint32_t stamp = ShadowStamp(shadow);
  const size_t b1 = b1_.size(), b2 = b2_.size();
  if (shadow && b1_.Erase(stamp)) {  // case II: a B1 hit, T1 was too small
    p_ = std::min(c, p_ + std::max<size_t>(1, b2 / b1));
    lists_.PushHead(kT2Young, f);
  } else if (shadow && b2_.Erase(stamp)) {  // case III: a B2 hit
    size_t delta = std::max<size_t>(1, b1 / b2);
    p_ = p_ > delta ? p_ - delta : 0;
    lists_.PushHead(kT2Young, f);
  } else {  // case IV: new to the cache
    lists_.PushHead(kT1Young, f);
  }
  TrimGhostsLocked();
}

void ArcPolicy::TrimGhostsLocked() {
  const size_t c = CapacityLocked();
  while (b1_.size() && T1() + b1_.size() > c) b1_.PopOldest();
  while (b2_.size() && T1() + T2() + b1_.size() + b2_.size() > 2 * c) b2_.PopOldest();
}

bool ArcPolicy::AccessLocked(PageFrame* f) {  // case I: a hit goes to T2's MRU end
  bool was_old = f->list == kT1Old || f->list == kT2Old;
  lists_.Unlink(f);
  lists_.PushHead(kT2Young, f);
  return was_old;
}

PageFrame* ArcPolicy::DeactivateOneLocked() {
  // Unmap at the end REPLACE takes from next, so victims are unmapped pages.
  bool from_t1 = (T1() > p_ && lists_.Tail(kT1Young)) || !lists_.Tail(kT2Young);
  PageFrame* f = lists_.Tail(from_t1 ? kT1Young : kT2Young);
  if (f) IsolateLocked(f);
  return f;
}

PageFrame* ArcPolicy::VictimLocked() {  // REPLACE
  const size_t t1 = T1();
  PageFrame* f = (t1 > 0 && (t1 > p_ || T2() == 0)) ? OldestLocked(kT1Old, kT1Young)
                                                    : OldestLocked(kT2Old, kT2Young);
  if (f) IsolateLocked(f);
  return f;
}

void ArcPolicy::PutbackLocked(PageFrame* f, bool active) {
  if (active) {  // in use after all: a hit
    lists_.PushHead(kT2Young, f);
    return;
  }
  bool t1 = Origin(f) == kT1Young || Origin(f) == kT1Old;
  lists_.PushHead(t1 ? kT1Old : kT2Old, f);
}

uint32_t ArcPolicy::EvictedLocked(PageFrame* f) {
  const uint32_t stamp = ClockLocked();
  bool t1 = Origin(f) == kT1Young || Origin(f) == kT1Old;
  (t1 ? b1_ : b2_).Push(stamp);
  TrimGhostsLocked();
  return PackShadow(stamp, 0);
}

}  // namespace uswap
