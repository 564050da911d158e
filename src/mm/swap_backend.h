// SwapBackend: the tier seam (issue 12, doc/tiers.md) — where a page that
// leaves memory is kept, keyed by its swap slot. cf. frontswap_ops / the
// zswap_store() / zswap_load() / zswap_invalidate() hooks that
// swap_writepage(), swap_read_folio() and swap_entry_free() call before
// the block device.
//
// The slot is the page's identity whatever tier holds its bytes: a page
// that leaves memory always owns a slot (swap_map count 1), and the slot on
// disk stays reserved for it, so any tier can give a page back to the disk
// (writeback), and swapoff, discard and teardown work on slots only.
//
// Tiers stack, top first: today compressed RAM (Zswap) over the swap areas
// (PageIo); later compressed RAM over a remote store over the disk. A batch
// goes down the stack in one piece: every page starts with status
// kPassDown, each tier handles the pages still kPassDown and leaves the
// ones it does not take, and the last tier (the disk) takes all that is
// left — so the disk still sees contiguous runs of the pages the upper
// tiers rejected.
//
// Completion: a call returns when each page of its batch is final. A tier
// with latency (the disk, a remote store) keeps the whole batch in flight
// at once inside the call (PageIo submits every run together; io_uring
// keeps them in flight), so latency overlaps within a batch, and the swap
// cache lets other faults wait for a page under I/O without any tier lock.
//
// Thread-safety: every method may be called concurrently for distinct slots;
// the engine never has two operations in flight on one slot except
// Invalidate racing a tier's own writeback, which the tier must handle.
#pragma once

#include <cstdint>
#include <span>

#include "swap/swap_entry.h"

namespace uswap {

// Status of a page in a batch before a tier took it (and after, if none did).
inline constexpr int kPassDown = -1;
// SwapPage::tier of a page no tier has taken yet.
inline constexpr uint8_t kNoTier = 0xff;

struct SwapPage {
  SwapEntry entry;
  uint8_t* buf = nullptr;  // one page, page-aligned: Store reads it, Load fills it
  uint32_t sum = 0;        // Store: out, the page's checksum; Load: in, checked
  int status = kPassDown;  // out: 0 (done by this tier), kPassDown, or an errno
  uint8_t tier = kNoTier;  // the caller's: index in its stack of the tier that set status
};

class SwapBackend {
 public:
  virtual ~SwapBackend() = default;
  virtual const char* name() const = 0;
  // Keeps the pages whose status is kPassDown, or leaves them kPassDown
  // (rejected: the next tier stores them). status = 0 with `sum` set, or an
  // errno (the caller keeps the page in memory).
  virtual void Store(std::span<SwapPage> pages) = 0;
  // Fills the pages whose status is kPassDown that this tier holds: status
  // = 0 (bytes verified against `sum`), EBADMSG (they do not match: never
  // returned as data), another errno, or kPassDown (not here). A load does
  // not free anything: the caller calls Invalidate when the slot is freed
  // (an exclusive load = load, then free the slot once the page is safe in
  // memory, cf. zswap_load() marking the folio dirty).
  virtual void Load(std::span<SwapPage> pages) = 0;
  // The slot is being freed (its page was written, discarded, swapped off
  // or unmapped): drop whatever is kept for it. Called before the slot's
  // swap_map count drops, so a slot is never reallocated while a tier
  // still holds its old bytes.
  virtual void Invalidate(SwapEntry e) = 0;
};

}  // namespace uswap
