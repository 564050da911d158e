#include "mm/zswap.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "base/clock.h"
#include "base/log.h"
#include "io/page_buffer.h"
#include "mm/page_io.h"
#include "mm/vmstat.h"

namespace uswap {

namespace {
// The adaptive share (zswap.h): a period of loads, the step, the bounds.
constexpr uint32_t kPeriodLoads = 2048;
constexpr unsigned kStepDivisor = 32;
constexpr unsigned kMinPercent = 5, kMaxPercent = 90, kStartPercent = 75;
// Above this share of poorly compressing pages (in 1/1024ths), stores probe.
constexpr uint32_t kProbeShare = 950;

void Average(std::atomic<uint64_t>& avg, uint64_t sample) {
  const uint64_t a = avg.load(std::memory_order_relaxed);
  avg.store(a - a / 16 + sample / 16, std::memory_order_relaxed);
}
}  // namespace

Zswap::Zswap(const ZswapOptions& options, std::unique_ptr<Compressor> codec, size_t page_size,
             uint64_t budget_pages, SwapBackend* next, FramePool* frames,
             std::function<void()> wake)
    : options_(options),
      codec_(std::move(codec)),
      page_size_(page_size),
      budget_pages_(budget_pages),
      next_(next),
      frames_(frames),
      wake_(std::move(wake)),
      shards_(new Shard[kShards]),
      // Address space only: the limit never passes 90% of the budget, but
      // a soft-limit overshoot may briefly carry the pool past it.
      pool_(
          page_size, 2 * budget_pages + 1024,
          [this](int64_t delta) {
            pool_pages_.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
            if (delta > 0)
              frames_->ChargeMetadata(static_cast<uint64_t>(delta) * page_size_);
            else
              frames_->UnchargeMetadata(static_cast<uint64_t>(-delta) * page_size_);
          },
          // Freed pages kept for reuse count against the pool's limit:
          // a small budget keeps few (the fuzzer found a 5% limit of a
          // 1024-page budget filled by the cache alone).
          std::max<uint64_t>(4, budget_pages / 256)) {
  USWAP_CHECK(codec_ != nullptr && next_ != nullptr && frames_ != nullptr);
  const unsigned pct = options_.max_pool_percent ? options_.max_pool_percent : kStartPercent;
  limit_pages_.store(budget_pages_ * pct / 100);
}

Zswap::~Zswap() {
  {
    // Every region was released: every slot was invalidated.
    MutexLock l(&lru_mu_);
    USWAP_CHECK_MSG(lru_head_ == 0, "compressed objects left at teardown");
  }
  for (unsigned type = 0; type < kMaxSwapFiles; type++) DetachArea(type);
  frames_->UnchargeMetadata(table_bytes_.load());
}

Status Zswap::AttachArea(unsigned type, uint64_t pages) {
  if (type >= kMaxSwapFiles) return Status::InvalidArgument("swap type out of range");
  auto a = std::make_unique<Area>();
  a->slots = pages;
  const uint64_t nchunks = (pages + kChunk - 1) / kChunk;
  a->chunks = ZeroedArray<std::atomic<std::atomic<uint32_t>*>>(nchunks);
  table_bytes_.fetch_add(nchunks * sizeof(void*));
  frames_->ChargeMetadata(nchunks * sizeof(void*));
  areas_[type] = std::move(a);
  return Status::OK();
}

void Zswap::DetachArea(unsigned type) {
  Area* a = areas_[type].get();
  if (!a) return;
  const uint64_t nchunks = (a->slots + kChunk - 1) / kChunk;
  uint64_t bytes = nchunks * sizeof(void*);
  for (uint64_t c = 0; c < nchunks; c++)
    if (std::atomic<uint32_t>* chunk = a->chunks[c].load()) {
      for (uint32_t i = 0; i < kChunk; i++) {
        const uint32_t v = chunk[i].load(std::memory_order_relaxed);
        USWAP_CHECK_MSG(v == 0 || (v & kGhost), "a compressed object outlived its swap area");
      }
      UnmapZeroedPages(chunk, kChunkBytes);
      bytes += kChunkBytes;
    }
  table_bytes_.fetch_sub(bytes);
  frames_->UnchargeMetadata(bytes);
  areas_[type].reset();
}

std::atomic<uint32_t>* Zswap::Cell(SwapEntry e, bool create) {
  Area* a = e.type() < kMaxSwapFiles ? areas_[e.type()].get() : nullptr;
  if (!a || e.offset() >= a->slots) return nullptr;
  std::atomic<std::atomic<uint32_t>*>& slot = a->chunks[e.offset() / kChunk];
  std::atomic<uint32_t>* chunk = slot.load(std::memory_order_acquire);
  if (!chunk && create) {
    // Zero pages (0: nothing stored), not inherited by a fork child.
    auto* fresh = static_cast<std::atomic<uint32_t>*>(MapZeroedPages(kChunkBytes));
    if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
      table_bytes_.fetch_add(kChunkBytes);
      frames_->ChargeMetadata(kChunkBytes);
    } else {
      UnmapZeroedPages(fresh, kChunkBytes);  // another thread made it first
    }
  }
  return chunk ? &chunk[e.offset() % kChunk] : nullptr;
}

