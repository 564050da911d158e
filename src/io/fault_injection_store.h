// FaultInjectionStore: a BlockStore decorator (cf. LevelDB's EnvWrapper and
// db/fault_injection_test.cc) that forwards to a target store and fails the
// requests its rules pick, for reliability tests of the swap path: write
// errors must mark slots bad (cf. end_swap_bio_write() -> SetPageError),
// read errors must reach the faulting thread (cf. end_swap_bio_read()).
//
// A rule says which requests fail (FaultOp: reads, writes or both) and how
// (FaultKind), with one trigger:
//   OnSlots    any request whose run covers one of the given slots;
//   OnNth      the n-th matching request counted from AddRule, once;
//   OnEveryNth every n-th matching request;
//   AtRandom   each matching request with a probability, from a seeded
//              generator: the same request sequence gives the same faults.
// Every rule counts every request it matches; the first rule (in AddRule
// order) that fires decides the fault. A fault fails the whole request, a
// multi-slot run included; the other requests of the batch are forwarded.
//
// What reaches the target when a request is faulted:
//   kEio, kNoSpace  nothing: the run's slots keep their old contents;
//   kShortIo        half the run's bytes (the leading slots, then the first
//                   part of one slot, read-modify-written: a torn write), or
//                   a read whose second half is overwritten with 0x5a bytes;
//                   the request reports EIO.
// Either way the request reports an error, so no partial write can pass as
// a good one; a caller must treat every slot of a failed write as garbage.
//
// Thread-safety: all methods may be called concurrently, rules changed
// while I/O runs. Rules live under one mutex; with no rule the store
// forwards without taking it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "io/block_store.h"

namespace uswap {

enum class FaultOp : uint8_t { kRead, kWrite, kAny };

enum class FaultKind : uint8_t {
  kEio,      // EIO, nothing forwarded
  kShortIo,  // half transferred, reported as EIO
  kNoSpace,  // ENOSPC, nothing forwarded
};

struct FaultRule {
  enum class Trigger : uint8_t { kSlots, kNth, kEveryNth, kRandom };

  FaultOp op = FaultOp::kAny;
  FaultKind kind = FaultKind::kEio;
  Trigger trigger = Trigger::kSlots;
  std::vector<uint64_t> slots;  // kSlots
  uint64_t n = 0;               // kNth, kEveryNth: >= 1
  double probability = 0;       // kRandom: in [0, 1]
  uint64_t seed = 0;            // kRandom

  static FaultRule OnSlots(FaultOp op, std::vector<uint64_t> slots,
                           FaultKind kind = FaultKind::kEio);
  static FaultRule OnNth(FaultOp op, uint64_t n, FaultKind kind = FaultKind::kEio);
  static FaultRule OnEveryNth(FaultOp op, uint64_t n, FaultKind kind = FaultKind::kEio);
  static FaultRule AtRandom(FaultOp op, double probability, uint64_t seed,
                            FaultKind kind = FaultKind::kEio);
};

struct FaultCounts {
  uint64_t eio = 0;
  uint64_t short_io = 0;
  uint64_t no_space = 0;
  uint64_t sync = 0;  // Sync calls failed by SetSyncError
  uint64_t total() const { return eio + short_io + no_space + sync; }
};

class FaultInjectionStore final : public BlockStore {
 public:
  using RuleId = uint64_t;

  // Owns `target`.
  explicit FaultInjectionStore(std::unique_ptr<BlockStore> target);
  // Borrows `target`. REQUIRES: target outlives this store.
  explicit FaultInjectionStore(BlockStore* target);

  std::string_view name() const override { return "fault"; }
  BlockStore* target() const { return target_; }

  // REQUIRES: the rule is well formed (as the FaultRule factories build it).
  RuleId AddRule(FaultRule rule);
  // Returns whether the rule existed.
  bool RemoveRule(RuleId id);
  void ClearRules();
  // Sync() fails with `err` without reaching the target; 0 forwards again.
  void SetSyncError(int err) { sync_error_.store(err, std::memory_order_relaxed); }

  FaultCounts fault_counts() const;
  uint64_t injected_faults() const { return fault_counts().total(); }

 protected:
  void SubmitImpl(std::span<BlockIo> ios) override;
  Status SyncImpl() override;

 private:
  struct ActiveRule {
    RuleId id;
    FaultRule rule;
    uint64_t matched = 0;  // requests this rule has matched so far
    std::mt19937_64 rng;   // kRandom
  };

  // The fault to inject into `io`, if a rule fires. Counts the request in
  // every rule it matches.
  std::optional<FaultKind> Decide(const BlockIo& io) EXCLUDES(mu_);
  // Does to the target what kShortIo promises, and sets io.error.
  void InjectShortIo(BlockIo& io);

  const std::unique_ptr<BlockStore> owned_;  // null when borrowed
  BlockStore* const target_;

  std::atomic<bool> has_rules_{false};  // == !rules_.empty(), readable without mu_
  Mutex mu_;
  std::vector<ActiveRule> rules_ GUARDED_BY(mu_);
  RuleId next_id_ GUARDED_BY(mu_) = 1;

  std::atomic<int> sync_error_{0};
  std::atomic<uint64_t> eio_{0}, short_io_{0}, no_space_{0}, sync_faults_{0};
};

}  // namespace uswap
