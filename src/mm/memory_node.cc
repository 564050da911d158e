#include "mm/memory_node.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/check.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/test_hook.h"
#include "io/page_buffer.h"

namespace uswap {

namespace {
// Each direct reclaim round frees up to kDirectReclaimBatch frames (see
// ChargeFramesLocked for when a charge gives up).
constexpr size_t kDirectReclaimBatch = 32;

// Frees evicted pages of one block: their memfd pages go in one fallocate
// per run of adjacent pages, and only then are the frames uncharged, so the
// charged count never falls below what the memfd really holds. Each page
// keeps the shadow entry the policy gives for it (EvictFrame).
// REQUIRES: the block lock is held from Add() through Flush().
class FrameReleaser {
 public:
  FrameReleaser(MemoryNode* node, MmRegion* r) : node_(node), r_(r) {}
  ~FrameReleaser() { Flush(); }
  void Add(uint64_t index) {
    if (len_ && start_ + len_ != index) Punch();
    if (!len_) start_ = index;
    len_++;
    USWAP_DCHECK(n_ < MmRegion::kBlockPages);
    pages_[n_++] = index;
  }
  void Flush() {
    Punch();
    for (size_t k = 0; k < n_; k++) node_->EvictFrame(r_->pte(pages_[k]));
    n_ = 0;
  }