const std::atomic<uint32_t>* Zswap::Cell(SwapEntry e) const {
  const Area* a = e.type() < kMaxSwapFiles ? areas_[e.type()].get() : nullptr;
  if (!a || e.offset() >= a->slots) return nullptr;
  const std::atomic<uint32_t>* chunk =
      a->chunks[e.offset() / kChunk].load(std::memory_order_acquire);
  return chunk ? &chunk[e.offset() % kChunk] : nullptr;
}

void Zswap::LruAppend(uint32_t id) {
  Entry* e = entries_.Get(id);
  e->prev = lru_tail_;
  e->next = 0;
  if (lru_tail_)
    entries_.Get(lru_tail_)->next = id;
  else
    lru_head_ = id;
  lru_tail_ = id;
}

void Zswap::LruUnlink(uint32_t id) {
  Entry* e = entries_.Get(id);
  if (e->prev)
    entries_.Get(e->prev)->next = e->next;
  else
    lru_head_ = e->next;
  if (e->next)
    entries_.Get(e->next)->prev = e->prev;
  else
    lru_tail_ = e->prev;
  e->prev = e->next = 0;
}

bool Zswap::OnLru(uint32_t id) {
  const Entry* e = entries_.Get(id);
  return e->prev || e->next || lru_head_ == id;
}

void Zswap::Drop(uint32_t id) {
  Entry* e = entries_.Get(id);
  pool_.Free(e->handle);
  e->handle = 0;
  e->entry = SwapEntry();
  e->seq = 0;
  e->flags.store(0, std::memory_order_relaxed);
  objects_.fetch_sub(1, std::memory_order_relaxed);
  entries_.Free(id);
}

void Zswap::SyncTableCharge() {
  // The entry table (chunks of 256 entries) and the pool's own
  // bookkeeping (handle table, zspage descriptors): charged as they are
  // now. Called after store batches and write-backs, so a shrink is seen
  // a little late (over-charged meanwhile, never under).
  static_assert(sizeof(Entry) <= 32);
  MutexLock l(&charge_mu_);
  const uint64_t now = entries_.allocated_bytes() + pool_.metadata_bytes();
  const uint64_t charged = entries_charged_.load(std::memory_order_relaxed);
  if (now > charged) {
    table_bytes_.fetch_add(now - charged);
    frames_->ChargeMetadata(now - charged);
  } else if (now < charged) {
    table_bytes_.fetch_sub(charged - now);
    frames_->UnchargeMetadata(charged - now);
  }
  entries_charged_.store(now, std::memory_order_relaxed);
}

bool Zswap::PoolFull() {
  const uint64_t pages = pool_pages_.load(std::memory_order_relaxed);
  const uint64_t limit = limit_pages();
  if (full_.load(std::memory_order_relaxed)) {
    if (pages * 100 >= limit * options_.accept_threshold_percent) return true;
    full_.store(false, std::memory_order_relaxed);
    return false;
  }
  if (pages < limit) return false;
  full_.store(true, std::memory_order_relaxed);
  return true;
}

bool Zswap::NeedsWriteback() const {
  const uint64_t pages = pool_pages_.load(std::memory_order_relaxed);
  return pages * 100 > limit_pages() * options_.accept_threshold_percent;
}

