#include "mm/zs_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/check.h"

namespace uswap {

ZsPool::ZsPool(size_t page_size, uint64_t max_pages, std::function<void(int64_t)> on_pages,
               uint64_t max_cached)
    : page_size_(page_size),
      max_pages_(max_pages),
      on_pages_(std::move(on_pages)),
      max_cached_(std::min(max_cached, kMaxCachedPages)) {
  USWAP_CHECK(page_size % kClassStep == 0 && page_size >= 2 * kMinClass);
  USWAP_CHECK(max_pages > 0 && max_pages < (uint64_t{1} << 32));
  void* mem = mmap(nullptr, max_pages_ * page_size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  USWAP_CHECK_MSG(mem != MAP_FAILED, "ZsPool: cannot reserve its address range");
  // Not inherited by a fork() child, which never uses its parent's engine
  // (its calls get Busy; `uswap run` gives it a Space of its own): else
  // every pool page the parent rewrites after the fork stays behind in the
  // child as a private copy, charged to the tree's memory cgroup (10 MiB in
  // each mpfork worker at 9a671f4; doc/run.md). cf. the region's view.
  (void)madvise(mem, max_pages_ * page_size_, MADV_DONTFORK);
  arena_ = static_cast<uint8_t*>(mem);
  for (size_t size = kMinClass; size <= page_size; size += kClassStep) {
    auto c = std::make_unique<SizeClass>();
    c->size = size;
    // The zspage of 1..4 pages whose tail (the part no whole object fits
    // in) is the smallest share; ties go to fewer pages (cf. zsmalloc's
    // get_pages_per_zspage()).
    size_t best_waste_ppm = SIZE_MAX;
    for (uint32_t pages = 1; pages <= 4; pages++) {
      const size_t bytes = pages * page_size;
      const size_t waste_ppm = (bytes % size) * 1000000 / bytes;
      if (waste_ppm < best_waste_ppm) {
        best_waste_ppm = waste_ppm;
        c->pages = pages;
      }
    }
    c->objs_per_zspage = static_cast<uint32_t>(c->pages * page_size / size);
    classes_.push_back(std::move(c));
  }
  USWAP_CHECK(classes_.size() <= 256);  // the class fits the handle's low byte
}

ZsPool::~ZsPool() {
  for (auto& c : classes_) {
    MutexLock l(&c->mu);
    for (ZsPage** list : {&c->partial, &c->full})
      while (ZsPage* z = *list) {
        Unlink(*list, z);
        delete z;
      }
  }
  {
    MutexLock l(&arena_mu_);
    if (on_pages_ && backed_pages_) on_pages_(-static_cast<int64_t>(backed_pages_));
  }
  munmap(arena_, max_pages_ * page_size_);
}

uint8_t* ZsPool::TakeRun(uint32_t pages) {
  MutexLock l(&arena_mu_);
  uint64_t first;
  if (!cached_runs_[pages].empty()) {  // still backed: no charge change
    first = cached_runs_[pages].back();
    cached_runs_[pages].pop_back();
    cached_pages_ -= pages;
    return arena_ + first * page_size_;
  }
  if (!clean_runs_[pages].empty()) {
    first = clean_runs_[pages].back();
    clean_runs_[pages].pop_back();
  } else if (arena_next_ + pages <= max_pages_) {
    first = arena_next_;
    arena_next_ += pages;
  } else {
    return nullptr;
  }
  backed_pages_ += pages;
  if (on_pages_) on_pages_(pages);
  return arena_ + first * page_size_;
}

void ZsPool::TrimCache() {
  MutexLock l(&arena_mu_);
  for (uint32_t len = 1; len <= 4; len++) {
    for (uint32_t first : cached_runs_[len]) {
      (void)madvise(arena_ + uint64_t{first} * page_size_, size_t{len} * page_size_, MADV_DONTNEED);
      clean_runs_[len].push_back(first);
    }
    cached_runs_[len].clear();
  }
  backed_pages_ -= cached_pages_;
  if (on_pages_ && cached_pages_) on_pages_(-static_cast<int64_t>(cached_pages_));
  cached_pages_ = 0;
}

void ZsPool::GiveRun(uint8_t* mem, uint32_t pages) {
  const auto first = static_cast<uint32_t>((mem - arena_) / page_size_);
  MutexLock l(&arena_mu_);
  if (cached_pages_ + pages <= max_cached_) {
    cached_runs_[pages].push_back(first);
    cached_pages_ += pages;
    return;
  }
  // The memory goes back to the kernel; the range stays reserved.
  (void)madvise(mem, size_t{pages} * page_size_, MADV_DONTNEED);
  clean_runs_[pages].push_back(first);
  backed_pages_ -= pages;
  if (on_pages_) on_pages_(-static_cast<int64_t>(pages));
}

void ZsPool::Unlink(ZsPage*& head, ZsPage* z) {
  if (z->prev)
    z->prev->next = z->next;
  else
    head = z->next;
  if (z->next) z->next->prev = z->prev;
  z->prev = z->next = nullptr;
}

void ZsPool::Push(ZsPage*& head, ZsPage* z) {
  z->prev = nullptr;
  z->next = head;
  if (head) head->prev = z;
  head = z;
}

uint32_t ZsPool::TakeObj(SizeClass& c, ZsPage* z) {
  const uint32_t obj = z->free_head;
  USWAP_DCHECK(obj != kNoObj);
  std::memcpy(&z->free_head, ObjAddr(c, z, obj), sizeof(uint32_t));
  if (++z->inuse == c.objs_per_zspage) {
    Unlink(c.partial, z);
    Push(c.full, z);
  }
  return obj;
}

void ZsPool::PutObj(SizeClass& c, ZsPage* z, uint32_t obj) {
  std::memcpy(ObjAddr(c, z, obj), &z->free_head, sizeof(uint32_t));
  z->free_head = obj;
  if (z->inuse-- == c.objs_per_zspage) {
    Unlink(c.full, z);
    Push(c.partial, z);
  }
}

ZsPool::ZsPage* ZsPool::NewZsPage(SizeClass& c) {
  uint8_t* mem = TakeRun(c.pages);
  if (!mem) return nullptr;
  auto* z = new ZsPage;
  z->mem = mem;
  // Chain every object as free, in address order.
  for (uint32_t i = 0; i < c.objs_per_zspage; i++) {
    const uint32_t next = i + 1 < c.objs_per_zspage ? i + 1 : kNoObj;
    std::memcpy(ObjAddr(c, z, i), &next, sizeof next);
  }
  z->free_head = 0;
  Push(c.partial, z);
  c.zspages++;
  zspage_count_.fetch_add(1, std::memory_order_relaxed);
  return z;
}

void ZsPool::FreeZsPage(SizeClass& c, ZsPage* z) {
  USWAP_DCHECK(z->inuse == 0);
  Unlink(c.partial, z);
  GiveRun(z->mem, c.pages);
  delete z;
  c.zspages--;
  zspage_count_.fetch_sub(1, std::memory_order_relaxed);
}

Result<uint64_t> ZsPool::Store(const void* data, size_t len) {
  if (len == 0 || len > max_object())
    return Status::InvalidArgument("ZsPool: object of " + std::to_string(len) + " bytes (1.." +
                                   std::to_string(max_object()) + ")");
  const size_t need = std::max(kMinClass, len + kHeader);
  const size_t cls = (need - kMinClass + kClassStep - 1) / kClassStep;
  SizeClass& c = *classes_[cls];
  const uint32_t id = places_.Alloc();
  {
    MutexLock l(&c.mu);
    ZsPage* z = c.partial ? c.partial : NewZsPage(c);
    if (!z) {
      // fall through to the error below, outside the lock
    } else {
      const uint32_t obj = TakeObj(c, z);
      uint8_t* p = ObjAddr(c, z, obj);
      std::memcpy(p, &id, kHeader);
      std::memcpy(p + kHeader, data, len);
      PlaceOf(id) = Place{z, obj, static_cast<uint32_t>(len)};
      c.objects++;
      c.payload += len;
      return MakeHandle(id, cls);
    }
  }
  places_.Free(id);
  return Status::NoSpace("ZsPool: its reserved range of " + std::to_string(max_pages_) +
                         " pages is full");
}

size_t ZsPool::Load(uint64_t handle, void* out) const {
  const SizeClass& c = *classes_[handle & 0xff];
  MutexLock l(&c.mu);
  const Place& pl = PlaceOf(static_cast<uint32_t>(handle >> 8));
  USWAP_DCHECK(pl.zs != nullptr);
  std::memcpy(out, ObjAddr(c, pl.zs, pl.obj) + kHeader, pl.len);
  return pl.len;
}

void ZsPool::Free(uint64_t handle) {
  SizeClass& c = *classes_[handle & 0xff];
  const uint32_t id = static_cast<uint32_t>(handle >> 8);
  {
    MutexLock l(&c.mu);
    Place& pl = PlaceOf(id);
    USWAP_CHECK_MSG(pl.zs != nullptr, "ZsPool::Free of a handle that is not live");
    ZsPage* z = pl.zs;
    const uint32_t obj = pl.obj;
    c.objects--;
    c.payload -= pl.len;
    pl = Place{};
    PutObj(c, z, obj);
    // An empty zspage goes back at once (cf. zsmalloc freeing a zspage
    // whose last object goes); its pages wait in the bounded run cache, so
    // a class that empties and fills again does not churn mappings, and
    // no class keeps an empty zspage the pool's limit cannot see past.
    if (z->inuse == 0) FreeZsPage(c, z);
  }
  places_.Free(id);
}

size_t ZsPool::CompactClass(SizeClass& c) {
  MutexLock l(&c.mu);
  // Partial zspages by use, fullest first: move objects from the tail
  // (emptiest) into the head (fullest) until they meet.
  std::vector<ZsPage*> order;
  for (ZsPage* z = c.partial; z; z = z->next) order.push_back(z);
  if (order.size() < 2) return 0;
  std::sort(order.begin(), order.end(),
            [](const ZsPage* a, const ZsPage* b) { return a->inuse > b->inuse; });
  size_t freed = 0;
  size_t dst = 0, src = order.size() - 1;
  while (dst < src) {
    ZsPage* from = order[src];
    ZsPage* to = order[dst];
    if (to->inuse == c.objs_per_zspage) {
      dst++;
      continue;
    }
    if (from->inuse == 0) {
      FreeZsPage(c, from);
      freed += c.pages;
      src--;
      continue;
    }
    // Move one live object of `from` (any slot not on its free list).
    std::vector<bool> is_free(c.objs_per_zspage);
    for (uint32_t o = from->free_head; o != kNoObj;) {
      is_free[o] = true;
      std::memcpy(&o, ObjAddr(c, from, o), sizeof o);
    }
    for (uint32_t o = 0; o < c.objs_per_zspage && from->inuse && to->inuse < c.objs_per_zspage;
         o++) {
      if (is_free[o]) continue;
      uint32_t id;
      std::memcpy(&id, ObjAddr(c, from, o), kHeader);
      const uint32_t slot = TakeObj(c, to);
      std::memcpy(ObjAddr(c, to, slot), ObjAddr(c, from, o), c.size);
      Place& pl = PlaceOf(id);
      pl.zs = to;
      pl.obj = slot;
      PutObj(c, from, o);
      is_free[o] = true;
    }
  }
  if (order[src]->inuse == 0) {
    FreeZsPage(c, order[src]);
    freed += c.pages;
  }
  return freed;
}

size_t ZsPool::Compact() {
  size_t freed = 0;
  for (auto& c : classes_) freed += CompactClass(*c);
  return freed;
}

uint64_t ZsPool::KernelResidentPages() const {
  MutexLock l(&arena_mu_);
  if (arena_next_ == 0) return 0;
  std::vector<unsigned char> vec(arena_next_);
  if (mincore(arena_, arena_next_ * page_size_, vec.data()) != 0) return 0;
  uint64_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

ZsPoolStats ZsPool::stats() const {
  ZsPoolStats s;
  for (const auto& c : classes_) {
    MutexLock l(&c->mu);
    s.objects += c->objects;
    s.payload_bytes += c->payload;
  }
  MutexLock l(&arena_mu_);
  s.pool_pages = backed_pages_;
  return s;
}

}  // namespace uswap
