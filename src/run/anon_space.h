// AnonSpace: the anonymous memory of one process under `uswap run`, on a
// single uswap Region — the run layer's mm_struct. The Region is one large
// reservation of address space (nothing is resident until touched) split
// in two parts:
//  - the heap: a fixed range the malloc family's allocator (mimalloc, in
//    an exclusive arena; see shim.cc) carves its segments from;
//  - the map area: where the program's private anonymous mmap()s are
//    placed, page-granular, first fit (get_unmapped_area's twin).
// Every operation the kernel would do on anonymous memory in that range is
// done here on the Region instead (kernel twins: mm/mmap.c do_mmap and
// do_vmi_munmap, mm/mremap.c, mm/madvise.c, mm/mlock.c): munmap and
// MADV_DONTNEED discard (the pages read as zeros again and their frames
// and swap slots are freed), mlock and mlockall lock (Region::Mlock). A
// range the program covers with a mapping of its own (MAP_FIXED of a file
// or of shared memory) is "foreign": the kernel owns it from then on and it
// is never reused.
//
// Calls take addresses; the caller (shim.cc) has already split a request
// into the part inside the region (Owns) and the rest, which goes to the
// kernel. Errors are the errno the kernel call would set: EINVAL for a bad
// range or advice, ENOMEM when no address range is free, EEXIST for
// MAP_FIXED_NOREPLACE over a used range, EIO when the engine failed.
//
// Thread-safety: every method may be called from any thread; one mutex
// serialises the bookkeeping (mmap is not a hot path; faults never take it).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "run/range_set.h"
#include "uswap/space.h"

namespace uswap {

class AnonSpace {
 public:
  struct Layout {
    size_t heap_bytes = 32ull << 30;  // the allocator's arena
    size_t map_bytes = 32ull << 30;   // room for mmap()s
  };
  // The heap's start is aligned to this (mimalloc's segment alignment).
  static constexpr size_t kHeapAlign = 64u << 20;

  // Opens the Space and maps the region. The message names what failed.
  static Result<std::unique_ptr<AnonSpace>> Open(const Config& config, const Layout& layout);
  ~AnonSpace();  // destroys the region, then the Space

  Space& space() { return *space_; }
  uint8_t* heap_begin() const { return heap_begin_; }
  size_t heap_bytes() const { return heap_bytes_; }

  // Whether any byte of [addr, addr + len) is in the region. Lock-free.
  bool Overlaps(uintptr_t addr, size_t len) const {
    return len > 0 && addr < end_ && addr + len > begin_;
  }
  // Splits [addr, addr + len) (page-rounded) into the parts this space
  // owns (in the region and not foreign) and the parts the kernel owns.
  struct Piece {
    AddrRange range;
    bool owned;
  };
  std::vector<Piece> Split(uintptr_t addr, size_t len);

  // mmap(NULL, len, prot, MAP_PRIVATE|MAP_ANONYMOUS): zeroed pages.
  // ENOMEM when the map area has no room (the caller may ask the kernel).
  int Map(size_t len, int prot, uintptr_t* out);
  // mmap(addr, len, prot, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED[_NOREPLACE])
  // over an owned range: zeroed pages at addr. With noreplace, EEXIST
  // unless all of it is free.
  int MapFixed(uintptr_t addr, size_t len, int prot, bool noreplace);
  // munmap of an owned range: discarded and free for reuse (heap pages are
  // only discarded: the allocator owns them).
  int Unmap(uintptr_t addr, size_t len);
  // munmap of a foreign range: the kernel's mapping is replaced by an
  // inaccessible placeholder, so that the address stays out of the
  // kernel's hands (it is inside the region) and is never reused.
  int UnmapForeign(uintptr_t addr, size_t len);
  // A mapping of the program's own (file, shared) is about to replace
  // [addr, addr + len): its owned pages are unpinned, discarded and marked
  // foreign.
  int Cover(uintptr_t addr, size_t len);
  // mremap of an owned mapping (MREMAP_MAYMOVE in may_move). Shrinks in
  // place; grows in place when the pages after it are free, else moves
  // (copying the contents) when allowed. The grown part is read/write.
  int Remap(uintptr_t old_addr, size_t old_len, size_t new_len, bool may_move, uintptr_t* out);
  // mremap with MREMAP_FIXED (to `fixed`, else nullopt) and/or
  // MREMAP_DONTUNMAP of an owned mapping: the contents move to the new
  // range (copied; the rest of it reads zero), whatever was there before is
  // gone (as MAP_FIXED). A new range inside the map area stays uswap
  // memory; one wholly outside the region becomes the kernel's (a private
  // anonymous mapping there). Without dontunmap the old range is unmapped;
  // with it the old range stays mapped and reads zero (the kernel's
  // private anonymous case; old and new sizes must then be equal).
  // EINVAL: misaligned, overlapping ranges, or a new range that straddles
  // the region's edge, its heap or a mapping of the program's own in it.
  int Move(uintptr_t old_addr, size_t old_len, size_t new_len, std::optional<uintptr_t> fixed,
           bool dontunmap, uintptr_t* out);
  // madvise on an owned range: DONTNEED/FREE/REMOVE discard, PAGEOUT/COLD
  // page out, the rest are accepted and change nothing here.
  int Advise(uintptr_t addr, size_t len, int advice);
  // mlock/munlock on an owned range: Region::Mlock (resident, never
  // reclaimed; not nested; at most Config::mlock_limit_bytes: ENOMEM past
  // it, EAGAIN for a page that could not be brought in) / Region::Munlock.
  int Lock(uintptr_t addr, size_t len);
  int Unlock(uintptr_t addr, size_t len);
  // mlockall(flags) / munlockall() on this space's memory (kernel twin:
  // mm/mlock.c apply_mlockall_flags). MCL_CURRENT locks every mapping of
  // the map area, brought in whole (as the kernel populates a locked vma),
  // and the heap's touched pages: the untouched rest of the heap is address
  // space the allocator reserved, not memory (the kernel would populate
  // all of it); its pages are locked as faults bring them in. MCL_FUTURE
  // locks every page faulted in from now on, and mmap()s populate and lock
  // their pages (EAGAIN past the limit, nothing mapped). MCL_ONFAULT locks
  // only what is resident now and the rest as it faults in; uswap locks it
  // on fault everywhere, so with MCL_CURRENT | MCL_ONFAULT mappings made
  // later lock on fault too (the kernel leaves those unlocked). Past the
  // mlock limit: ENOMEM, the pages locked before that stay locked (as in
  // the kernel); later faults past it stay unlocked (counted, logged).
  // EINVAL for flags mlockall(2) refuses.
  int LockAll(int flags);
  int UnlockAll();