bool Zswap::WantsCopy(SwapEntry e) const {
  // Copies fill free room only: 10 points below the write-back mark, so
  // that they never push older objects out (a read-once scan would
  // otherwise replace the pool with itself), while dirty pages still can.
  const unsigned mark =
      options_.accept_threshold_percent > 10 ? options_.accept_threshold_percent - 10 : 0;
  if (pool_pages_.load(std::memory_order_relaxed) * 100 >= limit_pages() * mark) return false;
  // Mostly incompressible data: a copy would cost a compression for nothing.
  if (poor_share_.load(std::memory_order_relaxed) >= 512) return false;
  const std::atomic<uint32_t>* cell = Cell(e);
  const uint32_t v = cell ? cell->load(std::memory_order_relaxed) : 0;
  return v == 0 || ((v & kGhost) && v != kPoor);
}

void Zswap::StoreImpl(std::span<SwapPage> pages, bool on_disk) {
  const size_t ps = page_size_;
  uint8_t* dst = reinterpret_cast<uint8_t*>(ThreadScratch(2, ps));
  bool stored_any = false;
  for (SwapPage& page : pages) {
    if (page.status != kPassDown) continue;
    const uint32_t seq = evict_seq_.fetch_add(1, std::memory_order_relaxed);
    if (PoolFull()) {
      // To disk; had the pool been larger it would have stayed: a ghost
      // (where the slot table has a cell already: no memory spent on it).
      Count(rejected_full_);
      if (std::atomic<uint32_t>* cell = Cell(page.entry, false)) {
        MutexLock l(&ShardOf(page.entry).mu);
        cell->store(NextGhost(), std::memory_order_relaxed);
      }
      continue;
    }
    // The share of pages that compress poorly (1/64 weight, in 1/1024ths).
    // When nearly all do (incompressible data), only one page in 16 is
    // tried — a probe that notices when the data changes — and the others
    // go straight to disk: the rejection path then costs nothing.
    const uint32_t poor = poor_share_.load(std::memory_order_relaxed);
    if (poor >= kProbeShare && probe_.fetch_add(1, std::memory_order_relaxed) % 16 != 0) {
      Count(rejected_poor_);
      continue;
    }
    const size_t n =
        codec_->Compress(page.buf, ps, dst, std::min(options_.threshold, pool_.max_object()));
    poor_share_.store(poor - poor / 64 + (n == 0 ? 1024 / 64 : 0), std::memory_order_relaxed);
    if (n == 0) {
      // Remembered where the slot table has a cell (no memory spent on
      // it), so that clean copies of it are not offered again.
      Count(rejected_poor_);
      if (std::atomic<uint32_t>* cell = Cell(page.entry, false)) {
        MutexLock l(&ShardOf(page.entry).mu);
        cell->store(kPoor, std::memory_order_relaxed);
      }
      continue;
    }
    if (!Insert(page.entry, dst, n, seq, on_disk ? kReferenced | kOnDisk : kReferenced)) {
      Count(rejected_full_);
      continue;
    }
    page.sum = options_.checksums ? PageChecksum(page.buf, ps) : 0;
    page.status = 0;
    Count(stored_);
    stored_any = true;
  }
  if (stored_any) SyncTableCharge();
  if (NeedsWriteback() && wake_) wake_();
}

bool Zswap::Insert(SwapEntry entry, const uint8_t* obj, size_t n, uint32_t seq, uint32_t flags) {
  std::atomic<uint32_t>* cell = Cell(entry, true);
  USWAP_CHECK_MSG(cell != nullptr, "zswap: store to a slot of no attached area");
  Result<uint64_t> handle = pool_.Store(obj, n);
  if (!handle.ok()) return false;
  const uint32_t id = entries_.Alloc();
  USWAP_CHECK(id < kGhost);
  Entry* e = entries_.Get(id);
  e->handle = *handle;
  e->entry = entry;
  e->seq = seq;
  e->flags.store(flags, std::memory_order_relaxed);
  objects_.fetch_add(1, std::memory_order_relaxed);
  MutexLock l(&ShardOf(entry).mu);
  const uint32_t old = cell->load(std::memory_order_relaxed);
  USWAP_CHECK_MSG(old == 0 || (old & kGhost), "zswap: store over a live object");
  cell->store(id, std::memory_order_relaxed);
  MutexLock ll(&lru_mu_);
  LruAppend(id);
  return true;
}

