#include "io/fault_injection_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "io/page_buffer.h"

namespace uswap {

// ---------------------------------------------------------------------------
// FaultRule factories

namespace {
FaultRule MakeRule(FaultOp op, FaultKind kind, FaultRule::Trigger trigger) {
  FaultRule r;
  r.op = op;
  r.kind = kind;
  r.trigger = trigger;
  return r;
}
}  // namespace

FaultRule FaultRule::OnSlots(FaultOp op, std::vector<uint64_t> slots, FaultKind kind) {
  FaultRule r = MakeRule(op, kind, Trigger::kSlots);
  r.slots = std::move(slots);
  std::sort(r.slots.begin(), r.slots.end());
  return r;
}

FaultRule FaultRule::OnNth(FaultOp op, uint64_t n, FaultKind kind) {
  USWAP_CHECK(n >= 1);
  FaultRule r = MakeRule(op, kind, Trigger::kNth);
  r.n = n;
  return r;
}

FaultRule FaultRule::OnEveryNth(FaultOp op, uint64_t n, FaultKind kind) {
  USWAP_CHECK(n >= 1);
  FaultRule r = MakeRule(op, kind, Trigger::kEveryNth);
  r.n = n;
  return r;
}

FaultRule FaultRule::AtRandom(FaultOp op, double probability, uint64_t seed, FaultKind kind) {
  USWAP_CHECK(probability >= 0 && probability <= 1);
  FaultRule r = MakeRule(op, kind, Trigger::kRandom);
  r.probability = probability;
  r.seed = seed;
  return r;
}

// ---------------------------------------------------------------------------
// FaultInjectionStore

namespace {

bool OpMatches(FaultOp op, BlockIo::Op io_op) {
  switch (op) {
    case FaultOp::kRead:
      return io_op == BlockIo::Op::kRead;
    case FaultOp::kWrite:
      return io_op == BlockIo::Op::kWrite;
    case FaultOp::kAny:
      return true;
  }
  return false;
}

// Whether the sorted `slots` hold one in [first, first + nr).
bool CoversAny(const std::vector<uint64_t>& slots, uint64_t first, uint32_t nr) {
  auto it = std::lower_bound(slots.begin(), slots.end(), first);
  return it != slots.end() && *it < first + nr;
}

constexpr std::byte kPoison{0x5a};

}  // namespace

FaultInjectionStore::FaultInjectionStore(std::unique_ptr<BlockStore> target)
    : BlockStore(target->page_size(), target->nr_slots()),
      owned_(std::move(target)),
      target_(owned_.get()) {}

FaultInjectionStore::FaultInjectionStore(BlockStore* target)
    : BlockStore(target->page_size(), target->nr_slots()), target_(target) {}

FaultInjectionStore::RuleId FaultInjectionStore::AddRule(FaultRule rule) {
  MutexLock lock(&mu_);
  const RuleId id = next_id_++;
  std::mt19937_64 rng(rule.seed);
  rules_.push_back(ActiveRule{id, std::move(rule), 0, rng});
  has_rules_.store(true, std::memory_order_release);
  return id;
}

bool FaultInjectionStore::RemoveRule(RuleId id) {
  MutexLock lock(&mu_);
  auto it =
      std::find_if(rules_.begin(), rules_.end(), [id](const ActiveRule& r) { return r.id == id; });
  if (it == rules_.end()) return false;
  rules_.erase(it);
  has_rules_.store(!rules_.empty(), std::memory_order_release);
  return true;
}

void FaultInjectionStore::ClearRules() {
  MutexLock lock(&mu_);
  rules_.clear();
  has_rules_.store(false, std::memory_order_release);
}

FaultCounts FaultInjectionStore::fault_counts() const {
  return FaultCounts{.eio = eio_.load(std::memory_order_relaxed),
                     .short_io = short_io_.load(std::memory_order_relaxed),
                     .no_space = no_space_.load(std::memory_order_relaxed),
                     .sync = sync_faults_.load(std::memory_order_relaxed)};
}

std::optional<FaultKind> FaultInjectionStore::Decide(const BlockIo& io) {
  MutexLock lock(&mu_);
  std::optional<FaultKind> fault;
  for (ActiveRule& r : rules_) {
    if (!OpMatches(r.rule.op, io.op)) continue;
    const uint64_t seen = ++r.matched;
    bool fires = false;
    switch (r.rule.trigger) {
      case FaultRule::Trigger::kSlots:
        fires = CoversAny(r.rule.slots, io.slot, io.nr);
        break;
      case FaultRule::Trigger::kNth:
        fires = seen == r.rule.n;
        break;
      case FaultRule::Trigger::kEveryNth:
        fires = seen % r.rule.n == 0;
        break;
      case FaultRule::Trigger::kRandom:
        // 53 random bits -> [0, 1): the same on every platform, unlike
        // std::uniform_real_distribution.
        fires = static_cast<double>(r.rng() >> 11) * 0x1.0p-53 < r.rule.probability;
        break;
    }
    if (fires && !fault) fault = r.rule.kind;
  }
  return fault;
}

void FaultInjectionStore::InjectShortIo(BlockIo& io) {
  const size_t page = page_size();
  const size_t half = size_t{io.nr} * page / 2;
  io.error = EIO;
  if (io.op == BlockIo::Op::kRead) {
    (void)target_->Read(io.slot, io.nr, io.buf);
    std::memset(static_cast<std::byte*>(io.buf) + half, static_cast<int>(kPoison),
                size_t{io.nr} * page - half);
    return;
  }
  // Whole leading slots first, then the torn one: its first bytes new, the
  // rest as they were.
  const auto whole = static_cast<uint32_t>(half / page);
  if (whole > 0) (void)target_->Write(io.slot, whole, io.buf);
  if (const size_t tail = half % page; tail != 0) {
    PageBuffer slot(page, IoAlignment());
    if (!target_->Read(io.slot + whole, 1, slot.data()).ok()) return;
    std::memcpy(slot.data(), static_cast<const std::byte*>(io.buf) + size_t{whole} * page, tail);
    (void)target_->Write(io.slot + whole, 1, slot.data());
  }
}

void FaultInjectionStore::SubmitImpl(std::span<BlockIo> ios) {
  if (!has_rules_.load(std::memory_order_acquire)) {
    (void)target_->Submit(ios);  // each request carries its own error
    return;
  }
  std::vector<BlockIo> forward;
  std::vector<size_t> forward_index;
  std::vector<size_t> short_index;
  for (size_t i = 0; i < ios.size(); ++i) {
    const std::optional<FaultKind> fault = Decide(ios[i]);
    if (!fault) {
      forward.push_back(ios[i]);
      forward_index.push_back(i);
      continue;
    }
    switch (*fault) {
      case FaultKind::kEio:
        ios[i].error = EIO;
        eio_.fetch_add(1, std::memory_order_relaxed);
        break;
      case FaultKind::kNoSpace:
        ios[i].error = ENOSPC;
        no_space_.fetch_add(1, std::memory_order_relaxed);
        break;
      case FaultKind::kShortIo:
        short_index.push_back(i);
        short_io_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }
  if (!forward.empty()) {
    (void)target_->Submit(forward);
    for (size_t k = 0; k < forward.size(); ++k) ios[forward_index[k]].error = forward[k].error;
  }
  for (size_t i : short_index) InjectShortIo(ios[i]);
}

Status FaultInjectionStore::SyncImpl() {
  if (const int err = sync_error_.load(std::memory_order_relaxed); err != 0) {
    sync_faults_.fetch_add(1, std::memory_order_relaxed);
    return Status::FromErrno("fault: injected sync failure", err);
  }
  return target_->Sync();
}

}  // namespace uswap
