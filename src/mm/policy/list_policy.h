// ListPolicy: the frame of every list-based reclaim policy — the lock, the
// lists, isolation, the eviction clock that shadow entries are cut from,
// and the counters — so that each policy writes only its decisions (where a
// frame goes on Add, on a visible access, which frame to unmap next, which
// to evict). The public methods take the lock and call the *Locked hooks.
//
// Shadow entries (cf. mm/workingset.c pack_shadow()): bit 0 is always 1 (a
// shadow is never 0), bits 1-2 are the policy's, bits 3-31 a stamp of the
// eviction clock (29 bits; distances are taken modulo 2^29). The eviction
// clock counts reclaim evictions (cf. lruvec->nonresident_age).
//
// PageFrame::policy_flags: bits 0-2 the list a frame was isolated from (so
// Putback and Evicted know where it came from), bit 3 "touched while
// isolated", bits 4-7 the policy's. PageFrame::policy_word: the policy's.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "mm/policy/frame_list.h"
#include "mm/policy/reclaim_policy.h"

namespace uswap {

// Declares, in a policy's class, the five hooks every ListPolicy overrides
// (AddLocked, AccessLocked, DeactivateOneLocked, VictimLocked,
// PutbackLocked): one place for their signatures and lock annotations.
#define USWAP_LIST_POLICY_HOOKS                                                      \
  void AddLocked(PageFrame* f, bool mapped, uint32_t shadow) override REQUIRES(mu_); \
  bool AccessLocked(PageFrame* f) override REQUIRES(mu_);                            \
  PageFrame* DeactivateOneLocked() override REQUIRES(mu_);                           \
  PageFrame* VictimLocked() override REQUIRES(mu_);                                  \
  void PutbackLocked(PageFrame* f, bool active) override REQUIRES(mu_)

class ListPolicy : public ReclaimPolicy {
 public:
  void Add(PageFrame* f, bool mapped, uint32_t shadow) final;
  uint32_t Evicted(PageFrame* f) final;
  void Remove(PageFrame* f) final;
  bool MarkAccessed(PageFrame* f) final;
  size_t Deactivate(size_t n, std::vector<PageFrame*>& out) final;
  size_t IsolateVictims(size_t n, std::vector<PageFrame*>& out) final;
  bool Isolate(PageFrame* f) final;
  void Putback(PageFrame* f, bool active) final;
  size_t DeactivateTarget() const final;
  ReclaimPolicyStats Stats() const final;

  static constexpr unsigned kStampBits = 29;
  static constexpr uint32_t kStampMask = (1u << kStampBits) - 1;
  static uint32_t ShadowStamp(uint32_t shadow) { return shadow >> 3; }
  static unsigned ShadowBits(uint32_t shadow) { return (shadow >> 1) & 3; }
  static uint32_t PackShadow(uint32_t stamp, unsigned bits) {
    return ((stamp & kStampMask) << 3) | ((bits & 3) << 1) | 1;
  }

 protected:
  static constexpr uint8_t kOriginMask = 7;  // list a frame was isolated from
  static constexpr uint8_t kTouched = 1 << 3;
  static constexpr uint8_t kPolicyBit0 = 1 << 4;  // bits 4-7: the subclass's
  static constexpr uint8_t kPolicyBit1 = 1 << 5;

  // `inactive_lists`: bit i set = list i holds unmapped frames (Stats,
  // the default DeactivateTargetLocked).
  ListPolicy(const ReclaimPolicyOptions& options, uint8_t inactive_lists)
      : options_(options), inactive_lists_(inactive_lists), capacity_(options.capacity) {}

  // A new resident frame (policy_flags and policy_word are 0): put it on a list.
  virtual void AddLocked(PageFrame* f, bool mapped, uint32_t shadow) REQUIRES(mu_) = 0;
  // A visible reference to a frame on a list. Returns "activated".
  virtual bool AccessLocked(PageFrame* f) REQUIRES(mu_) = 0;
  // The next mapped frame to unmap, isolated (IsolateLocked), or nullptr.
  virtual PageFrame* DeactivateOneLocked() REQUIRES(mu_) = 0;
  // The next eviction candidate, isolated, or nullptr.
  virtual PageFrame* VictimLocked() REQUIRES(mu_) = 0;
  // An isolated frame goes back (Origin(f) says where it came from);
  // `active` includes "touched while isolated".
  virtual void PutbackLocked(PageFrame* f, bool active) REQUIRES(mu_) = 0;
  // The shadow of an evicted frame; the eviction clock ticks after it.
  virtual uint32_t EvictedLocked(PageFrame* /*f*/) REQUIRES(mu_) { return PackShadow(clock_, 0); }
  // How many more frames to unmap. Default: the inactive lists at
  // options_.inactive_percent of the listed frames (cf. inactive_is_low()).
  virtual size_t DeactivateTargetLocked() const REQUIRES(mu_);

  // Takes a listed frame off its list, remembering which.
  void IsolateLocked(PageFrame* f) REQUIRES(mu_) {
    f->policy_flags = static_cast<uint8_t>((f->policy_flags & ~(kOriginMask | kTouched)) | f->list);
    lists_.Unlink(f);
  }
  static uint8_t Origin(const PageFrame* f) { return f->policy_flags & kOriginMask; }
  // The oldest frame of a queue kept as two lists: `older` (unmapped part,
  // nearer eviction) then `younger`.
  PageFrame* OldestLocked(uint8_t older, uint8_t younger) const REQUIRES(mu_) {
    return lists_.Tail(older) ? lists_.Tail(older) : lists_.Tail(younger);
  }
  size_t SizeLocked(uint8_t a, uint8_t b) const REQUIRES(mu_) {
    return lists_.size(a) + lists_.size(b);
  }
  // Evictions so far, as a stamp (cf. nonresident_age).
  uint32_t ClockLocked() const REQUIRES(mu_) { return clock_ & kStampMask; }
  // Evictions since `stamp`.
  uint32_t SinceLocked(uint32_t stamp) const REQUIRES(mu_) { return (clock_ - stamp) & kStampMask; }
  // ReclaimPolicyOptions::capacity, or the most frames resident at once so
  // far if more: the cache size, once full.
  size_t CapacityLocked() const REQUIRES(mu_) { return capacity_; }
  size_t InactiveLocked() const REQUIRES(mu_);
  size_t ListedLocked() const REQUIRES(mu_);

  const ReclaimPolicyOptions options_;
  mutable Mutex mu_;  // cf. lru_lock
  FrameLists<7> lists_ GUARDED_BY(mu_);

 private:
  // Appends up to n frames chosen (and isolated) by `pick`.
  size_t TakeLocked(size_t n, std::vector<PageFrame*>& out, PageFrame* (ListPolicy::*pick)())
      REQUIRES(mu_);

  const uint8_t inactive_lists_;
  uint32_t clock_ GUARDED_BY(mu_) = 0;
  size_t resident_ GUARDED_BY(mu_) = 0;  // listed + isolated
  size_t capacity_ GUARDED_BY(mu_);
  uint64_t reclaimed_ GUARDED_BY(mu_) = 0;
  uint64_t removed_ GUARDED_BY(mu_) = 0;
  uint64_t refaults_ GUARDED_BY(mu_) = 0;
};

}  // namespace uswap