size_t Zswap::CopyObject(SwapEntry e, uint8_t* out, size_t cap) {
  const std::atomic<uint32_t>* cell = Cell(e);
  if (!cell) return 0;
  size_t got = 0;
  MutexLock l(&ShardOf(e).mu);
  const uint32_t v = cell->load(std::memory_order_relaxed);
  if (v == 0 || (v & kGhost)) return 0;  // kPoor has the ghost bit too
  pool_.Access(entries_.Get(v)->handle, [&](const uint8_t* src, size_t n) {
    if (n <= cap) {
      std::memcpy(out, src, n);
      got = n;
    }
  });
  return got;
}

bool Zswap::StoreObject(SwapEntry e, const uint8_t* obj, size_t n) {
  if (n == 0 || n > pool_.max_object() || PoolFull()) return false;
  const uint32_t seq = evict_seq_.fetch_add(1, std::memory_order_relaxed);
  if (!Insert(e, obj, n, seq, kReferenced)) return false;
  Count(copied_in_);
  SyncTableCharge();
  if (NeedsWriteback() && wake_) wake_();
  return true;
}

bool Zswap::Decompress(const uint8_t* obj, size_t n, uint8_t* page) const {
  return codec_->Decompress(obj, n, page, page_size_);
}

void Zswap::Load(std::span<SwapPage> pages) {
  const size_t ps = page_size_;
  const uint64_t step = budget_pages_ / kStepDivisor;
  for (SwapPage& page : pages) {
    if (page.status != kPassDown) continue;
    std::atomic<uint32_t>* cell = Cell(page.entry, false);
    if (!cell) continue;
    bool ok = false, hit = false, near_pool = false, near_disk = false;
    {
      MutexLock l(&ShardOf(page.entry).mu);
      const uint32_t v = cell->load(std::memory_order_relaxed);
      if (v & kGhost) {
        // Written back: a disk load the pool would have saved, had it held
        // the objects a step of frames holds (its density now).
        const uint64_t objects = objects_.load(std::memory_order_relaxed);
        const uint64_t pool_pages =
            std::max<uint64_t>(1, pool_pages_.load(std::memory_order_relaxed));
        const uint64_t step_objects = std::max<uint64_t>(step, step * objects / pool_pages);
        near_disk = ((wb_seq_.load(std::memory_order_relaxed) - v) & ~kGhost) <= step_objects;
      } else if (v != 0) {
        hit = true;
        Entry* e = entries_.Get(v);
        const int64_t t0 = MonotonicNs();
        pool_.Access(e->handle, [&](const uint8_t* src, size_t n) {
          ok = codec_->Decompress(src, n, page.buf, ps);
        });
        Average(pool_load_ns_, static_cast<uint64_t>(MonotonicNs() - t0));
        e->flags.fetch_or(kReferenced, std::memory_order_relaxed);
        near_pool = evict_seq_.load(std::memory_order_relaxed) - e->seq <= step;
      }
    }
    if (hit) {
      page.status =
          ok && (!options_.checksums || PageChecksum(page.buf, ps) == page.sum) ? 0 : EBADMSG;
      if (!ok) Count(corrupt_);
      if (page.status == 0) Count(loaded_);
    }
    NoteLoad(near_pool, near_disk);
  }
}

void Zswap::NoteLoad(bool near_pool, bool near_disk) {
  if (options_.max_pool_percent) return;  // a fixed share
  if (near_pool) near_pool_.fetch_add(1, std::memory_order_relaxed);
  if (near_disk) near_disk_.fetch_add(1, std::memory_order_relaxed);
  if (period_loads_.fetch_add(1, std::memory_order_relaxed) + 1 == kPeriodLoads) Adapt();
}

void Zswap::NoteDiskRead(uint64_t ns, size_t pages) {
  // A fault waits for its whole batch: the batch's time is what a pool
  // hit would have saved it.
  if (pages) Average(disk_read_ns_, ns);
}