 private:
  void Punch() {
    if (len_) (void)r_->PunchHole(start_, len_);
    len_ = 0;
  }
  MemoryNode* node_;
  MmRegion* r_;
  uint64_t start_ = 0, len_ = 0;
  // One block's pages at most (the block lock is held): no allocation.
  std::array<uint64_t, MmRegion::kBlockPages> pages_;
  size_t n_ = 0;
};

// Adds the page at `addr` to a batch of PTE zaps, merging adjacent pages.
void AppendRange(std::vector<iovec>& ranges, uint8_t* addr, size_t page_size) {
  if (!ranges.empty() &&
      static_cast<uint8_t*>(ranges.back().iov_base) + ranges.back().iov_len == addr)
    ranges.back().iov_len += page_size;
  else
    ranges.push_back({addr, page_size});
}

bool ByPage(const PageFrame* a, const PageFrame* b) {
  return a->owner != b->owner ? a->owner < b->owner : a->index < b->index;
}
}  // namespace

MemoryNode::MemoryNode(const MemoryNodeOptions& options, SwapDevices* devices, PageIo* page_io,
                       std::unique_ptr<Compressor> codec)
    : options_(options),
      devices_(devices),
      page_io_(page_io),
      frames_(options.budget_pages, devices->page_size(), options.watermarks, options.group),
      // The cache the policy sizes its lists by: the frames the budget
      // holds (frames_ is made first); the page tables take a little more
      // as they grow, which the policies learn from the most frames resident.
      policy_(CreateReclaimPolicy(options.policy,
                                  {options.inactive_percent, frames_.FramesFitting()})) {
  USWAP_CHECK_MSG(policy_ != nullptr, "unknown reclaim policy");
  if (codec) {
    zswap_ =
        std::make_unique<Zswap>(options.zswap, std::move(codec), devices->page_size(),
                                options.budget_pages, page_io_, &frames_, [this] { WakeKswapd(); });
    tiers_[ntiers_++] = zswap_.get();
  }
  tiers_[ntiers_++] = page_io_;
}

MemoryNode::~MemoryNode() = default;

// ---------------------------------------------------------------------------
// Frames

bool MemoryNode::ChargeFramesLocked(uint64_t n, Charge mode) {
  const Watermarks& wm = frames_.watermarks();
  // Give up only after kFruitlessRounds rounds in a row that freed nothing
  // while nothing was in flight elsewhere; waiting for frames in flight is
  // bounded by kMaxProgressWaits (each at most 1 ms, 50 ms with no free
  // slot) in case they never move.
  constexpr int kFruitlessRounds = 3;
  constexpr int kMaxProgressWaits = 5000;
  int fruitless = 0, waits = 0;
  // The group's members are asked for room and waited for, at most
  // kMaxGroupWaits times for one charge; a wait that finds no room (20 ms)
  // ends it, and the group is then congested for a while: charges go on as
  // if alone (a soft limit overshoots, counted and logged).
  constexpr int kMaxGroupWaits = 8;
  int group_waits = 0;
  MemCgroup* const group = options_.group;
  // A charge that would fail (within-budget, hard limit) first scans every
  // resident page (ScanAllLocked). A soft one overshoots instead, and a
  // hard-limit window falls back to its single page, whose charge scans.
  // It fails only after a whole scan in which nobody freed a frame and at
  // whose end no frame was in flight: kswapd or another reclaimer may hold
  // the one freeable page isolated while this thread scans the lists, and
  // free it a moment later (audit F10). Another thread may take the frame
  // freed meanwhile, so the scan is repeated, at most kMaxFullScans times.
  constexpr int kMaxFullScans = 4;
  const bool may_fail = mode == Charge::kWithinBudget || (options_.hard_limit && n == 1);
  int full_scans = may_fail ? kMaxFullScans : 0;
  for (;;) {
    if (frames_.TryCharge(n)) {
      uint64_t free = frames_.free_frames();
      if (free < wm.low) WakeKswapd();
      if (group) {
        // cf. memcg's high-limit reclaim: the group below its low mark asks
        // every member (this one too, through its kswapd) for its share.
        const uint64_t group_free = group->free_bytes();
        if (group_free < group->low_bytes())
          group->RequestReclaim(group->high_bytes() - group_free, /*force=*/false);
      }
      if (free < wm.min) {
        // Below min: the allocating thread helps (cf. direct reclaim).
        Count(vmstat_.direct_reclaims);
        ReclaimLocked(kDirectReclaimBatch);
      }
      return true;
    }
    WakeKswapd();
    Count(vmstat_.direct_reclaims);
    if (ReclaimLocked(std::max<size_t>(n, kDirectReclaimBatch)) != 0) {
      fruitless = 0;
      continue;
    }
    // Nothing resident could leave: the compressed pool gives its pages
    // back by writing objects to their reserved slots (the fault path does
    // this only when there is no alternative).
    if (zswap_ && zswap_->Shrink(std::max<size_t>(n, kDirectReclaimBatch)) != 0) {
      fruitless = 0;
      continue;
    }
    // After our own round (it bumps the generation too): what we wait for
    // is another thread's progress.
    const uint64_t gen = progress_gen_.load();
    // A congested group (MemCgroup::Congested) waits for nothing here: the
    // frames this node has in flight would not make room for it in time.
    const bool congested = group && frames_.GroupShort(n) && group->Congested();
    if (waits < kMaxProgressWaits && FramesInFlight() > 0 && !congested) {
      // Other threads hold the victims (isolated, under write-back, being
      // read in): their frames come back or free up soon. Not a reason to
      // overshoot or to fail the access.
      waits++;
      if (devices_->free_slots() > 0) {
        WaitForReclaimProgress(gen, std::chrono::milliseconds(1));
        continue;
      }
      // No free slot: the other reclaimer cannot write its dirty victims
      // either (they come back), but it still frees the clean and all-zero
      // ones it holds. Wait for the end of its pass (its progress), then
      // this round counts as fruitless: a few of them fail the charge, with
      // no spinning while reclaimers pass victims back and forth.
      WaitForReclaimProgress(gen, std::chrono::milliseconds(50));
    }
    if (group && frames_.GroupShort(n) && !group->Congested() && group_waits++ < kMaxGroupWaits) {
      // The group refused it and this member has nothing left to evict:
      // the others hold the group's frames. Ask them for room and wait.
      Count(vmstat_.group_waits);
      const uint64_t need = n * frames_.frame_cost();
      group->RequestReclaim(
          std::max(need, group->high_bytes() - std::min(group->high_bytes(), group->free_bytes())),
          /*force=*/true);
      if (group->WaitForRoom(need, std::chrono::milliseconds(20))) continue;
    }
    if (++fruitless < kFruitlessRounds) continue;
    if (full_scans-- <= 0) break;
    const uint64_t released = frames_.uncharged_total();
    if (ScanAllLocked() == 0 && frames_.uncharged_total() == released && FramesInFlight() == 0)
      break;
    fruitless = 0;
  }
  // A window (readahead, fault-around) is never charged past the budget:
  // the caller falls back to the faulting page alone, so the overshoot is
  // one page per access and budget_overshoot_pages counts it exactly.
  if (options_.hard_limit || mode == Charge::kWithinBudget || n > 1) return false;
  frames_.ForceCharge(n);
  Count(vmstat_.budget_overshoot_pages, n);
  WakeKswapd();  // pulls resident memory back under the budget once it can
  // One log line per doubling of the overshoot, not one per page.
  uint64_t total = vmstat_.budget_overshoot_pages.load(std::memory_order_relaxed);
  uint64_t logged = overshoot_logged_.load(std::memory_order_relaxed);
  if (total >= 2 * logged + 1 &&
      overshoot_logged_.compare_exchange_strong(logged, total, std::memory_order_relaxed)) {
    ReclaimPolicyStats ps = policy_->Stats();
    if (group && frames_.GroupShort(n)) {
      const MemCgroupStats gs = group->stats();
      Log(LogLevel::kWarning,
          "shared RAM budget exceeded (soft limit): its %llu member(s) hold %llu MiB of %llu MiB "
          "and could free no frame (%llu MiB of it is the processes' own memory outside uswap, "
          "which no reclaim can evict: a larger --ram fits them); %llu page(s) charged past it "
          "here so far",
          static_cast<unsigned long long>(gs.members),
          static_cast<unsigned long long>(gs.usage_bytes >> 20),
          static_cast<unsigned long long>(gs.limit_bytes >> 20),
          static_cast<unsigned long long>(gs.outside_bytes >> 20),
          static_cast<unsigned long long>(total));
      return true;
    }
    Log(LogLevel::kWarning,
        "RAM budget exceeded (soft limit): reclaim freed nothing with %llu free swap slot(s) "
        "and %llu resident page(s) (%llu inactive); %llu page(s) charged past the budget so "
        "far",
        static_cast<unsigned long long>(devices_->free_slots()),
        static_cast<unsigned long long>(frames_.charged()),
        static_cast<unsigned long long>(ps.inactive), static_cast<unsigned long long>(total));
  }
  return true;
}

size_t MemoryNode::ScanAllLocked() {
  // cf. do_try_to_free_pages() letting sc->priority fall to 0 before the OOM
  // killer: the bounded rounds of ChargeFramesLocked look at the oldest
  // pages only, so clean and all-zero pages elsewhere (a fault-around
  // window just mapped, a page read back) could still free a frame when no
  // swap slot is left. Rounds of the usual batch until a frame is freed or
  // four times the resident pages went through a list step (aged off the
  // active list or isolated as a victim): a page needs at most an aging
  // (mapped: unmapped there), a scan that rotates it back to active because
  // it was touched meanwhile, a second aging and its last scan. Pages that
  // never become victims (pinned: straight back to active) use up aging
  // steps, so the loop ends even when every frame is pinned (it once
  // counted victims only, and spun forever there).
  const uint64_t resident = frames_.charged();
  ScanCount count;
  while (count.aged + count.scanned < 4 * resident) {
    const ScanCount before = count;
    if (size_t freed = ReclaimLocked(kDirectReclaimBatch, &count)) return freed;
    if (count.aged == before.aged && count.scanned == before.scanned) break;  // lists empty
  }
  return 0;
}

uint64_t MemoryNode::FramesInFlight() const {
  ReclaimPolicyStats ps = policy_->Stats();
  const uint64_t listed = ps.active + ps.inactive;
  const uint64_t charged = frames_.charged();
  return charged > listed ? charged - listed : 0;
}

void MemoryNode::WaitForReclaimProgress(uint64_t seen_gen, std::chrono::milliseconds timeout) {
  // seq_cst: the waiter's "waiters++ then read gen" and the notifier's
  // "gen++ then read waiters" must not both miss each other. The time-out
  // bounds the cost of any miss anyway.
  MutexLock l(&progress_mu_);
  progress_waiters_.fetch_add(1);
  if (progress_gen_.load() == seen_gen) progress_cv_.WaitFor(timeout);
  progress_waiters_.fetch_sub(1);
}

void MemoryNode::NotifyReclaimProgress() {
  progress_gen_.fetch_add(1);
  if (progress_waiters_.load() == 0) return;
  MutexLock l(&progress_mu_);  // orders the bump before a waiter's check
  progress_cv_.SignalAll();
}

Status MemoryNode::CopyPagesLocked(MmRegion* r, uint64_t first, uint64_t n, uint8_t* out,
                                   CompressedPages* objects) {
  if (!page_io_->options().checksums)
    return Status::NotSupported("reading swapped pages without a fault needs checksums");
  // A page in flight (kSwapIn) or read back wrong is looked at again, for
  // at most ~1 s in all (a read error that persists while the page stays
  // swapped is an error).
  constexpr int kMaxRetries = 10000;
  const size_t ps = r->page_size();
  std::vector<SwapPage> reads;
  int retries = 0;
  for (uint64_t i = first, end = first + n; i < end;) {
    const uint64_t stop = std::min(end, r->block_end(i));
    uint8_t* const at = out + (i - first) * ps;
    reads.clear();
    bool again = false;
    // A block looked at again drops the objects it appended.
    const size_t objects_at = objects ? objects->pages.size() : 0;
    const size_t bytes_at = objects ? objects->bytes.size() : 0;
    if (!r->block_exists(i)) {
      std::memset(at, 0, (stop - i) * ps);  // never touched: 64 kNone pages
    } else {
      MutexLock l(&r->block_lock(i));
      for (uint64_t j = i; j < stop && !again; j++) {
        uint8_t* to = out + (j - first) * ps;
        const PageEntry& p = r->pte(j);
        switch (p.state) {
          case PageState::kNone:
            std::memset(to, 0, ps);
            break;
          case PageState::kFilled: {
            const uint64_t word = p.fill();
            for (size_t w = 0; w < ps; w += sizeof(word)) std::memcpy(to + w, &word, sizeof(word));
            break;
          }
          case PageState::kResident:
            USWAP_RETURN_IF_ERROR(r->CopyOut(j, 1, to));
            break;
          case PageState::kSwapped:
            if (objects && zswap_) {
              const size_t end = objects->bytes.size(), cap = zswap_->max_object();
              objects->bytes.resize(end + cap);
              const size_t len = zswap_->CopyObject(p.entry(), objects->bytes.data() + end, cap);
              objects->bytes.resize(end + len);
              if (len) {
                objects->pages.push_back(
                    {static_cast<uint32_t>(j - first), static_cast<uint32_t>(len), p.sum});
                break;
              }
            }
            reads.push_back(SwapPage{p.entry(), to, p.sum});
            break;
          case PageState::kSwapIn:
            again = true;  // its I/O ends soon
            break;
          case PageState::kPoisoned:
            return Status::IOError("page " + std::to_string(j) +
                                   " of the region could not be read back from swap");
        }
      }
    }
    if (!again && !reads.empty()) {
      ReadPages(reads);  // no block lock: I/O never runs under one
      for (const SwapPage& p : reads) again |= p.status != 0;
    }
    if (again) {
      if (objects) {
        objects->pages.resize(objects_at);
        objects->bytes.resize(bytes_at);
      }
      if (++retries > kMaxRetries)
        return Status::IOError("pages " + std::to_string(i) + ".." + std::to_string(stop - 1) +
                               " of the region could not be read for a copy");
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;  // the same block again
    }
    retries = 0;
    i = stop;
  }
  return Status::OK();
}

Status MemoryNode::AddObjectLocked(MmRegion* r, uint64_t index, const uint8_t* obj, size_t n,
                                   uint32_t sum) {
  USWAP_CHECK(zswap_ != nullptr);
  if (page_io_->options().checksums) {
    if (std::optional<SwapEntry> e = devices_->Allocate()) {
      if (zswap_->StoreObject(*e, obj, n)) {
        {
          MutexLock l(&r->block_lock(index));
          PageEntry& p = r->pte(index);
          if (p.state == PageState::kNone) {
            p.state = PageState::kSwapped;  // as reclaim leaves a page the pool took
            p.flags = 0;
            p.shadow = 0;
            p.set_entry(*e);
            p.sum = sum;
            return Status::OK();
          }
        }
        FreeSwapEntry(*e);
        return Status::InvalidArgument("AddObject: page " + std::to_string(index) +
                                       " is not untouched");
      }
      FreeSwapEntry(*e);
    }
  }
  // No room in the tier or on swap: the page itself, as a copy adds it.
  PageBuffer buffer(r->page_size());
  uint8_t* page = reinterpret_cast<uint8_t*>(buffer.data());
  if (!zswap_->Decompress(obj, n, page) ||
      (page_io_->options().checksums && PageChecksum(page, r->page_size()) != sum))
    return Status::Corruption("page " + std::to_string(index) +
                              ": a compressed copy does not decompress to its checksum");
  return AddPageLocked(r, index, page);
}

Status MemoryNode::AddPageLocked(MmRegion* r, uint64_t index, const void* data) {
  // A same-filled page takes no frame, as reclaim leaves it: all zero stays
  // untouched (kNone), another repeated word is kept in the entry (kFilled).
  uint64_t word = 0;
  const bool same = MmRegion::IsSameFilled(data, r->page_size(), &word);
  if (!same && !ChargeFramesLocked(1))
    return Status::NoSpace("no frame for a page within the budget (hard limit)");
  MutexLock l(&r->block_lock(index));
  PageEntry& p = r->pte(index);
  Status st =
      p.state == PageState::kNone
          ? Status::OK()
          : Status::InvalidArgument("AddPage: page " + std::to_string(index) + " is not untouched");
  if (st.ok() && !same) st = r->CopyIn(index, 1, data);
  if (!st.ok()) {
    if (!same) frames_.Uncharge(1);
    return st;
  }
  if (same) {
    if (word != 0) {
      p.state = PageState::kFilled;
      p.set_fill(word);
    }
    return Status::OK();
  }
  const uint32_t shadow = p.shadow;  // a zero page reclaimed before
  p.state = PageState::kResident;
  p.flags = kDirty;
  InstallFrame(r, index, /*mapped=*/false, shadow);
  return Status::OK();
}

PageFrame* MemoryNode::InstallFrame(MmRegion* r, uint64_t index, bool mapped, uint32_t shadow) {
  const uint32_t id = frames_.AllocFrame();
  PageFrame* f = frames_.Get(id);
  f->owner = r;
  f->index = index;
  r->pte(index).frame = id;
  policy_->Add(f, mapped, shadow);
  if (progress_waiters_.load(std::memory_order_relaxed)) NotifyReclaimProgress();
  return f;
}

bool MemoryNode::MlockLocked(MmRegion* r, uint64_t index) {
  if (r->mlocked(index)) return true;
  // Reserve first: two threads locking at once never pass the limit.
  if (mlocked_pages_.fetch_add(1, std::memory_order_relaxed) >= options_.mlock_limit_pages) {
    mlocked_pages_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  USWAP_CHECK(r->Mlock(index));
  return true;
}

void MemoryNode::MunlockLocked(MmRegion* r, uint64_t index) {
  if (r->Munlock(index)) mlocked_pages_.fetch_sub(1, std::memory_order_relaxed);
}

void MemoryNode::MlockOnFaultLocked(MmRegion* r, uint64_t first, uint64_t end) {
  for (uint64_t i = first; i < end; i++) {
    if (!r->mlock_on_fault(i) || MlockLocked(r, i)) continue;
    Count(vmstat_.mlock_limit_refusals);
    if (!mlock_limit_logged_.exchange(true))
      Log(LogLevel::kWarning,
          "mlockall: %llu pages are mlock'ed, the limit (Config::mlock_limit_bytes); pages "
          "faulted in from now on stay unlocked (they may be swapped)",
          static_cast<unsigned long long>(options_.mlock_limit_pages));
  }
}

void MemoryNode::ReleaseFrame(PageEntry& p) {
  USWAP_DCHECK(p.frame != 0);
  policy_->Remove(frames_.Get(p.frame));
  frames_.FreeFrame(p.frame);
  p.frame = 0;
  frames_.Uncharge(1);
}

void MemoryNode::EvictFrame(PageEntry& p) {
  USWAP_DCHECK(p.frame != 0 && p.state != PageState::kResident);
  const uint32_t shadow = policy_->Evicted(frames_.Get(p.frame));
  frames_.FreeFrame(p.frame);
  p.shadow = shadow;  // the frame id's place: kept until the page refaults
  frames_.Uncharge(1);
}

void MemoryNode::FreeSlotLocked(PageEntry& p) {
  if (p.entry()) FreeSwapEntry(p.entry());
  p.clear_entry();
}

void MemoryNode::FreeSwapEntry(SwapEntry e) {
  for (unsigned t = 0; t < ntiers_; t++) tiers_[t]->Invalidate(e);
  (void)devices_->Free(e);
}

void MemoryNode::StorePages(std::span<SwapPage> pages) {
  for (SwapPage& p : pages) {
    p.status = kPassDown;
    p.tier = kNoTier;
  }
  for (unsigned t = 0; t < ntiers_; t++) {
    tiers_[t]->Store(pages);
    for (SwapPage& p : pages)
      if (p.status != kPassDown && p.tier == kNoTier) p.tier = static_cast<uint8_t>(t);
  }
}

void MemoryNode::ReadPages(std::span<SwapPage> pages) {
  for (SwapPage& p : pages) {
    p.status = kPassDown;
    p.tier = kNoTier;
  }
  for (unsigned t = 0; t < ntiers_; t++) {
    // A page found nowhere above the disk is read from it: the disk tier
    // takes every page still kPassDown (timed for the compressed tier's
    // adaptive share).
    const bool timed = zswap_ && tiers_[t] == page_io_;
    size_t to_disk = 0;
    if (timed)
      for (const SwapPage& p : pages) to_disk += p.status == kPassDown;
    const int64_t t0 = timed && to_disk ? MonotonicNs() : 0;
    tiers_[t]->Load(pages);
    if (timed && to_disk) zswap_->NoteDiskRead(static_cast<uint64_t>(MonotonicNs() - t0), to_disk);
    for (SwapPage& p : pages)
      if (p.status != kPassDown && p.tier == kNoTier) p.tier = static_cast<uint8_t>(t);
  }
  uint64_t from_disk = 0;
  for (const SwapPage& p : pages) {
    if (p.status == EBADMSG) Count(vmstat_.checksum_errors);
    if (p.status == 0 && !FromRamTier(p)) from_disk++;
  }
  Count(vmstat_.pswpin, from_disk);
  thread_disk_reads_ += from_disk;
}

thread_local uint64_t MemoryNode::thread_disk_reads_ = 0;

// ---------------------------------------------------------------------------
// Reclaim

size_t MemoryNode::RefillInactiveLocked(size_t n, ScanCount* count) {
  // The policy isolates the frames (list = 0): until they are put back, no
  // other reclaimer can evict, free or recycle them, so owner/index stay
  // valid and the sort below sees stable keys (audit F5).
  // Per-thread lists that keep their capacity: reclaim (kswapd's, or a
  // fault's direct reclaim) allocates nothing once warm. No caller nests.
  thread_local std::vector<PageFrame*> frames;
  frames.clear();
  policy_->Deactivate(n, frames);
  if (frames.empty()) return 0;
  if (count) count->aged += frames.size();
  std::sort(frames.begin(), frames.end(), ByPage);
  TestPoint("refill_before_zap");
  // Lock the blocks of the batch in address order (the one place that holds
  // several), so that the PTE zaps and the state change are atomic for
  // faults, and send all ranges to the kernel in one call: one TLB flush
  // per chunk instead of one per page. At most kMaxBlocksLocked blocks at a
  // time (ThreadSanitizer tracks at most 64 held mutexes per thread).
  constexpr size_t kMaxBlocksLocked = 32;
  const size_t ps = devices_->page_size();
  size_t unmapped = 0;
  size_t i = 0;
  MutexSet locks;  // block locks in address order
  thread_local std::vector<iovec> ranges;
  thread_local std::vector<std::pair<PageFrame*, bool>> putback;  // frame, back to active
  putback.clear();
  while (i < frames.size()) {
    ranges.clear();
    size_t j = i;
    for (; j < frames.size(); j++) {
      Mutex* m = &frames[j]->owner->block_lock(frames[j]->index);
      if (locks.Holds(m)) continue;
      if (locks.size() == kMaxBlocksLocked) break;
      locks.Acquire(m);
    }
    [[maybe_unused]] const size_t first = i;
    for (; i < j; i++) {
      PageFrame* f = frames[i];
      MmRegion* r = f->owner;
      PageEntry& p = r->pte(f->index);
      USWAP_CHECK(p.state == PageState::kResident && FrameOf(p) == f);
      if (r->pins(f->index)) {
        putback.push_back({f, true});  // unevictable: straight back to active
        continue;
      }
      putback.push_back({f, false});
      if (!(p.flags & kMapped)) continue;
      p.flags &= ~(kMapped | kWriteProtected);
      AppendRange(ranges, r->user_base() + f->index * ps, ps);
      unmapped++;
    }
    Status st = ZapRanges(ranges);
    USWAP_CHECK_MSG(st.ok(), st.ToString().c_str());
#ifdef USWAP_DEBUG_FULL
    for (size_t k = first; k < j; k++) VerifyBlockLocked(frames[k]->owner, frames[k]->index);
#endif
    locks.ReleaseAll();
  }
  // Back on the lists only after the zap: a frame touched since goes to
  // active (the policy saw the MarkAccessed while it was isolated).
  for (auto [f, active] : putback) policy_->Putback(f, active);
  Count(vmstat_.pgdeactivate, unmapped);
  NotifyReclaimProgress();
  return unmapped;
}

size_t MemoryNode::ShrinkInactiveLocked(size_t n, ScanCount* count) {
  thread_local std::vector<PageFrame*> victims;  // see RefillInactiveLocked
  victims.clear();
  policy_->IsolateVictims(n, victims);
  if (victims.empty()) return 0;
  if (count) count->scanned += victims.size();
  bool swap_full = false;
  return ShrinkPageListLocked(victims, &swap_full);
}

size_t MemoryNode::ShrinkPageListLocked(std::vector<PageFrame*>& victims, bool* swap_full_out) {
  Count(vmstat_.pgscan, victims.size());
  std::sort(victims.begin(), victims.end(), ByPage);

  size_t freed = 0;
  thread_local std::vector<WriteItem> writes;  // see RefillInactiveLocked
  writes.clear();
  bool swap_full = false;
  const size_t ps = devices_->page_size();
  // Dirty pages are copied out under their block lock into one buffer, in
  // order, so that runs of contiguous slots are contiguous in memory too.
  uint8_t* copies = reinterpret_cast<uint8_t*>(ThreadScratch(0, victims.size() * ps));
  auto copy_of = [&](size_t k) { return copies + k * ps; };
  size_t i = 0;
  while (i < victims.size()) {
    MmRegion* r = victims[i]->owner;
    // The block, remembered: once Flush() frees a victim's frame another
    // thread may reuse it, so victims[] must not be read after that.
    const uint64_t block = r->block_start(victims[i]->index);
    MutexLock l(&r->block_lock(block));
    FrameReleaser release(this, r);
    const uint64_t end = r->block_end(block);
    for (; i < victims.size() && victims[i]->owner == r && victims[i]->index < end; i++) {
      PageFrame* f = victims[i];
      PageEntry& p = r->pte(f->index);
      USWAP_CHECK(p.state == PageState::kResident && FrameOf(p) == f);
      if ((p.flags & kMapped) || r->pins(f->index) || (p.flags & kWriteback)) {
        Count(vmstat_.pgrotated);
        policy_->Putback(f, true);
        continue;
      }
      // The page leaves without I/O, in state `to`: its frame goes when the
      // block's frames are released (after the hole is punched).
      auto drop = [&](PageState to, std::atomic<uint64_t>& counter) {
        p.state = to;
        p.flags = 0;
        release.Add(f->index);
        Count(counter);
        Count(vmstat_.pgsteal);
        freed++;
      };
      if (!(p.flags & kDirty) && p.entry()) {
        // Clean: the slot still holds these bytes. While the compressed
        // pool has room it takes a copy too: pages read back from disk by
        // a read-mostly workload would otherwise never reach it. Not under
        // pressure (free frames below min: a direct reclaim), when the
        // frame is wanted at once and the copy would take budget back.
        if (zswap_ && frames_.free_frames() >= frames_.watermarks().min &&
            zswap_->WantsCopy(p.entry())) {
          uint8_t* copy = copy_of(writes.size());
          Status cst = r->CopyOut(f->index, 1, copy);
          USWAP_CHECK_MSG(cst.ok(), cst.ToString().c_str());
          p.flags |= kWriteback;
          swap_cache_.Add(p.entry(), SwapCache::IoKind::kWrite);
          writes.push_back({r, f->index, f, p.entry(), copy, true, p.sum});
          continue;
        }
        drop(PageState::kSwapped, vmstat_.clean_drops);
        continue;
      }
      uint8_t* copy = copy_of(writes.size());
      Status cst = r->CopyOut(f->index, 1, copy);
      USWAP_CHECK_MSG(cst.ok(), cst.ToString().c_str());
      uint64_t word = 0;
      if (MmRegion::IsSameFilled(copy, ps, &word)) {
        FreeSlotLocked(p);
        if (word == 0) {
          // All zero: no slot needed; the next touch is a zero fault.
          drop(PageState::kNone, vmstat_.zero_drops);
        } else {
          // One word repeated: the entry keeps the word instead of a slot.
          drop(PageState::kFilled, vmstat_.same_filled_drops);
          p.set_fill(word);
        }
        continue;
      }
      // Dirty: needs a slot. Slots come from the reclaiming thread's current
      // cluster, so pages isolated together land contiguously on disk.
      std::optional<SwapEntry> e = swap_full ? std::nullopt : devices_->Allocate();
      if (!e) {
        swap_full = true;
        policy_->Putback(f, false);
        continue;
      }
      FreeSlotLocked(p);  // stale copy of an older version
      p.set_entry(*e);
      p.flags |= kWriteback;
      swap_cache_.Add(*e, SwapCache::IoKind::kWrite);
      writes.push_back({r, f->index, f, *e, copy});
    }
    release.Flush();
#ifdef USWAP_DEBUG_FULL
    VerifyBlockLocked(r, block);
#endif
  }
  if (!writes.empty()) WritePages(writes, freed);
  NotifyReclaimProgress();
  if (swap_full) *swap_full_out = true;
  return freed;
}

Status MemoryNode::PageOutLocked(MmRegion* r, uint64_t first, uint64_t end) {
  // Victims go to shrink_page_list a block at a time (64 pages): the
  // copies of dirty pages live in the calling thread's reclaim buffer.
  std::vector<PageFrame*> victims;
  std::vector<iovec> ranges;
  const size_t ps = devices_->page_size();
  bool swap_full = false;
  for (uint64_t b = r->block_start(first); b < end; b += MmRegion::kBlockPages) {
    if (!r->block_exists(b)) continue;  // never touched: nothing resident
    const uint64_t lo = std::max(b, first), hi = std::min(r->block_end(b), end);
    victims.clear();
    ranges.clear();
    {
      // Isolated and unmapped under the block lock, as RefillInactiveLocked
      // does: a touch from now on is a minor fault that maps the page again
      // and makes shrink_page_list keep it.
      MutexLock l(&r->block_lock(b));
      for (uint64_t i = lo; i < hi; i++) {
        PageEntry& p = r->pte(i);
        if (p.state != PageState::kResident || r->pins(i) || (p.flags & kWriteback)) continue;
        if (!policy_->Isolate(FrameOf(p))) continue;  // another reclaimer has it
        victims.push_back(FrameOf(p));
        if (!(p.flags & kMapped)) continue;
        p.flags &= ~(kMapped | kWriteProtected);
        AppendRange(ranges, r->user_base() + i * ps, ps);
      }
      Status st = ZapRanges(ranges);
      USWAP_CHECK_MSG(st.ok(), st.ToString().c_str());
#ifdef USWAP_DEBUG_FULL
      VerifyBlockLocked(r, b);
#endif
    }
    if (!victims.empty()) ShrinkPageListLocked(victims, &swap_full);
  }
  if (swap_full)
    return Status::NoSpace("no free swap slot for a dirty page; it stays in RAM (nothing lost)");
  return Status::OK();
}

void MemoryNode::WritePages(std::vector<WriteItem>& items, size_t& freed) {
  // Dirty pages go down the tiers; clean copies only to the compressed
  // tier (the disk has them). Per-thread lists: see RefillInactiveLocked.
  thread_local std::vector<SwapPage> pw, dirty, copies;
  thread_local std::vector<size_t> dirty_at, copy_at;
  dirty.clear();
  copies.clear();
  dirty_at.clear();
  copy_at.clear();
  for (size_t k = 0; k < items.size(); k++) {
    SwapPage p;
    p.entry = items[k].entry;
    p.buf = const_cast<uint8_t*>(items[k].copy);
    (items[k].clean ? copies : dirty).push_back(p);
    (items[k].clean ? copy_at : dirty_at).push_back(k);
  }
  TestPoint("writeback_before_io");
  StorePages(dirty);
  if (!copies.empty()) zswap_->StoreCopies(copies);
  pw.resize(items.size());
  for (size_t k = 0; k < dirty.size(); k++) pw[dirty_at[k]] = dirty[k];
  for (size_t k = 0; k < copies.size(); k++) {
    SwapPage& p = pw[copy_at[k]] = copies[k];
    if (p.status == kPassDown) {  // not taken: the disk copy is the page's
      p.status = 0;
      p.tier = static_cast<uint8_t>(ntiers_ - 1);
      p.sum = items[copy_at[k]].sum;
    } else {
      p.tier = 0;
    }
  }

  size_t i = 0;
  while (i < items.size()) {
    MmRegion* r = items[i].region;
    MutexLock l(&r->block_lock(items[i].index));
    FrameReleaser release(this, r);
    const uint64_t end = r->block_end(items[i].index);
    for (; i < items.size() && items[i].region == r && items[i].index < end; i++) {
      WriteItem& w = items[i];
      PageEntry& p = r->pte(w.index);
      USWAP_CHECK(FrameOf(p) == w.frame && (p.flags & kWriteback) && p.entry() == w.entry);
      p.flags &= ~kWriteback;
      const int error = pw[i].status;
      if (error) {
        // cf. end_swap_bio_write(): the slot is bad; keep the page, dirty,
        // and let a later pass put it on another slot.
        Count(vmstat_.write_errors);
        Log(LogLevel::kError, "swap write failed on area %u slot %llu (%s); slot marked bad",
            w.entry.type(), static_cast<unsigned long long>(w.entry.offset()),
            std::strerror(error > 0 ? error : EIO));
        for (unsigned t = 0; t < ntiers_; t++) tiers_[t]->Invalidate(w.entry);
        (void)devices_->MarkBad(w.entry);
        p.clear_entry();
        p.flags |= kDirty;
        swap_cache_.Complete(w.entry, false);
        policy_->Putback(w.frame, false);
        continue;
      }
      if (!FromRamTier(pw[i])) Count(w.clean ? vmstat_.clean_drops : vmstat_.pswpout);
      p.flags &= ~kDirty;  // the slot (or the tier holding it) has exactly these bytes
      p.sum = pw[i].sum;
      if ((p.flags & kMapped) || r->pins(w.index)) {
        // Touched during write-back (mapped write-protected, so unchanged):
        // it stays resident as a clean page that owns its slot.
        swap_cache_.Complete(w.entry, true);
        policy_->Putback(w.frame, true);
        continue;
      }
      p.state = PageState::kSwapped;
      p.flags = 0;
      release.Add(w.index);
      Count(vmstat_.pgsteal);
      freed++;
      swap_cache_.Complete(w.entry, true);
    }
    release.Flush();
#ifdef USWAP_DEBUG_FULL
    VerifyBlockLocked(r, r->block_start(items[i - 1].index));
#endif
  }
}

size_t MemoryNode::ReclaimLocked(size_t n, ScanCount* count) {
  size_t target = policy_->DeactivateTarget();
  if (target) RefillInactiveLocked(std::min<size_t>(std::max(target, n), 4 * n), count);
  size_t freed = 0;
  // A pass may free less than it isolated (rotated pages); retry a little.
  for (int pass = 0; pass < 4 && freed < n; pass++) {
    size_t got = ShrinkInactiveLocked(n - freed, count);
    freed += got;
    if (got == 0) {
      // Nothing evictable on the inactive side: age more and try once more.
      if (RefillInactiveLocked(n, count) == 0) break;
    }
  }
  TestPoint("reclaim_done");
  return freed;
}

bool MemoryNode::NeedsBalance() const {
  return frames_.free_frames() < frames_.watermarks().high || (zswap_ && zswap_->NeedsWriteback());
}

size_t MemoryNode::BalanceOnce() {
  ReaderLock rl(&regions_mu_);
  size_t total = 0;
  if (zswap_) {
    // The pool first: what it writes back frees budget for frames too.
    // Its objects free whole pages only once their zspages empty, so the
    // pool is compacted as it goes.
    while (zswap_->NeedsWriteback()) {
      const size_t n = zswap_->Writeback(options_.writeback_batch);
      const size_t compacted = zswap_->MaybeCompact();
      if (n == 0 && compacted == 0) break;
    }
  }
  while (frames_.free_frames() < frames_.watermarks().high) {
    size_t want = frames_.watermarks().high - frames_.free_frames();
    size_t got = ReclaimLocked(std::min<size_t>(want, options_.writeback_batch));
    if (got == 0) break;
    total += got;
  }
  if (MemCgroup* group = options_.group) {
    // This member's share of the group's shortfall (MemCgroup::RequestReclaim).
    uint64_t want = (group->TakeRequest() + frames_.frame_cost() - 1) / frames_.frame_cost();
    if (want > 0) Count(vmstat_.group_reclaim_requests);
    while (want > 0) {
      const size_t batch = std::min<uint64_t>(want, options_.writeback_batch);
      size_t got = ReclaimLocked(batch);
      // Nothing resident left to evict: the share is in the compressed
      // pool, which gives pages back by writing objects to their slots (a
      // charge's last resort too, ChargeFramesLocked). Otherwise a member
      // whose memory is all pool would hold the group's budget while
      // another member's charges overshoot it.
      if (got == 0 && zswap_) got = zswap_->Shrink(batch);
      if (got == 0) break;
      total += got;
      want -= std::min<uint64_t>(want, got);
    }
  }
  return total;
}

// ---------------------------------------------------------------------------
// Swap-in

// ---------------------------------------------------------------------------
// Regions

void MemoryNode::AddRegion(MmRegion* r) {
  WriterLock rl(&regions_mu_);
  regions_[reinterpret_cast<uintptr_t>(r->user_base())] = r;
}

MmRegion* MemoryNode::FindRegionLocked(uintptr_t addr) const {
  auto it = regions_.upper_bound(addr);
  if (it == regions_.begin()) return nullptr;
  --it;
  return it->second->Contains(addr) ? it->second : nullptr;
}

std::vector<MmRegion*> MemoryNode::RegionsLocked() const {
  std::vector<MmRegion*> out;
  for (const auto& [base, r] : regions_) out.push_back(r);
  return out;
}

void MemoryNode::ReleaseRegion(MmRegion* r, const std::function<void()>& detach) {
  r->dying.store(true);
  WriterLock rl(&regions_mu_);
  regions_.erase(reinterpret_cast<uintptr_t>(r->user_base()));
  if (detach) detach();
  for (uint64_t b = 0; b < r->pages(); b += MmRegion::kBlockPages) {
    if (!r->block_exists(b)) continue;  // never touched: nothing to free
    MutexLock l(&r->block_lock(b));
    for (uint64_t i = b; i < r->block_end(b); i++) {
      PageEntry& p = r->pte(i);
      USWAP_CHECK(p.state != PageState::kSwapIn && !(p.flags & kWriteback));
      FreeSlotLocked(p);
      if (p.state == PageState::kResident) ReleaseFrame(p);
      MunlockLocked(r, i);
      p.state = PageState::kNone;
      p.flags = 0;
      p.shadow = 0;
    }
  }
#ifdef USWAP_DEBUG_FULL
  VerifyQuiescent();
#endif
}

Status MemoryNode::UnuseAreaLocked(MmRegion* r, unsigned type) {
  thread_local std::vector<SwapInPage> todo;
  for (uint64_t b = 0; b < r->pages(); b += MmRegion::kBlockPages) {
    if (!r->block_exists(b)) continue;  // never touched: no slot
    const uint64_t end = r->block_end(b);
    for (int attempt = 0;; attempt++) {
      // Pass 1 (locked): clean copies lose their slot; count what must be read.
      SwapEntry wait_on;
      uint64_t need = 0;
      {
        MutexLock l(&r->block_lock(b));
        for (uint64_t i = b; i < end; i++) {
          PageEntry& p = r->pte(i);
          if (!p.entry() || p.entry().type() != type) continue;
          if (p.state == PageState::kSwapIn || (p.flags & kWriteback)) {
            if (swap_cache_.Ref(p.entry())) wait_on = p.entry();
            break;
          }
          if (p.state == PageState::kResident) {
            FreeSlotLocked(p);
            p.flags |= kDirty;
          } else if (p.state == PageState::kSwapped) {
            need++;
          }
        }
      }
      if (wait_on) {
        swap_cache_.Wait(wait_on);
        continue;
      }
      if (need == 0) break;
      // Pass 2: charge frames (may push other pages out to other areas),
      // then read every page of this block still on the area, through the
      // same swap-in routine as a fault (unmapped, slot freed: cf.
      // unuse_pte()).
      if (!ChargeFramesLocked(need, Charge::kWithinBudget))
        return Status::NoSpace(
            "the pages coming back do not fit in the RAM budget (" +
            std::to_string(frames_.budget()) + " pages) and the other swap areas have " +
            std::to_string(devices_->free_slots()) + " free slot(s) for the pages they displace");
      todo.clear();
      uint8_t* copies = reinterpret_cast<uint8_t*>(ThreadScratch(0, need * devices_->page_size()));
      {
        MutexLock l(&r->block_lock(b));
        for (uint64_t i = b; i < end && todo.size() < need; i++) {
          PageEntry& p = r->pte(i);
          if (p.state != PageState::kSwapped || p.entry().type() != type) continue;
          SwapInPage& page = todo.emplace_back();
          MarkSwapInLocked(r, i, &page);
          page.dirty = true;
        }
      }
      if (todo.size() < need) {
        frames_.Uncharge(need - todo.size());
        NotifyReclaimProgress();
      }
      if (todo.empty()) continue;
      (void)SwapInPagesLocked(r, todo, copies, todo.size(), 0, nullptr);
      for (const SwapInPage& page : todo)
        if (page.result != SwapInPage::Result::kOk)
          return Status::IOError("swapoff: cannot read slot " +
                                 std::to_string(page.entry.offset()) + " back; the area stays on");
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Discard (cf. madvise_dontneed_free() on anonymous memory)

Status MemoryNode::DiscardLocked(MmRegion* r, uint64_t first, uint64_t end) {
  Status result;
  uint64_t b = r->block_start(first);
  while (b < end) {
    const uint64_t lo = std::max(b, first), hi = std::min(r->block_end(b), end);
    if (!r->block_exists(b)) {  // never touched: already zeros
      b += MmRegion::kBlockPages;
      continue;
    }
    SwapEntry wait_on;
    {
      MutexLock l(&r->block_lock(b));
      // Pages with I/O in flight are waited for first (their slot and frame
      // belong to the I/O until it completes).
      for (uint64_t i = lo; i < hi && !wait_on; i++) {
        PageEntry& p = r->pte(i);
        if ((p.state == PageState::kSwapIn || (p.flags & kWriteback)) && swap_cache_.Ref(p.entry()))
          wait_on = p.entry();
      }
      for (uint64_t i = lo; i < hi && !wait_on; i++) {
        PageEntry& p = r->pte(i);
        FreeSlotLocked(p);
        if (p.state == PageState::kResident) {
          // Zeroed in place: the mapping (if any) stays and now shows zeros.
          // The frame stays with its list (another reclaimer may hold it
          // isolated); reclaim frees it as a zero page.
          p.flags = (p.flags & (kMapped | kWriteProtected)) | kDirty;
          Status st = r->ZeroFill(i, 1);
          if (!st.ok() && result.ok())
            result = st.WithContext("discard: page " + std::to_string(i) + " keeps its contents");
          continue;
        }
        if (p.state == PageState::kPoisoned) (void)r->Zap(i, 1);  // clears the poison marker
        p.state = PageState::kNone;
        p.flags = 0;
        p.shadow = 0;  // discarded: a later touch is a new page, not a refault
      }
    }
    if (wait_on) {
      swap_cache_.Wait(wait_on);
      continue;  // same block again
    }
    b += MmRegion::kBlockPages;
  }
  return result;
}

// ---------------------------------------------------------------------------
// Consistency checks (USWAP_DEBUG_FULL)

void MemoryNode::VerifyBlockLocked(MmRegion* r, uint64_t index) {
  const uint64_t b = r->block_start(index), e = r->block_end(index);
  r->block_lock(b).AssertHeld();
  const size_t ps = devices_->page_size();
  // The kernel's view of the user PTEs: bit 63 of a pagemap entry = present.
  uint64_t pm[MmRegion::kBlockPages] = {};
  bool have_pm = false;
  {
    // One per process, opened at first use: "self" is resolved when the
    // file is opened, so a fork child (run/fork.cc) opens its own rather
    // than read its parent's PTEs.
    struct Pagemap {
      int fd;
      pid_t pid;
    };
    static std::atomic<Pagemap*> opened{nullptr};
    Pagemap* pm_file = opened.load(std::memory_order_acquire);
    if (!pm_file || pm_file->pid != ::getpid()) {
      auto* mine = new Pagemap{::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), ::getpid()};
      if (opened.compare_exchange_strong(pm_file, mine, std::memory_order_acq_rel)) {
        pm_file = mine;  // the parent's entry (in a child) is left as it was: not ours to close
      } else {
        if (mine->fd >= 0) ::close(mine->fd);
        delete mine;  // another thread of this process opened it first
      }
    }
    const int pagemap = pm_file->fd;
    const off_t off = static_cast<off_t>(r->user_addr(b) / ps * sizeof(uint64_t));
    have_pm = pagemap >= 0 && ::pread(pagemap, pm, (e - b) * sizeof(uint64_t), off) ==
                                  static_cast<ssize_t>((e - b) * sizeof(uint64_t));
  }
  for (uint64_t i = b; i < e; i++) {
    const PageEntry& p = r->pte(i);
    auto fail = [&](const char* what) {
      Log(LogLevel::kError, "page %llu of region %p: state %d flags 0x%x entry %llx: %s",
          static_cast<unsigned long long>(i), static_cast<void*>(r->user_base()),
          static_cast<int>(p.state), p.flags, static_cast<unsigned long long>(p.entry().value()),
          what);
      USWAP_CHECK_MSG(false, what);
    };
    if (have_pm && (pm[i - b] >> 63) && !(p.state == PageState::kResident && (p.flags & kMapped)))
      fail("a user PTE is present on a page the page table does not call mapped");
    if (p.state == PageState::kResident && p.frame == 0) fail("a resident page has a frame");
    if (p.state == PageState::kPoisoned && p.frame) fail("no frame or shadow on poisoned pages");
    if (p.state == PageState::kResident && (FrameOf(p)->owner != r || FrameOf(p)->index != i))
      fail("frame points back");
    if (p.flags & ~(kMapped | kDirty | kWriteback | kReadahead | kWriteProtected))
      fail("unknown flags");
    if (p.state != PageState::kResident && p.flags) fail("flags only on resident pages");
    if ((p.flags & kWriteProtected) && !(p.flags & kMapped)) fail("write-protected implies mapped");
    if (p.state == PageState::kResident && !(p.flags & kDirty) && !p.entry())
      fail("a clean resident page owns a slot");
    if ((p.flags & kWriteback) && !swap_cache_.Contains(p.entry()))
      fail("write-back registered in the swap cache");
    if (p.state == PageState::kSwapIn && !swap_cache_.Contains(p.entry()))
      fail("swap-in registered in the swap cache");
    if ((p.state == PageState::kSwapped || p.state == PageState::kSwapIn) && !p.entry())
      fail("a swapped page has a slot");
    if ((p.state == PageState::kNone || p.state == PageState::kPoisoned ||
         p.state == PageState::kFilled) &&
        p.entry())
      fail("no slot on empty, poisoned or same-filled pages");
    if (p.state == PageState::kFilled && p.fill() == 0)
      fail("a same-filled page's word is not zero (zero pages are kNone)");
    if (p.entry()) {
      SwapArea* a = devices_->area(p.entry().type());
      if (!a || a->Count(p.entry().offset()) != 1) fail("the slot is in use exactly once");
    }
  }
}

void MemoryNode::VerifyQuiescent() {
  uint64_t resident = 0, slots = 0;
  for (const auto& [base, r] : regions_) {
    for (uint64_t b = 0; b < r->pages(); b += MmRegion::kBlockPages) {
      if (!r->block_exists(b)) continue;
      MutexLock l(&r->block_lock(b));
      VerifyBlockLocked(r, b);
      for (uint64_t i = b; i < r->block_end(b); i++) {
        const PageEntry& p = r->pte(i);
        USWAP_CHECK_MSG(p.state != PageState::kSwapIn && !(p.flags & kWriteback),
                        "no I/O in flight on a quiescent node");
        resident += p.state == PageState::kResident;
        slots += p.entry() ? 1 : 0;
      }
    }
  }
  ReclaimPolicyStats ps = policy_->Stats();
  USWAP_CHECK_MSG(frames_.charged() == resident, "charged frames == resident pages");
  USWAP_CHECK_MSG(ps.active + ps.inactive == resident,
                  "every resident page is on exactly one policy list");
  USWAP_CHECK_MSG(swap_cache_.size() == 0, "no swap-cache entry on a quiescent node");
  uint64_t inuse = 0;
  for (const SwapDeviceInfo& d : devices_->List()) inuse += d.inuse_pages;
  USWAP_CHECK_MSG(inuse == slots, "slots in use == pages owning a slot");
}

uint64_t MemoryNode::metadata_bytes() {
  ReaderLock rl(&regions_mu_);
  uint64_t n = 0;
  for (const auto& [base, r] : regions_) n += r->metadata_bytes();
  return n + frames_.descriptor_bytes();
}

}  // namespace uswap
