#include "run/anon_space.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/check.h"

namespace uswap {
namespace {

constexpr uintptr_t kPage = 4096;
uintptr_t PageDown(uintptr_t a) { return a & ~(kPage - 1); }
uintptr_t PageUp(uintptr_t a) { return (a + kPage - 1) & ~(kPage - 1); }

// The errno a kernel call would set for an engine Status.
int ErrnoOf(const Status& s) {
  if (s.ok()) return 0;
  if (s.IsInvalidArgument()) return EINVAL;
  if (s.IsNoSpace()) return ENOMEM;
  return EIO;
}

}  // namespace

Result<std::unique_ptr<AnonSpace>> AnonSpace::Open(const Config& config, const Layout& layout) {
  if (layout.heap_bytes % kHeapAlign != 0 || layout.map_bytes % kPage != 0 || !layout.map_bytes)
    return Status::InvalidArgument(
        "AnonSpace layout: heap must be a multiple of 64 MiB, map area "
        "of pages and not empty");
  std::unique_ptr<AnonSpace> as(new AnonSpace());
  USWAP_ASSIGN_OR_RETURN(as->space_, Space::Open(config));
  // One spare alignment unit so that the heap can start on a 64 MiB boundary.
  const size_t bytes = layout.heap_bytes + kHeapAlign + layout.map_bytes;
  USWAP_ASSIGN_OR_RETURN(as->region_, as->space_->Map(bytes));
  as->begin_ = reinterpret_cast<uintptr_t>(as->region_->data());
  as->end_ = as->begin_ + as->region_->size();
  const uintptr_t heap = (as->begin_ + kHeapAlign - 1) & ~(kHeapAlign - 1);
  as->heap_begin_ = reinterpret_cast<uint8_t*>(heap);
  as->heap_bytes_ = layout.heap_bytes;
  as->map_begin_ = heap + layout.heap_bytes;
  MutexLock l(&as->mu_);
  // The alignment slack below the heap is never used: keep it inaccessible.
  if (heap > as->begin_) ::mprotect(as->region_->data(), heap - as->begin_, PROT_NONE);
  as->free_.Add(as->map_begin_, as->end_);
  return as;
}

AnonSpace::~AnonSpace() {
  region_.reset();
  space_.reset();
}

std::vector<AnonSpace::Piece> AnonSpace::Split(uintptr_t addr, size_t len) {
  std::vector<Piece> out;
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b >= e) return out;
  auto kernel = [&](uintptr_t x, uintptr_t y) {
    if (x < y) out.push_back({{x, y}, false});
  };
  kernel(b, std::min(e, begin_));
  const uintptr_t rb = std::max(b, begin_), re = std::min(e, end_);
  if (rb < re) {
    MutexLock l(&mu_);
    for (const AddrRange& r : foreign_.Gaps(rb, re)) out.push_back({r, true});
    for (const AddrRange& r : foreign_.Intersect(rb, re)) out.push_back({r, false});
    std::sort(out.begin(), out.end(),
              [](const Piece& x, const Piece& y) { return x.range.begin < y.range.begin; });
  }
  kernel(std::max(b, end_), e);
  return out;
}

void AnonSpace::ForgetForkAdviceLocked(uintptr_t b, uintptr_t e) {
  dontfork_.Remove(b, e);
  wipeonfork_.Remove(b, e);
}

int AnonSpace::DiscardLocked(uintptr_t b, uintptr_t e) {
  if (int err = ErrnoOf(region_->Munlock(b - begin_, e - b)); err != 0) return err;
  return ErrnoOf(region_->Discard(b - begin_, e - b));
}

int AnonSpace::LockNewLocked(uintptr_t b, uintptr_t e) {
  if (!lock_future_) return 0;
  Status s = region_->Mlock(b - begin_, e - b, Region::MlockScope::kAll);
  return s.ok() ? 0 : EAGAIN;  // mmap(2): MCL_FUTURE and the lock limit
}

int AnonSpace::ProtectTakenLocked(uintptr_t b, uintptr_t e, int prot) {
  // Free ranges are already discarded (zero); only the protection may be
  // a leftover of the range's last user.
  if (::mprotect(reinterpret_cast<void*>(b), e - b, prot) == 0) return 0;
  const int err = errno;
  free_.Add(b, e);
  return err;
}

int AnonSpace::Map(size_t len, int prot, uintptr_t* out) {
  const uintptr_t size = PageUp(len);
  if (size == 0) return EINVAL;
  MutexLock l(&mu_);
  std::optional<uintptr_t> at = free_.TakeFirstFit(size);
  if (!at) return ENOMEM;
  if (int err = ProtectTakenLocked(*at, *at + size, prot); err != 0) return err;
  if (int err = LockNewLocked(*at, *at + size); err != 0) {
    (void)DiscardLocked(*at, *at + size);  // pages the lock brought in
    free_.Add(*at, *at + size);
    return err;
  }
  *out = *at;
  return 0;
}