void Zswap::Adapt() {
  const uint64_t pool = near_pool_.exchange(0, std::memory_order_relaxed);
  const uint64_t disk = near_disk_.exchange(0, std::memory_order_relaxed);
  period_loads_.store(0, std::memory_order_relaxed);
  const uint64_t t_pool = pool_load_ns_.load(std::memory_order_relaxed);
  const uint64_t t_disk = disk_read_ns_.load(std::memory_order_relaxed);
  // What a step more pool saves: disk reads that become pool loads. What
  // a step more resident frames save: pool hits that become no fault.
  const uint64_t gain = disk * (t_disk > t_pool ? t_disk - t_pool : 0);
  const uint64_t loss = pool * (uint64_t{options_.fault_overhead_us} * 1000 + t_pool);
  const uint64_t step = budget_pages_ / kStepDivisor;
  const uint64_t lo = budget_pages_ * kMinPercent / 100, hi = budget_pages_ * kMaxPercent / 100;
  uint64_t limit = limit_pages();
  if (gain * 4 > loss * 5)
    limit = std::min(hi, limit + step);
  else if (loss * 4 > gain * 5)
    limit = limit > lo + step ? limit - step : lo;
  limit_pages_.store(limit, std::memory_order_relaxed);
  if (NeedsWriteback() && wake_) wake_();
}

void Zswap::Invalidate(SwapEntry e) {
  std::atomic<uint32_t>* cell = Cell(e, false);
  if (!cell) return;
  Shard& sh = ShardOf(e);
  MutexLock l(&sh.mu);
  const uint32_t v = cell->load(std::memory_order_relaxed);
  if (v == 0) return;
  cell->store(0, std::memory_order_relaxed);
  if (v & kGhost) return;
  Entry* en = entries_.Get(v);
  if (en->flags.load(std::memory_order_relaxed) & kWriteback) {
    // The write to this slot is in flight: the slot must not be freed
    // (and reused) before it landed. Its completion clears kWriteback and
    // leaves the entry to us.
    en->flags.fetch_or(kInvalid, std::memory_order_relaxed);
    while (en->flags.load(std::memory_order_relaxed) & kWriteback) sh.cv.Wait();
    Drop(v);
    return;
  }
  {
    MutexLock ll(&lru_mu_);
    if (OnLru(v)) LruUnlink(v);  // off it: picked by a write-back walk, or kNoWriteback
  }
  Drop(v);
}

bool Zswap::Holds(SwapEntry e) const {
  const std::atomic<uint32_t>* cell = Cell(e);
  if (!cell) return false;
  const uint32_t v = cell->load(std::memory_order_relaxed);
  return v != 0 && !(v & kGhost);
}

