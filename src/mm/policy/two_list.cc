#include "mm/policy/two_list.h"

namespace uswap {

void TwoListPolicy::AddLocked(PageFrame* f, bool mapped, uint32_t /*shadow*/) {
  lists_.PushHead(mapped ? kActive : kInactive, f);
}

bool TwoListPolicy::AccessLocked(PageFrame* f) {
  if (f->list == kActive) return false;  // no reordering on access (no accessed bit)
  lists_.Unlink(f);
  lists_.PushHead(kActive, f);
  return true;
}

PageFrame* TwoListPolicy::DeactivateOneLocked() {
  PageFrame* f = lists_.Tail(kActive);
  if (f) IsolateLocked(f);
  return f;
}

PageFrame* TwoListPolicy::VictimLocked() {
  PageFrame* f = lists_.Tail(kInactive);
  if (f) IsolateLocked(f);
  return f;
}

void TwoListPolicy::PutbackLocked(PageFrame* f, bool active) {
  lists_.PushHead(active ? kActive : kInactive, f);
}

}  // namespace uswap
