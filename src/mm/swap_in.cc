// The one swap-in routine (see swap_in.h): cf. read_swap_cache_async(),
// swap_read_folio() and the end of do_swap_page() in mm/.
#include <algorithm>
#include <vector>

#include "base/check.h"
#include "base/test_hook.h"
#include "mm/memory_node.h"

namespace uswap {
namespace {

// The end of the run of adjacent pages from pages[k] read alike and
// installed alike (and, with same_protection, mapped with one protection).
size_t RunEnd(std::span<const SwapInPage> pages, size_t k, bool same_protection) {
  size_t j = k + 1;
  while (j < pages.size() && pages[j].index == pages[j - 1].index + 1 &&
         pages[j].result == pages[k].result && pages[j].map == pages[k].map &&
         (!same_protection || pages[j].dirty == pages[k].dirty))
    j++;
  return j;
}

// pages[from, to) could not be installed; the first such error is kept.
void InstallFailed(std::span<SwapInPage> pages, size_t from, size_t to, const Status& st,
                   Status* first) {
  for (size_t m = from; m < to; m++) pages[m].result = SwapInPage::Result::kInstallFailed;
  if (first->ok()) *first = st;
}

}  // namespace

void MemoryNode::MarkSwapInLocked(MmRegion* r, uint64_t index, SwapInPage* out) {
  PageEntry& p = r->pte(index);
  USWAP_CHECK(p.state == PageState::kSwapped && p.entry());
  p.state = PageState::kSwapIn;
  swap_cache_.Add(p.entry(), SwapCache::IoKind::kRead);
  *out = SwapInPage();
  out->index = index;
  out->entry = p.entry();
  out->sum = p.sum;
  out->shadow = p.shadow;
}

Status MemoryNode::SwapInPagesLocked(MmRegion* r, std::span<SwapInPage> pages, uint8_t* bufs,
                                     size_t must, unsigned retries, PteOps* pte) {
  using Result = SwapInPage::Result;
  const size_t ps = devices_->page_size();
  // Per-thread list that keeps its capacity: no allocation once warm.
  thread_local std::vector<SwapPage> reads;
  reads.resize(pages.size());
  for (size_t k = 0; k < pages.size(); k++) {
    reads[k] = SwapPage();
    reads[k].entry = pages[k].entry;
    reads[k].buf = bufs + k * ps;
    reads[k].sum = pages[k].sum;
  }
  TestPoint("swapin_before_io");
  ReadPages(reads);
  for (unsigned attempt = 0; must < pages.size() && reads[must].status != 0 && attempt < retries;
       attempt++)
    ReadPages(std::span<SwapPage>(&reads[must], 1));
  for (size_t k = 0; k < pages.size(); k++) {
    pages[k].result = reads[k].status == 0 ? Result::kOk : Result::kReadFailed;
    // An exclusive load (cf. zswap_load()): the page leaves the pool once
    // it is safe in memory, so it is dirty — it frees its slot, which
    // invalidates the object, and is mapped writable.
    if (reads[k].status == 0 && FromRamTier(reads[k])) pages[k].dirty = true;
  }

  Status install_error;
  // Pages not mapped now go into the memfd while they are kSwapIn (nobody
  // else touches them), one pwrite per run.
  for (size_t k = 0; k < pages.size();) {
    const size_t j = RunEnd(pages, k, false);
    if (pages[k].result == Result::kOk && !pages[k].map) {
      Status st = r->CopyIn(pages[k].index, j - k, bufs + k * ps);
      if (!st.ok()) InstallFailed(pages, k, j, st, &install_error);
    }
    k = j;
  }

  // One block at a time, under its lock (a stream's window may span
  // several blocks; their locks are never held together), the faulting
  // page's block last: mapping it wakes the faulting thread, and the
  // stream it runs (up or down) finds the rest of the window mapped
  // already.
  const uint64_t mine = must < pages.size() ? r->block_start(pages[must].index) : UINT64_MAX;
  size_t mb = 0, me = 0;  // the faulting page's block: pages[mb, me), if any
  for (size_t e = pages.size(); e > 0;) {
    size_t b = e - 1;
    while (b > 0 && r->block_start(pages[b - 1].index) == r->block_start(pages[e - 1].index)) b--;
    if (r->block_start(pages[b].index) == mine)
      mb = b, me = e;
    else
      InstallBlockLocked(r, pages.subspan(b, e - b), bufs + b * ps, pte, &install_error);
    e = b;
  }
  if (me > mb)
    InstallBlockLocked(r, pages.subspan(mb, me - mb), bufs + mb * ps, pte, &install_error);
  return install_error;
}

void MemoryNode::InstallBlockLocked(MmRegion* r, std::span<SwapInPage> pages, uint8_t* bufs,
                                    PteOps* pte, Status* install_error) {
  using Result = SwapInPage::Result;
  const size_t ps = devices_->page_size();
  MutexLock l(&r->block_lock(pages.front().index));
  // Pages mapped now: installed and mapped in one call per run, under the
  // block lock so that nothing sees a page mapped while its entry still
  // says kSwapIn. Mapping the faulting page wakes its thread.
  for (size_t k = 0; k < pages.size();) {
    const size_t j = RunEnd(pages, k, true);
    if (pages[k].result == Result::kOk && pages[k].map) {
      USWAP_CHECK(pte != nullptr);
      // In a lock-on-fault range (mlockall) a page is locked before it is
      // mapped; one that then fails to install stays locked, swapped: its
      // next fault maps it.
      MlockOnFaultLocked(r, pages[k].index, pages[k].index + (j - k));
      size_t bytes = 0;
      Status st;
      if (int e = TestErrno("memfd_copyin"))
        st = Status::FromErrno("UFFDIO_COPY", e);
      else
        st = pte->CopyPages(r->user_addr(pages[k].index), bufs + k * ps, (j - k) * ps,
                            !pages[k].dirty, &bytes);
      if (!st.ok()) InstallFailed(pages, k + bytes / ps, j, st, install_error);
    }
    k = j;
  }
  for (SwapInPage& s : pages) {
    PageEntry& p = r->pte(s.index);
    USWAP_CHECK(p.state == PageState::kSwapIn && p.entry() == s.entry);
    if (s.result != Result::kOk) {
      // Back to swapped, slot kept: nothing is lost; a later fault retries.
      (void)r->PunchHole(s.index, 1);
      frames_.Uncharge(1);
      swap_cache_.Complete(s.entry, false);
      p.state = PageState::kSwapped;
      continue;
    }
    p.state = PageState::kResident;
    // Complete before any Free: once free, the slot may be reallocated.
    swap_cache_.Complete(s.entry, true);
    if (s.dirty) {
      FreeSwapEntry(s.entry);
      p.clear_entry();
      p.flags = kDirty;
    } else {
      p.flags = 0;  // clean, owns its slot (cf. the swap cache keeping the page)
    }
    if (s.map)
      p.flags |= kMapped | (s.dirty ? 0 : kWriteProtected);
    else if (s.readahead)
      p.flags |= kReadahead;
    InstallFrame(r, s.index, s.map, s.shadow);
  }
}

}  // namespace uswap
