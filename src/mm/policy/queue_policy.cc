#include "mm/policy/queue_policy.h"

namespace uswap {

const char* QueuePolicy::name() const {
  switch (kind_) {
    case Kind::kLru:
      return "lru";
    case Kind::kFifo:
      return "fifo";
    case Kind::kClock:
      return "clock";
  }
  return "?";
}

void QueuePolicy::AddLocked(PageFrame* f, bool mapped, uint32_t /*shadow*/) {
  lists_.PushHead(mapped ? kYoung : kOld, f);
}

bool QueuePolicy::AccessLocked(PageFrame* f) {
  switch (kind_) {
    case Kind::kLru: {
      bool was_old = f->list == kOld;
      lists_.Unlink(f);
      lists_.PushHead(kYoung, f);
      return was_old;
    }
    case Kind::kFifo:
      return false;
    case Kind::kClock:
      f->policy_flags |= kReferenced;
      return false;
  }
  return false;
}

PageFrame* QueuePolicy::DeactivateOneLocked() {
  PageFrame* f = lists_.Tail(kYoung);
  if (f) IsolateLocked(f);
  return f;
}

PageFrame* QueuePolicy::VictimLocked() {
  // CLOCK: each frame loses its bit at most once per sweep, so the hand
  // stops within size + 1 steps.
  for (PageFrame* f; (f = OldestLocked(kOld, kYoung));) {
    if (kind_ == Kind::kClock && (f->policy_flags & kReferenced)) {
      f->policy_flags &= static_cast<uint8_t>(~kReferenced);
      lists_.Unlink(f);
      lists_.PushHead(kYoung, f);
      continue;
    }
    IsolateLocked(f);
    return f;
  }
  return nullptr;
}

void QueuePolicy::PutbackLocked(PageFrame* f, bool active) {
  if (active) f->policy_flags &= static_cast<uint8_t>(~kReferenced);
  lists_.PushHead(active ? kYoung : kOld, f);
}

}  // namespace uswap
