#include "mm/memory.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "base/log.h"
#include "base/test_hook.h"
#include "io/page_buffer.h"

namespace uswap {

FaultHandler::FaultHandler(MemoryNode* node, PteOps* pte, const FaultOptions& options)
    : node_(node),
      pte_(pte),
      options_(options),
      page_size_(node->devices().page_size()),
      readahead_({options.readahead_pages, options.max_readahead_pages}) {}

FaultResult FaultHandler::Handle(uintptr_t address, bool write, bool wp) {
  ReaderLock rl(&node_->regions_mu());
  MmRegion* r = node_->FindRegionLocked(address);
  if (!r) {
    // Not ours (any more): let the thread retry; it faults normally.
    (void)pte_->Wake(address & ~(page_size_ - 1), page_size_);
    return FaultResult::kResolved;
  }
  return HandleLocked(r, r->IndexOf(address), write, wp);
}

uint64_t FaultHandler::disk_reads() const { return MemoryNode::ThreadDiskReads(); }

FaultResult FaultHandler::HandleLocked(MmRegion* r, uint64_t index, bool write, bool wp,
                                       bool populate) {
  Count(node_->vmstat().pgfault);
  if (options_.trace && !populate) options_.trace->Record(r->user_addr(index) >> 12, write || wp);
  if (wp) return DoWpPage(r, index);
  for (;;) {
    SwapEntry wait_on;
    PageState state;
    {
      MutexLock l(&r->block_lock(index));
      PageEntry& p = r->pte(index);
      state = p.state;
      switch (p.state) {
        case PageState::kResident:
          return DoResident(r, index, write);
        case PageState::kPoisoned:
          if (!populate) (void)pte_->Poison(r->user_addr(index), page_size_);
          return FaultResult::kPoisoned;
        case PageState::kSwapIn:
          // Another thread is reading this slot: meet it in the swap cache.
          // Counted now, not after the wait: the reader's CONTINUE wakes
          // every thread faulting on the page (this one's too), which may
          // then read stats() before this handler returns from Wait.
          if (node_->swap_cache().Ref(p.entry())) {
            wait_on = p.entry();
            Count(node_->vmstat().swap_cache_hits);
          }
          break;
        case PageState::kNone:
        case PageState::kSwapped:
        case PageState::kFilled:
          break;
      }
    }
    if (state == PageState::kNone) return DoAnonymousPage(r, index, populate);
    if (state == PageState::kFilled) return DoFilledPage(r, index, populate);
    if (state == PageState::kSwapped) return DoSwapPage(r, index, write, populate);
    if (wait_on) node_->swap_cache().Wait(wait_on);
  }
}

FaultResult FaultHandler::DoResident(MmRegion* r, uint64_t index, bool write) {
  PageEntry& p = r->pte(index);
  const uintptr_t addr = r->user_addr(index);
  // Called mapped, yet it faulted: a racing fault mapped it first (CONTINUE
  // below gets EEXIST and wakes the thread) or its PTE was removed from
  // outside (the memfd still holds the page: CONTINUE maps it again).
  const bool was_mapped = p.flags & kMapped;
  p.flags &= ~(kMapped | kWriteProtected);
  bool wp_map;
  if (p.flags & kWriteback) {
    // Being written out: serve it from memory, write-protected so that a
    // write waits for the write-back to finish (seed 000, figure d).
    wp_map = true;
  } else if (write) {
    node_->FreeSlotLocked(p);
    p.flags |= kDirty;
    wp_map = false;
  } else {
    wp_map = !(p.flags & kDirty) && p.entry();
  }
  if (p.flags & kReadahead) Count(node_->vmstat().readahead_hits);
  p.flags &= ~kReadahead;
  // Counted before CONTINUE wakes the faulting thread, so that what it
  // reads in stats() after its access includes the access (as everywhere
  // on the fault path).
  if (node_->policy().MarkAccessed(node_->FrameOf(p))) Count(node_->vmstat().pgactivate);
  Count(node_->vmstat().pgminorfault);
  // The stream's pages are mapped and the stream moved on before the
  // faulting page is: its thread runs on into them as soon as it wakes.
  if (const SwapReadahead::StreamWindow sw = readahead_.Stream(r, index); sw.pages) {
    // A stream through pages read ahead: map the rest of them in its
    // direction now (fault-around) instead of taking one minor fault each:
    // [lo, hi) around the faulting page.
    auto read_ahead = [r](uint64_t k) {
      return r->pte(k).state == PageState::kResident &&
             (r->pte(k).flags & (kReadahead | kMapped | kWriteback)) == kReadahead;
    };
    uint64_t lo = index, hi = index + 1;
    if (!sw.descending)
      while (hi < r->block_end(index) && read_ahead(hi)) hi++;
    else
      while (lo > r->block_start(index) && read_ahead(lo - 1)) lo--;
    const uint64_t b = sw.descending ? lo : index + 1, e = sw.descending ? index : hi;
    if (e > b) {
      // A stream of writes gets them writable (see DoSwapPage).
      for (uint64_t k = b; k < e && write; k++) {
        PageEntry& q = r->pte(k);
        node_->FreeSlotLocked(q);
        q.flags |= kDirty;
      }
      // Counted before the mapping, as above: the stream's thread runs on
      // into these pages as soon as they are mapped.
      Count(node_->vmstat().readahead_hits, e - b);
      node_->MlockOnFaultLocked(r, b, e);
      Status st = pte_->Continue(r->user_addr(b), (e - b) * page_size_, !write).status();
      USWAP_CHECK_MSG(st.ok(), st.ToString().c_str());
      for (uint64_t k = b; k < e; k++) {
        PageEntry& q = r->pte(k);
        q.flags = (q.flags & ~kReadahead) | kMapped | (write ? 0 : kWriteProtected);
        node_->policy().MarkAccessed(node_->FrameOf(q));
      }
    }
    readahead_.StreamAdvance(r, index, lo, hi, static_cast<unsigned>(hi - lo));
  } else {
    readahead_.StreamAdvance(r, index, index, index + 1, 1);
  }
  // A resident page mapped again in a lock-on-fault range (mlockall) is
  // locked as a fault-in is. One that was mapped already had its try when
  // it was mapped: a racing fault on it (the same access delivered twice)
  // tries again quietly, so that a refusal is counted once per mapping.
  if (!was_mapped)
    node_->MlockOnFaultLocked(r, index, index + 1);
  else if (r->mlock_on_fault(index))
    (void)node_->MlockLocked(r, index);
  Status st = pte_->Continue(addr, page_size_, wp_map).status();
  USWAP_CHECK_MSG(st.ok(), st.ToString().c_str());
  p.flags |= kMapped;
  if (wp_map)
    p.flags |= kWriteProtected;
  else
    p.flags &= ~kWriteProtected;
  return FaultResult::kResolved;
}

FaultResult FaultHandler::DoWpPage(MmRegion* r, uint64_t index) {
  const uintptr_t addr = r->user_addr(index);
  for (;;) {
    SwapEntry wait_on;
    {
      MutexLock l(&r->block_lock(index));
      PageEntry& p = r->pte(index);
      if (p.state != PageState::kResident || !(p.flags & kMapped)) {
        // Unmapped meanwhile (aged, or evicted): the retry takes the normal path.
        (void)pte_->Wake(addr, page_size_);
        return FaultResult::kResolved;
      }
      if (p.flags & kWriteback) {
        if (node_->swap_cache().Ref(p.entry())) wait_on = p.entry();
      } else {
        // cf. do_wp_page() on a swap-cache page: the slot's copy goes stale.
        node_->FreeSlotLocked(p);
        p.flags |= kDirty;
        p.flags &= ~kWriteProtected;
        Count(node_->vmstat().wp_faults);  // before the wake-up (see DoResident)
        Status st = pte_->Unprotect(addr, page_size_);
        USWAP_CHECK_MSG(st.ok(), st.ToString().c_str());
        return FaultResult::kResolved;
      }
    }
    if (wait_on) node_->swap_cache().Wait(wait_on);
  }
}

FaultResult FaultHandler::DoAnonymousPage(MmRegion* r, uint64_t index, bool populate) {
  // A stream of first touches gets the following untouched pages as well;
  // not where faults lock what they bring in (mlockall): the pages after
  // the faulting one may not be the program's to lock (a free range after
  // its mapping), and once mapped they would never fault to be locked.
  const SwapReadahead::StreamWindow sw = readahead_.Stream(r, index);
  unsigned window =
      sw.pages && !sw.descending && !r->mlock_on_fault(index) ? options_.fault_around_pages : 1;
  uint64_t end = std::min(r->block_end(index), index + std::max(1u, window));
  uint64_t want = end - index;
  if (!node_->ChargeFramesLocked(want)) {
    // The window did not fit (hard limit, or reclaim can free nothing):
    // the faulting page alone may.
    if (want == 1 || !node_->ChargeFramesLocked(1)) return NoFrame(r, index, populate);
    want = 1;
    end = index + 1;
  }
  {
    MutexLock l(&r->block_lock(index));
    if (r->pte(index).state == PageState::kNone) {
      uint64_t n = 1;
      while (index + n < end && r->pte(index + n).state == PageState::kNone) n++;
      // One UFFDIO_ZEROPAGE allocates the zeroed memfd pages and maps them
      // (cf. do_anonymous_page). Counted, and the charge trimmed to the
      // pages it will install, before the wake-up (see DoResident); taken
      // back for pages it failed to install.
      if (want > n) node_->frames().Uncharge(want - n);
      Count(node_->vmstat().zero_page_faults, n);
      node_->MlockOnFaultLocked(r, index, index + n);
      size_t bytes = 0;
      Status st;
      if (int e = TestErrno("memfd_allocate"))
        st = Status::FromErrno("UFFDIO_ZEROPAGE", e);
      else
        st = pte_->ZeroPage(r->user_addr(index), n * page_size_, &bytes);
      const uint64_t done = bytes / page_size_;
      for (uint64_t i = index; i < index + done; i++) {
        PageEntry& p = r->pte(i);
        const uint32_t shadow = p.shadow;  // a zero page reclaimed before
        p.state = PageState::kResident;
        p.flags = kMapped | kDirty;
        node_->InstallFrame(r, i, true, shadow);
      }
      if (done < n) {
        for (uint64_t i = index + done; i < index + n; i++) node_->MunlockLocked(r, i);
        node_->frames().Uncharge(n - done);
        node_->vmstat().zero_page_faults.fetch_sub(n - done);
      }
      if (done == 0) return RetryLater(r, index, st);
      // A window cut short is no error: its other pages fault on their own.
      readahead_.StreamAdvance(r, index, index, index + done, static_cast<unsigned>(done));
      return FaultResult::kResolved;
    }
    // Someone else resolved it meanwhile; start over.
    node_->frames().Uncharge(want);
  }
  return HandleLocked(r, index, false, false, populate);
}

FaultResult FaultHandler::DoFilledPage(MmRegion* r, uint64_t index, bool populate) {
  if (!node_->ChargeFramesLocked(1)) return NoFrame(r, index, populate);
  {
    MutexLock l(&r->block_lock(index));
    PageEntry& p = r->pte(index);
    if (p.state == PageState::kFilled) {
      // The page comes back from its word: one UFFDIO_COPY fills and maps
      // it. It owns no slot, so it is dirty (reclaim checks it again).
      uint64_t* page = reinterpret_cast<uint64_t*>(ThreadScratch(0, page_size_));
      std::fill(page, page + page_size_ / 8, p.fill());
      Count(node_->vmstat().same_filled_faults);  // before the wake-up (see DoResident)
      node_->MlockOnFaultLocked(r, index, index + 1);
      size_t bytes = 0;
      Status st = pte_->CopyPages(r->user_addr(index), reinterpret_cast<uint8_t*>(page), page_size_,
                                  /*write_protect=*/false, &bytes);
      if (bytes < page_size_) {
        node_->MunlockLocked(r, index);
        node_->frames().Uncharge(1);
        node_->vmstat().same_filled_faults.fetch_sub(1);
        return RetryLater(r, index, st);  // the word is kept: nothing lost
      }
      const uint32_t shadow = p.shadow;
      p.clear_entry();
      p.state = PageState::kResident;
      p.flags = kMapped | kDirty;
      node_->InstallFrame(r, index, true, shadow);
      return FaultResult::kResolved;
    }
  }
  node_->frames().Uncharge(1);  // someone else resolved it meanwhile
  return HandleLocked(r, index, false, false, populate);
}

FaultResult FaultHandler::DoSwapPage(MmRegion* r, uint64_t index, bool write, bool populate) {
  VmStat& vm = node_->vmstat();
  // Window (SwapReadahead): a sequential stream reads ahead of the fault
  // (behind it, when it descends); random access reads an aligned window
  // around it, sized by recent readahead hits.
  const SwapReadahead::StreamWindow stream = readahead_.Stream(r, index);
  unsigned seq = stream.pages;
  const bool down = seq && stream.descending;
  uint64_t start, end;
  if (seq) {
    // A stream's window may run on into whole following blocks (the disk
    // reads a larger window faster per page), up to a quarter of the budget
    // (a small budget would otherwise evict what it reads ahead); it ends
    // at a block's end (starts at a block's start, descending), so that a
    // stream's windows stay aligned to blocks.
    seq = static_cast<unsigned>(std::min<uint64_t>(
        seq, std::max<uint64_t>(MmRegion::kBlockPages, node_->frames().budget() / 4)));
    if (!down) {
      start = index;
      end = std::min(r->pages(), std::max(r->block_end(index), r->block_start(index + seq)));
    } else {
      const uint64_t lo = index + 1 > seq ? index + 1 - seq : 0;
      start = std::min(r->block_start(index), lo % MmRegion::kBlockPages ? r->block_end(lo) : lo);
      end = index + 1;
    }
  } else {
    unsigned w = readahead_.RandomWindow(vm.readahead_hits.load(std::memory_order_relaxed));
    start = std::max(r->block_start(index), index - index % w);
    end = std::min(r->block_end(index), start + w);
  }
  // A fault the compressed tier serves takes no disk I/O, so readahead
  // saves it nothing but later faults' hand-offs, and costs a decompression
  // now and, since a page loaded from the pool is dirty, a compression when
  // it leaves again. Such a fault reads ahead only in a sequential stream,
  // and only pages in the tier too (never making it wait for the disk).
  Zswap* const zswap = node_->zswap();
  bool ram_only = false;
  auto in_window = [&](uint64_t i) {
    const PageEntry& p = r->pte(i);
    return p.state == PageState::kSwapped && (!ram_only || zswap->Holds(p.entry()));
  };
  uint64_t want = 0;
  {
    MutexLock l(&r->block_lock(index));
    const PageEntry& p = r->pte(index);
    ram_only = zswap && p.state == PageState::kSwapped && zswap->Holds(p.entry());
    if (ram_only && !seq) {
      start = index;
      end = index + 1;
    }
    if (ram_only) {
      start = std::max(start, r->block_start(index));
      end = std::min(end, r->block_end(index));
    }
    for (uint64_t i = std::max(start, r->block_start(index));
         i < std::min(end, r->block_end(index)); i++)
      if (in_window(i)) want++;
  }
  // The window's other blocks (a stream's only), after the fault's (before
  // it, descending), each under its own lock; the window stops at a block
  // that was never touched.
  for (uint64_t b = r->block_end(index); !down && b < end; b = r->block_end(b)) {
    if (!r->block_exists(b)) {
      end = b;
      break;
    }
    MutexLock l(&r->block_lock(b));
    for (uint64_t i = b; i < std::min(end, r->block_end(b)); i++)
      if (in_window(i)) want++;
  }
  for (uint64_t b = r->block_start(index); down && b > start; b = r->block_start(b - 1)) {
    if (!r->block_exists(b - 1)) {
      start = b;
      break;
    }
    MutexLock l(&r->block_lock(b - 1));
    for (uint64_t i = std::max(start, r->block_start(b - 1)); i < b; i++)
      if (in_window(i)) want++;
  }
  if (want == 0) want = 1;
  if (!node_->ChargeFramesLocked(want)) {
    // No room for the readahead window: read the page alone.
    if (want == 1 || !node_->ChargeFramesLocked(1)) return NoFrame(r, index, populate);
    want = 1;
  }

  // Per-thread list that keeps its capacity: a warm handler allocates
  // nothing on a swap-in. The recursive call after a race below returns
  // before this frame uses it again.
  thread_local std::vector<SwapInPage> pages;
  pages.clear();
  uint8_t* copies = reinterpret_cast<uint8_t*>(ThreadScratch(0, want * page_size_));
  // In a sequential stream the pages read ahead are mapped now (they are
  // about to be touched), with the faulting page; the others only enter
  // the memfd. A stream of writes maps them writable: they are about to be
  // overwritten, so their slots are freed now rather than one write-protect
  // fault per page later. A read fault keeps the slot: the page stays a
  // clean copy of it (mapped write-protected) and can be dropped without
  // I/O (cf. the swap cache keeping the page).
  const bool write_stream = seq && write;
  bool raced = false;
  size_t me = 0;
  // The faulting page (start <= index < end), plus up to want - 1 swapped
  // neighbours in the window; in address order once sorted below.
  uint64_t neighbours = 0;
  auto mark = [&](uint64_t from, uint64_t to) {
    for (uint64_t i = from; i < to; i++) {
      const bool mine = i == index;
      if (!mine) {
        if (neighbours + 1 == want || !in_window(i)) continue;
        neighbours++;
      } else {
        me = pages.size();
      }
      SwapInPage& page = pages.emplace_back();
      node_->MarkSwapInLocked(r, i, &page);
      page.map = mine || seq;
      page.dirty = (mine && write) || write_stream;
      page.readahead = !page.map;
    }
  };
  {
    MutexLock l(&r->block_lock(index));
    raced = r->pte(index).state != PageState::kSwapped;
    if (raced)
      node_->frames().Uncharge(want);
    else
      mark(std::max(start, r->block_start(index)), std::min(end, r->block_end(index)));
  }
  if (raced) return HandleLocked(r, index, write, false, populate);  // start over
  for (uint64_t b = r->block_end(index); !down && b < end; b = r->block_end(b)) {
    MutexLock l(&r->block_lock(b));
    mark(b, std::min(end, r->block_end(b)));
  }
  for (uint64_t b = r->block_start(index); down && b > start; b = r->block_start(b - 1)) {
    MutexLock l(&r->block_lock(b - 1));
    mark(std::max(start, r->block_start(b - 1)), b);
  }
  if (down && pages.size() > 1) {  // the fault's block was marked first
    std::sort(pages.begin(), pages.end(),
              [](const SwapInPage& a, const SwapInPage& b) { return a.index < b.index; });
    me = static_cast<size_t>(
        std::find_if(pages.begin(), pages.end(),
                     [index](const SwapInPage& p) { return p.index == index; }) -
        pages.begin());
  }
  if (want > pages.size()) node_->frames().Uncharge(want - pages.size());
  // Counted, and the stream moved on, before the pages are mapped: mapping
  // wakes the faulting thread, whose next fault may come at once.
  Count(vm.pgmajfault);
  if (pages.size() > 1) {
    Count(vm.readahead_pages, pages.size() - 1);
    readahead_.NoteIssued(pages.size() - 1);
  }
  readahead_.StreamAdvance(r, index, start, end, static_cast<unsigned>(end - start));
  const Status install_error =
      node_->SwapInPagesLocked(r, pages, copies, me, options_.read_retries, pte_);
  FaultResult result = FaultResult::kResolved;
  switch (pages[me].result) {
    case SwapInPage::Result::kOk:
      break;
    case SwapInPage::Result::kInstallFailed:
      result = RetryLater(r, index, install_error);  // slot kept: nothing lost
      break;
    case SwapInPage::Result::kReadFailed: {
      MutexLock l(&r->block_lock(index));
      const PageEntry& p = r->pte(index);
      if (p.state == PageState::kSwapped && p.entry() == pages[me].entry)
        result = PoisonLocked(r, index, "cannot read the page back from swap");
      else  // another fault took it over meanwhile: let this access retry
        (void)pte_->Wake(r->user_addr(index), page_size_);
      break;
    }
  }
  return result;
}

FaultResult FaultHandler::RetryLater(MmRegion* r, uint64_t index, const Status& why) {
  Count(node_->vmstat().memfd_errors);
  static std::atomic<uint64_t> logged{0};
  if (logged.fetch_add(1, std::memory_order_relaxed) % 1024 == 0)
    Log(LogLevel::kWarning, "page at region offset %llu: %s; nothing lost, the access retries",
        static_cast<unsigned long long>(index * page_size_), why.ToString().c_str());
  (void)pte_->Wake(r->user_addr(index), page_size_);
  return FaultResult::kResolved;
}

FaultResult FaultHandler::NoFrame(MmRegion* r, uint64_t index, bool populate) {
  // Hard limit: reclaim could not free a frame (swap full, all pinned), so
  // the access fails with SIGBUS. The poison marker stays on the page until
  // the region is unmapped: a program that catches the SIGBUS cannot retry.
  if (populate) return FaultResult::kNoFrame;  // Pin reports it; the page stays as it was
  Count(node_->vmstat().hard_limit_faults);
  Log(LogLevel::kError,
      "hard RAM limit: no frame for the page at region offset %llu (swap full or every page "
      "pinned); the access gets SIGBUS",
      static_cast<unsigned long long>(index * page_size_));
  Status st = pte_->Poison(r->user_addr(index), page_size_);
  if (!st.ok()) (void)pte_->Wake(r->user_addr(index), page_size_);
  return FaultResult::kPoisoned;
}

FaultResult FaultHandler::PoisonLocked(MmRegion* r, uint64_t index, const char* why) {
  PageEntry& p = r->pte(index);
  Count(node_->vmstat().read_errors);
  Log(LogLevel::kError, "page at region offset %llu lost: %s; accesses get SIGBUS",
      static_cast<unsigned long long>(index * page_size_), why);
  node_->FreeSlotLocked(p);
  if (p.state == PageState::kResident) {
    (void)r->PunchHole(index, 1);
    node_->ReleaseFrame(p);
  }
  p.state = PageState::kPoisoned;
  p.flags = 0;
  p.shadow = 0;  // a lost page has no history to refault with
  Status st = pte_->Poison(r->user_addr(index), page_size_);
  if (!st.ok()) {
    Log(LogLevel::kError, "%s", st.ToString().c_str());
    (void)pte_->Wake(r->user_addr(index), page_size_);
  }
  return FaultResult::kPoisoned;
}

bool FaultHandler::HandleSigbus(uintptr_t addr) {
  ReaderLock rl(&node_->regions_mu());
  MmRegion* r = node_->FindRegionLocked(addr);
  if (!r) return false;
  const uint64_t index = r->IndexOf(addr);
  bool wp_candidate = false;
  {
    MutexLock l(&r->block_lock(index));
    const PageEntry& p = r->pte(index);
    if (p.state == PageState::kPoisoned) return false;
    wp_candidate =
        p.state == PageState::kResident && (p.flags & kMapped) && (p.flags & kWriteProtected);
    if (wp_candidate) {
      // A present write-protected PTE makes this a write: CONTINUE says
      // EEXIST. If the PTE was removed from outside, CONTINUE maps it again.
      Result<bool> mapped = pte_->TryContinue(r->user_addr(index), page_size_, true);
      USWAP_CHECK_MSG(mapped.ok(), mapped.status().ToString().c_str());
      if (*mapped) return true;
    }
  }
  return HandleLocked(r, index, false, wp_candidate) == FaultResult::kResolved;
}

FaultResult FaultHandler::Populate(MmRegion* r, uint64_t first, uint64_t end, uint64_t* failed) {
  ReaderLock rl(&node_->regions_mu());
  for (uint64_t i = first; i < end; i++) {
    FaultResult res = PopulateOne(r, i);
    if (res != FaultResult::kResolved) {
      *failed = i;
      return res;
    }
  }
  return FaultResult::kResolved;
}

FaultResult FaultHandler::PopulateOne(MmRegion* r, uint64_t index) {
  for (int attempt = 0; attempt < 64; attempt++) {
    bool wp = false;
    {
      MutexLock l(&r->block_lock(index));
      const PageEntry& p = r->pte(index);
      if (p.state == PageState::kPoisoned) return FaultResult::kPoisoned;
      if (p.state == PageState::kResident && (p.flags & kMapped)) {
        if (!(p.flags & kWriteProtected)) return FaultResult::kResolved;
        wp = true;  // DoWpPage waits for a write-back, then unprotects
      }
    }
    FaultResult res = HandleLocked(r, index, true, wp, true);
    if (res != FaultResult::kResolved) return res;
  }
  return FaultResult::kResolved;  // unreachable in practice: pinned pages stay mapped
}

}  // namespace uswap