int AnonSpace::MapFixed(uintptr_t addr, size_t len, int prot, bool noreplace) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b != addr || b >= e || b < begin_ || e > end_) return EINVAL;
  MutexLock l(&mu_);
  if (noreplace && !free_.Contains(b, e)) return EEXIST;
  if (int err = DiscardLocked(b, e); err != 0) return err;
  free_.Remove(b, e);
  ForgetForkAdviceLocked(b, e);
  if (::mprotect(reinterpret_cast<void*>(b), e - b, prot) != 0) return errno;
  // Past the lock limit (EAGAIN) the range is mapped and zero: its old
  // contents are gone, where the kernel checks the limit first and keeps
  // them.
  return LockNewLocked(b, e);
}

int AnonSpace::Unmap(uintptr_t addr, size_t len) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b != addr || b >= e || b < begin_ || e > end_) return EINVAL;
  MutexLock l(&mu_);
  // Foreign parts are the kernel's (the caller unmaps them there).
  for (const AddrRange& r : foreign_.Gaps(b, e)) {
    if (int err = DiscardLocked(r.begin, r.end); err != 0) return err;
    if (r.begin >= map_begin_) ForgetForkAdviceLocked(r.begin, r.end);
    const uintptr_t mb = std::max(r.begin, map_begin_);
    if (mb < r.end) free_.Add(mb, r.end);
  }
  return 0;
}

int AnonSpace::UnmapForeign(uintptr_t addr, size_t len) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  MutexLock l(&mu_);
  if (!foreign_.Contains(b, e)) return EINVAL;
  void* p = ::mmap(reinterpret_cast<void*>(b), e - b, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? errno : 0;
}

int AnonSpace::Cover(uintptr_t addr, size_t len) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b >= e || b < begin_ || e > end_) return EINVAL;
  MutexLock l(&mu_);
  for (const AddrRange& r : foreign_.Add(b, e)) {
    if (int err = DiscardLocked(r.begin, r.end); err != 0) return err;
    free_.Remove(r.begin, r.end);
    ForgetForkAdviceLocked(r.begin, r.end);
  }
  return 0;
}

int AnonSpace::Remap(uintptr_t old_addr, size_t old_len, size_t new_len, bool may_move,
                     uintptr_t* out) {
  const uintptr_t ob = old_addr, oe = PageUp(old_addr + old_len);
  const uintptr_t ne = PageUp(old_addr + new_len);
  if (PageDown(ob) != ob || new_len == 0 || !InMapArea(ob, std::max(oe, ob + kPage))) return EINVAL;
  MutexLock l(&mu_);
  if (!foreign_.Intersect(ob, std::max(oe, ne)).empty()) return EFAULT;
  if (ne <= oe) {  // shrink (or same size): the tail goes
    if (ne < oe) {
      if (int err = DiscardLocked(ne, oe); err != 0) return err;
      free_.Add(ne, oe);
      ForgetForkAdviceLocked(ne, oe);
    }
    *out = ob;
    return 0;
  }
  if (ne <= end_ && free_.Contains(oe, ne)) {  // grow in place
    free_.Remove(oe, ne);
    if (int err = ProtectTakenLocked(oe, ne, PROT_READ | PROT_WRITE); err != 0) return err;
    *out = ob;
    return 0;
  }
  if (!may_move) return ENOMEM;
  return MoveLocked(ob, oe, ne - ob, std::nullopt, /*dontunmap=*/false, out);
}

int AnonSpace::Move(uintptr_t old_addr, size_t old_len, size_t new_len,
                    std::optional<uintptr_t> fixed, bool dontunmap, uintptr_t* out) {
  const uintptr_t ob = old_addr, oe = PageUp(old_addr + old_len);
  const uintptr_t size = PageUp(new_len);
  if (PageDown(ob) != ob || old_len == 0 || size == 0 || !InMapArea(ob, oe)) return EINVAL;
  if (dontunmap && PageUp(old_len) != size) return EINVAL;
  if (fixed && PageDown(*fixed) != *fixed) return EINVAL;
  if (fixed && *fixed < oe && ob < *fixed + size) return EINVAL;  // overlap: mremap(2)
  MutexLock l(&mu_);
  if (!foreign_.Intersect(ob, oe).empty()) return EFAULT;
  return MoveLocked(ob, oe, size, fixed, dontunmap, out);
}