  // Bytes of the map area in use and mappings refused for lack of room.
  size_t mapped_bytes();

  // fork(2) of the calling process, with a private copy of this space for
  // the child (run/fork.cc; kernel twin: kernel/fork.c dup_mmap ->
  // copy_page_range). `real_fork` is the C library's fork. In the child,
  // `open_space` opens the child's own Space (it closes the parent's engine
  // file descriptors first and creates the child's own swap area), which
  // maps the region again at the same address; then the parent sends every populated page of its
  // region (resident, on swap, compressed) through a socket into it, so
  // that the child reads what the parent had at fork time and neither
  // sees the other's later writes. The parent returns when the child has
  // its copy. Protections and foreign mappings are kept; mlocks are not
  // inherited; MADV_DONTFORK ranges are absent (unmapped, PROT_NONE) and
  // MADV_WIPEONFORK ranges zero in the child, as in the kernel.
  // Other threads' mmap/munmap/madvise wait meanwhile (mmap_lock in
  // dup_mmap); their stores to the region during the copy may reach the
  // child or not (the kernel write-protects every page at once; uswap
  // copies page by page).
  // Returns what fork returns; on failure -1 with errno (ENOMEM, or
  // fork's own) and *why says what failed (a failed child has exited).
  using SpaceOpener = std::function<Result<std::unique_ptr<Space>>()>;
  pid_t Fork(pid_t (*real_fork)(), const SpaceOpener& open_space, std::string* why);

 private:
  AnonSpace() = default;
  // Discards [b, e) after unlocking it; returns an errno value.
  int DiscardLocked(uintptr_t b, uintptr_t e) REQUIRES(mu_);
  // Under mlockall(MCL_FUTURE): populates and locks a new mapping [b, e).
  int LockNewLocked(uintptr_t b, uintptr_t e) REQUIRES(mu_);
  // Gives [b, e), just taken from free_, protection `prot`; on failure
  // returns it to free_. Returns an errno value.
  int ProtectTakenLocked(uintptr_t b, uintptr_t e, int prot) REQUIRES(mu_);
  bool InMapArea(uintptr_t b, uintptr_t e) const { return b >= map_begin_ && e <= end_; }
  // Drops the fork advice of [b, e) (a new mapping there has none).
  void ForgetForkAdviceLocked(uintptr_t b, uintptr_t e) REQUIRES(mu_);
  // Move's work on the owned, non-foreign [ob, oe) once checked; also
  // Remap's move (no fixed address, the old range unmapped).
  int MoveLocked(uintptr_t ob, uintptr_t oe, uintptr_t size, std::optional<uintptr_t> fixed,
                 bool dontunmap, uintptr_t* out) REQUIRES(mu_);

  // fork (run/fork.cc). What the child gets, computed in the parent before
  // fork so that the child has it too.
  struct ForkPlan {
    std::vector<AddrRange> copy;                     // populated owned pages, ascending
    std::vector<std::pair<AddrRange, int>> protect;  // owned ranges not read/write
    std::vector<AddrRange> dontfork;                 // absent in the child
  };
  Status PlanForkLocked(ForkPlan* plan) REQUIRES(mu_);
  // In the child: a new Space, its region at begin_, empty and read/write.
  Status ReopenInChildLocked(const SpaceOpener& open_space) REQUIRES(mu_);
  // In the child: the parent's pages from `fd` into the region, each
  // resident (charged to the budget, reclaimed to swap as needed) before
  // any thread of the new Space runs.
  Status ReceiveLocked(int fd, const ForkPlan& plan) REQUIRES(mu_);
  // In the child, after the copy: protections, DONTFORK, no mlocks (nor
  // mlockall: fork(2) passes neither on).
  Status FinishChildLocked(const ForkPlan& plan) REQUIRES(mu_);

  std::unique_ptr<Space> space_;
  std::unique_ptr<Region> region_;
  uintptr_t begin_ = 0, end_ = 0;  // the region
  uint8_t* heap_begin_ = nullptr;
  size_t heap_bytes_ = 0;
  uintptr_t map_begin_ = 0;  // the map area is [map_begin_, end_)

  Mutex mu_;
  RangeSet free_ GUARDED_BY(mu_);             // free parts of the map area
  RangeSet foreign_ GUARDED_BY(mu_);          // covered by the program's own mappings
  RangeSet dontfork_ GUARDED_BY(mu_);         // madvise(MADV_DONTFORK): absent in a child
  RangeSet wipeonfork_ GUARDED_BY(mu_);       // madvise(MADV_WIPEONFORK): zero in a child
  bool lock_future_ GUARDED_BY(mu_) = false;  // mlockall(MCL_FUTURE) without MCL_ONFAULT
};

}  // namespace uswap
