#include "mm/policy/two_list.h"

#include "base/check.h"

namespace uswap {

void TwoListPolicy::PushHeadLocked(List& l, uint8_t id, PageFrame* f) {
  USWAP_DCHECK(f->list == kNone);
  f->prev = nullptr;
  f->next = l.head;
  if (l.head) l.head->prev = f;
  l.head = f;
  if (!l.tail) l.tail = f;
  l.size++;
  f->list = id;
}

void TwoListPolicy::UnlinkLocked(PageFrame* f) {
  List& l = ListOf(f->list);
  if (f->prev)
    f->prev->next = f->next;
  else
    l.head = f->next;
  if (f->next)
    f->next->prev = f->prev;
  else
    l.tail = f->prev;
  f->prev = f->next = nullptr;
  l.size--;
  f->list = kNone;
}

void TwoListPolicy::Add(PageFrame* f, bool mapped) {
  MutexLock l(&mu_);
  f->policy_flags = 0;
  if (mapped)
    PushHeadLocked(active_, kActive, f);
  else
    PushHeadLocked(inactive_, kInactive, f);
}

void TwoListPolicy::Remove(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list != kNone) UnlinkLocked(f);
}

bool TwoListPolicy::MarkAccessed(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list == kActive) return false;
  if (f->list == kNone) {  // isolated by reclaim right now: tell it to spare the page
    f->policy_flags = 1;
    return false;
  }
  UnlinkLocked(f);
  PushHeadLocked(active_, kActive, f);
  return true;
}

size_t TwoListPolicy::Deactivate(size_t n, std::vector<PageFrame*>& out) {
  MutexLock l(&mu_);
  size_t moved = 0;
  while (moved < n && active_.tail) {
    PageFrame* f = active_.tail;
    UnlinkLocked(f);  // isolated until the engine has unmapped it
    f->policy_flags = 0;
    out.push_back(f);
    moved++;
  }
  return moved;
}

size_t TwoListPolicy::IsolateVictims(size_t n, std::vector<PageFrame*>& out) {
  MutexLock l(&mu_);
  size_t taken = 0;
  while (taken < n && inactive_.tail) {
    PageFrame* f = inactive_.tail;
    UnlinkLocked(f);
    f->policy_flags = 0;
    out.push_back(f);
    taken++;
  }
  return taken;
}

bool TwoListPolicy::Isolate(PageFrame* f) {
  MutexLock l(&mu_);
  if (f->list == kNone) return false;
  UnlinkLocked(f);
  f->policy_flags = 0;
  return true;
}

void TwoListPolicy::Putback(PageFrame* f, bool active) {
  MutexLock l(&mu_);
  if (f->list != kNone) return;
  // A page touched while isolated goes back to the active list.
  if (active || f->policy_flags) {
    f->policy_flags = 0;
    PushHeadLocked(active_, kActive, f);
  } else {
    PushHeadLocked(inactive_, kInactive, f);
  }
}

size_t TwoListPolicy::DeactivateTarget() const {
  MutexLock l(&mu_);
  size_t total = active_.size + inactive_.size;
  size_t target = total * options_.inactive_percent / 100;
  return inactive_.size >= target ? 0 : target - inactive_.size;
}

ReclaimPolicyStats TwoListPolicy::Stats() const {
  MutexLock l(&mu_);
  return {active_.size, inactive_.size};
}

std::unique_ptr<ReclaimPolicy> CreateReclaimPolicy(const std::string& name,
                                                   const ReclaimPolicyOptions& options) {
  if (name == "two-list" || name.empty()) return std::make_unique<TwoListPolicy>(options);
  return nullptr;
}

}  // namespace uswap
