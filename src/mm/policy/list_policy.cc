#include "mm/policy/list_policy.h"

namespace uswap {

void ListPolicy::Add(PageFrame* f, bool mapped, uint32_t shadow) {
  MutexLock l(&mu_);
  USWAP_DCHECK(f->list == 0);
  f->policy_flags = 0;
  f->policy_word = 0;
  resident_++;
  capacity_ = std::max(capacity_, resident_);
  if (shadow) refaults_++;
  AddLocked(f, mapped, shadow);
}

uint32_t ListPolicy::Evicted(PageFrame* f) {
  MutexLock l(&mu_);
  USWAP_DCHECK(f->list == 0);
  reclaimed_++;
  resident_--;
  uint32_t shadow = EvictedLocked(f);
  clock_++;
  USWAP_DCHECK(shadow != 0);
  return shadow;
}

void ListPolicy::Remove(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list == 0) return;  // isolated: its isolator frees it
  lists_.Unlink(f);
  removed_++;
  resident_--;
}

bool ListPolicy::MarkAccessed(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list == 0) {  // isolated by reclaim right now: tell it to spare the page
    f->policy_flags |= kTouched;
    return false;
  }
  return AccessLocked(f);
}

size_t ListPolicy::Deactivate(size_t n, std::vector<PageFrame*>& out) {
  MutexLock l(&mu_);
  return TakeLocked(n, out, &ListPolicy::DeactivateOneLocked);
}

size_t ListPolicy::IsolateVictims(size_t n, std::vector<PageFrame*>& out) {
  MutexLock l(&mu_);
  return TakeLocked(n, out, &ListPolicy::VictimLocked);
}

size_t ListPolicy::TakeLocked(size_t n, std::vector<PageFrame*>& out,
                              PageFrame* (ListPolicy::*pick)()) {
  size_t taken = 0;
  for (; taken < n; taken++) {
    PageFrame* f = (this->*pick)();
    if (!f) break;
    out.push_back(f);
  }
  return taken;
}

bool ListPolicy::Isolate(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list == 0) return false;
  IsolateLocked(f);
  return true;
}

void ListPolicy::Putback(PageFrame* f, bool active) {
  MutexLock l(&mu_);
  if (f->list != 0) return;
  active = active || (f->policy_flags & kTouched);
  f->policy_flags &= static_cast<uint8_t>(~kTouched);
  PutbackLocked(f, active);
}

size_t ListPolicy::InactiveLocked() const {
  size_t n = 0;
  for (uint8_t id = 1; id <= 7; id++)
    if (inactive_lists_ & (1u << id)) n += lists_.size(id);
  return n;
}

size_t ListPolicy::ListedLocked() const {
  size_t n = 0;
  for (uint8_t id = 1; id <= 7; id++) n += lists_.size(id);
  return n;
}

size_t ListPolicy::DeactivateTargetLocked() const {
  size_t target = ListedLocked() * options_.inactive_percent / 100;
  size_t inactive = InactiveLocked();
  return inactive >= target ? 0 : target - inactive;
}

size_t ListPolicy::DeactivateTarget() const {
  MutexLock l(&mu_);
  return DeactivateTargetLocked();
}

ReclaimPolicyStats ListPolicy::Stats() const {
  MutexLock l(&mu_);
  size_t inactive = InactiveLocked();
  return {ListedLocked() - inactive, inactive, reclaimed_, removed_, refaults_};
}

}  // namespace uswap