size_t Zswap::Writeback(size_t n) {
  const size_t ps = page_size_;
  struct Victim {
    uint32_t id;
    uint32_t seq;
    SwapEntry entry;
  };
  thread_local std::vector<Victim> victims;
  thread_local std::vector<SwapPage> batch;
  thread_local std::vector<uint32_t> batch_ids;
  victims.clear();
  {
    // The oldest objects, each after its second chance (cf. the shrinker's
    // LRU walk rotating referenced entries). Taken off the list here: an
    // object under write-back is on no list.
    // Every entry is rotated at most once: the walk ends when it has its
    // victims or has seen the whole list (objects_) and n more.
    MutexLock ll(&lru_mu_);
    const uint64_t limit = objects_.load(std::memory_order_relaxed) + n;
    uint64_t walked = 0;
    while (lru_head_ && victims.size() < n && walked < limit) {
      const uint32_t id = lru_head_;
      Entry* e = entries_.Get(id);
      walked++;
      LruUnlink(id);
      if (e->flags.fetch_and(static_cast<uint8_t>(~kReferenced), std::memory_order_relaxed) &
          kReferenced) {
        LruAppend(id);
        continue;
      }
      victims.push_back({id, e->seq, e->entry});
    }
  }
  if (victims.empty()) return 0;
  std::sort(victims.begin(), victims.end(),
            [](const Victim& a, const Victim& b) { return a.entry.value() < b.entry.value(); });
  uint8_t* bufs = reinterpret_cast<uint8_t*>(ThreadScratch(3, victims.size() * ps));
  batch.clear();
  batch_ids.clear();
  size_t dropped = 0;
  for (const Victim& v : victims) {
    MutexLock l(&ShardOf(v.entry).mu);
    // Invalidated since the walk (the id may even be the slot's next
    // object): not ours any more.
    std::atomic<uint32_t>* cell = Cell(v.entry, false);
    if (cell->load(std::memory_order_relaxed) != v.id || entries_.Get(v.id)->seq != v.seq) continue;
    Entry* e = entries_.Get(v.id);
    if (e->flags.load(std::memory_order_relaxed) & kOnDisk) {
      // A copy of what the slot holds: giving it back needs no I/O.
      Drop(v.id);
      cell->store(NextGhost(), std::memory_order_relaxed);
      Count(written_back_);
      dropped++;
      continue;
    }
    uint8_t* buf = bufs + batch.size() * ps;
    bool ok = false;
    pool_.Access(e->handle, [&](const uint8_t* src, size_t len) {
      ok = codec_->Decompress(src, len, buf, ps);
    });
    if (!ok) {
      // A corrupt object is never written to disk as data; a load of it
      // reports EBADMSG. It stays off the list.
      e->flags.fetch_or(kNoWriteback, std::memory_order_relaxed);
      Count(corrupt_);
      continue;
    }
    e->flags.fetch_or(kWriteback, std::memory_order_relaxed);
    SwapPage& p = batch.emplace_back();
    p.entry = v.entry;
    p.buf = buf;
    batch_ids.push_back(v.id);
  }
  if (batch.empty()) return dropped;
  // Runs of slots go out as one request: the buffers are adjacent in slot order.
  next_->Store(batch);
  size_t done = dropped, failed = 0;
  for (size_t k = 0; k < batch.size(); k++) {
    const SwapPage& p = batch[k];
    const uint32_t id = batch_ids[k];
    Shard& sh = ShardOf(p.entry);
    MutexLock l(&sh.mu);
    Entry* e = entries_.Get(id);
    const uint8_t flags =
        e->flags.fetch_and(static_cast<uint8_t>(~kWriteback), std::memory_order_relaxed);
    if (flags & kInvalid) {
      // Invalidated during the write: its waiter drops the entry and then
      // frees the slot.
      sh.cv.SignalAll();
      continue;
    }
    if (p.status == 0) {
      Drop(id);
      Cell(p.entry, false)->store(NextGhost(), std::memory_order_relaxed);
      Count(written_back_);
      done++;
    } else {
      // The disk copy failed: the object stays (the page is not lost), off
      // the list, never written back again.
      e->flags.fetch_or(kNoWriteback, std::memory_order_relaxed);
      Count(writeback_errors_);
      if (!failed++)
        Log(LogLevel::kError,
            "zswap: write-back to area %u slot %llu failed (%s); the object stays in the pool",
            p.entry.type(), static_cast<unsigned long long>(p.entry.offset()),
            std::strerror(p.status > 0 ? p.status : EIO));
    }
  }
  if (failed > 1)
    Log(LogLevel::kError, "zswap: %zu write-backs of one batch failed; their objects stay", failed);
  return done;
}

size_t Zswap::MaybeCompact() {
  SyncTableCharge();  // kswapd's turn: write-backs and loads freed zspages
  const ZsPoolStats s = pool_.stats();
  if (s.pool_pages * page_size_ * 10 <= s.payload_bytes * 11) return 0;
  const size_t freed = pool_.Compact();
  SyncTableCharge();
  return freed;
}

size_t Zswap::Shrink(size_t n) {
  const uint64_t before = pool_pages_.load();
  Writeback(n);
  pool_.Compact();
  pool_.TrimCache();
  SyncTableCharge();
  const uint64_t after = pool_pages_.load();
  return before > after ? before - after : 0;
}

ZswapStats Zswap::stats() const {
  ZswapStats s;
  s.stored = stored_.load();
  s.loaded = loaded_.load();
  s.written_back = written_back_.load();
  s.rejected_poor = rejected_poor_.load();
  s.rejected_full = rejected_full_.load();
  s.writeback_errors = writeback_errors_.load();
  s.corrupt = corrupt_.load();
  s.copied_in = copied_in_.load();
  const ZsPoolStats ps = pool_.stats();
  s.objects = ps.objects;
  s.pool_pages = ps.pool_pages;
  s.payload_bytes = ps.payload_bytes;
  s.limit_pages = limit_pages();
  s.table_bytes = table_bytes_.load();
  return s;
}

}  // namespace uswap
