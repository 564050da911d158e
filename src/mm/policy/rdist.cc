#include "mm/policy/rdist.h"

#include <limits>

namespace uswap {

uint32_t RdistPolicy::MTailAgeLocked() const {
  const PageFrame* t = OldestLocked(kMOld, kMYoung);
  return t ? SinceLocked(t->policy_word) : kNoReuse;
}

uint32_t RdistPolicy::SinceLocked(uint32_t stamp) const { return (tick_ - stamp) & kStampMask; }

uint32_t RdistPolicy::TickLocked() {
  tick_++;
  return tick_ & kStampMask;
}

void RdistPolicy::PlaceLocked(PageFrame* f, uint32_t r, bool from_old) {
  if (M() >= MTargetLocked() && r > MTailAgeLocked()) {
    lists_.PushHead(from_old ? kSOld : kSYoung, f);
    return;
  }
  f->policy_flags &= static_cast<uint8_t>(~kDemoted);
  lists_.PushHead(from_old ? kMOld : kMYoung, f);
  while (M() > MTargetLocked()) {  // demote M's coldest to S's newest end (LIRS)
    PageFrame* t = OldestLocked(kMOld, kMYoung);
    lists_.Unlink(t);
    t->policy_flags |= kDemoted;
    lists_.PushHead(kSYoung, t);  // if unmapped already, unmapping it again is a no-op
  }
}

void RdistPolicy::DemotionMissedLocked() {
  window_ = std::min(window_ + std::max<size_t>(1, window_ / 8), CapacityLocked() / 8);
}

void RdistPolicy::AddLocked(PageFrame* f, bool mapped, uint32_t shadow) {
  uint32_t r = kNoReuse;  // first touch
  if (shadow) {
    r = SinceLocked(ShadowStamp(shadow));
    // A refault that earns M: from S alone, S was too small to see its
    // reuse; after a spell in M, M was (cf. ARC's ghost hits moving p).
    if (adaptive_ && (M() < MTargetLocked() || r <= MTailAgeLocked())) {
      const size_t step = std::max<size_t>(1, (CapacityLocked() - MTargetLocked()) / kStepDivisor);
      if (ShadowBits(shadow) & 3)
        s_extra_ -= std::min(s_extra_, step);
      else
        s_extra_ = std::min(s_extra_ + step, CapacityLocked() / 2);
    }
    if ((ShadowBits(shadow) & 2) && r <= MTailAgeLocked()) DemotionMissedLocked();
  }
  f->policy_word = TickLocked();
  PlaceLocked(f, r, !mapped);
}

bool RdistPolicy::AccessLocked(PageFrame* f) {
  const bool was_old = f->list == kSOld || f->list == kMOld;
  const bool in_m = f->list == kMYoung || f->list == kMOld;
  const uint32_t r = SinceLocked(f->policy_word);
  lists_.Unlink(f);
  f->policy_word = TickLocked();
  if (in_m) {
    lists_.PushHead(kMYoung, f);
    return was_old;
  }
  if (f->policy_flags & kDemoted) DemotionMissedLocked();
  PlaceLocked(f, r, false);
  return was_old;
}

PageFrame* RdistPolicy::DeactivateOneLocked() {
  // S's older half first (the victims must be unmapped), then M's cold end.
  const bool s_first = lists_.size(kSOld) <= S() / 4 || !lists_.Tail(kMYoung);
  PageFrame* f = lists_.Tail(s_first ? kSYoung : kMYoung);
  if (!f) f = lists_.Tail(s_first ? kMYoung : kSYoung);
  if (f) IsolateLocked(f);
  return f;
}

PageFrame* RdistPolicy::VictimLocked() {
  PageFrame* f = OldestLocked(kSOld, kSYoung);
  if (!f) f = OldestLocked(kMOld, kMYoung);
  if (f) IsolateLocked(f);
  return f;
}

void RdistPolicy::PutbackLocked(PageFrame* f, bool active) {
  const uint8_t origin = Origin(f);
  const bool in_m = origin == kMYoung || origin == kMOld;
  if (active) {  // in use after all: a reference now
    f->policy_word = TickLocked();
    lists_.PushHead(in_m ? kMYoung : kSYoung, f);
    return;
  }
  lists_.PushHead(in_m ? kMOld : kSOld, f);
}

uint32_t RdistPolicy::EvictedLocked(PageFrame* f) {
  const uint8_t origin = Origin(f);
  unsigned bits = (origin == kMYoung || origin == kMOld) ? 1 : 0;
  if (f->policy_flags & kDemoted) bits |= 2;
  if (window_ == 0) window_ = std::max<size_t>(1, CapacityLocked() / 64);  // cache now full
  if (++decay_ >= std::max<size_t>(1, CapacityLocked() / 4)) {
    decay_ = 0;
    window_ = std::max(window_ - window_ / 8, std::max<size_t>(1, CapacityLocked() / 64));
  }
  return PackShadow(f->policy_word, bits);
}

size_t RdistPolicy::DeactivateTargetLocked() const {
  const size_t want = S() / 4 + window_;
  const size_t have = InactiveLocked();
  return want > have ? want - have : 0;
}

}  // namespace uswap