int AnonSpace::MoveLocked(uintptr_t ob, uintptr_t oe, uintptr_t size,
                          std::optional<uintptr_t> fixed, bool dontunmap, uintptr_t* out) {
  uintptr_t nb = 0;
  if (!fixed) {
    std::optional<uintptr_t> at = free_.TakeFirstFit(size);
    if (!at) return ENOMEM;
    nb = *at;
    if (int err = ProtectTakenLocked(nb, nb + size, PROT_READ | PROT_WRITE); err != 0) return err;
  } else if (InMapArea(*fixed, *fixed + size)) {
    nb = *fixed;
    if (!foreign_.Intersect(nb, nb + size).empty()) return EINVAL;
    if (int err = DiscardLocked(nb, nb + size); err != 0) return err;  // MAP_FIXED: gone
    free_.Remove(nb, nb + size);
    ForgetForkAdviceLocked(nb, nb + size);
    if (::mprotect(reinterpret_cast<void*>(nb), size, PROT_READ | PROT_WRITE) != 0) return errno;
  } else if (*fixed + size <= begin_ || *fixed >= end_) {
    nb = *fixed;  // out of the region: the kernel's memory from now on
    if (::mmap(reinterpret_cast<void*>(nb), size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
      return errno;
  } else {
    return EINVAL;  // straddles the region's edge, or its heap
  }
  // The kernel moves page table entries; uswap copies the contents through
  // the region (swapped pages come back as the copy touches them).
  std::memcpy(reinterpret_cast<void*>(nb), reinterpret_cast<void*>(ob), std::min(oe - ob, size));
  if (int err = DiscardLocked(ob, oe); err != 0) return err;
  ForgetForkAdviceLocked(ob, oe);  // the kernel moves the flags with the vma; uswap drops them
  if (!dontunmap) free_.Add(ob, oe);
  *out = nb;
  return 0;
}

int AnonSpace::Advise(uintptr_t addr, size_t len, int advice) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b != addr || b < begin_ || e > end_) return EINVAL;
  if (b == e) return 0;
  switch (advice) {
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_REMOVE:
    case MADV_DONTNEED_LOCKED: {
      MutexLock l(&mu_);
      // The kernel refuses DONTNEED on mlock'ed memory (EINVAL): so does
      // Region::Discard. DONTNEED_LOCKED drops locked pages too.
      if (advice == MADV_DONTNEED_LOCKED) return DiscardLocked(b, e);
      return ErrnoOf(region_->Discard(b - begin_, e - b));
    }
    case MADV_PAGEOUT:
      return ErrnoOf(region_->PageOut(b - begin_, e - b));
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK: {
      MutexLock l(&mu_);
      RangeSet& set = advice == MADV_DONTFORK || advice == MADV_DOFORK ? dontfork_ : wipeonfork_;
      if (advice == MADV_DONTFORK || advice == MADV_WIPEONFORK)
        set.Add(b, e);
      else
        set.Remove(b, e);
      return 0;
    }
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_COLD:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
      return 0;  // hints (or dump flags)
    default:
      return EINVAL;
  }
}

int AnonSpace::Lock(uintptr_t addr, size_t len) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b < begin_ || e > end_) return EINVAL;
  MutexLock l(&mu_);
  Status s = region_->Mlock(b - begin_, e - b, Region::MlockScope::kAll);
  if (s.ok()) return 0;
  return s.IsNoSpace() ? ENOMEM : s.IsInvalidArgument() ? EINVAL : EAGAIN;
}

int AnonSpace::Unlock(uintptr_t addr, size_t len) {
  const uintptr_t b = PageDown(addr), e = PageUp(addr + len);
  if (b < begin_ || e > end_) return EINVAL;
  MutexLock l(&mu_);
  return ErrnoOf(region_->Munlock(b - begin_, e - b));
}

int AnonSpace::LockAll(int flags) {
  if (flags == 0 || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT)
    return EINVAL;
  const bool onfault = flags & MCL_ONFAULT;
  MutexLock l(&mu_);
  // Lock on fault first, so that a page being read in meanwhile is locked
  // when it lands. With MCL_CURRENT alone only the heap locks on fault: its
  // untouched pages would be populated and locked by the kernel.
  Status st =
      (flags & (MCL_FUTURE | MCL_ONFAULT))
          ? region_->SetMlockOnFault(0, end_ - begin_)
          : region_->SetMlockOnFault(heap_begin_ - reinterpret_cast<uint8_t*>(begin_), heap_bytes_);
  if (!st.ok()) return ErrnoOf(st);
  lock_future_ = (flags & MCL_FUTURE) && !onfault;
  if (!(flags & MCL_CURRENT)) return 0;
  // The heap, then the mappings of the map area; the program's own
  // mappings over region memory (foreign) are the kernel's.
  const uintptr_t heap = reinterpret_cast<uintptr_t>(heap_begin_);
  std::vector<std::pair<AddrRange, Region::MlockScope>> ranges;
  for (const AddrRange& r : foreign_.Gaps(heap, heap + heap_bytes_))
    ranges.push_back({r, onfault ? Region::MlockScope::kResident : Region::MlockScope::kTouched});
  for (const AddrRange& used : free_.Gaps(map_begin_, end_))
    for (const AddrRange& r : foreign_.Gaps(used.begin, used.end))
      ranges.push_back({r, onfault ? Region::MlockScope::kResident : Region::MlockScope::kAll});
  for (const auto& [r, scope] : ranges)
    if (st.ok()) st = region_->Mlock(r.begin - begin_, r.size(), scope);
  if (st.ok()) return 0;
  return st.IsNoSpace() ? ENOMEM : EAGAIN;
}

int AnonSpace::UnlockAll() {
  MutexLock l(&mu_);
  lock_future_ = false;
  Status st = region_->SetMlockOnFault(0, 0);
  if (st.ok()) st = region_->Munlock(0, end_ - begin_);
  return ErrnoOf(st);
}

size_t AnonSpace::mapped_bytes() {
  MutexLock l(&mu_);
  return (end_ - map_begin_) - free_.bytes();
}

}  // namespace uswap
