// PageIo: moves pages between memory and swap slots through the areas'
// block stores, and guards their integrity. cf. mm/page_io.c
// (swap_writepage(), swap_read_folio()). The bottom tier of the tier seam
// (swap_backend.h): it takes every page handed to it.
//
// - Runs of contiguous slots whose buffers are contiguous in memory go out
//   as one request; all requests of a call are submitted together, so a
//   store that keeps many in flight (io_uring) gets them at once.
// - Checksums (on by default): Write gives every page written a 32-bit
//   checksum of its bytes (XXH3, truncated), which the caller keeps in the
//   page table entry of the page owning the slot (PageEntry::sum: never on
//   disk, so a torn or stale slot cannot carry a matching sum, and no
//   per-slot array: memory is spent on slots in use only). Read checks the
//   sum it is given; a swap-in whose bytes do not match fails with EBADMSG
//   and is treated as a read error, never returned as data. A 32-bit sum
//   misses a random corruption with probability 2^-32.
// - Encryption (AES-256-GCM) keeps its tag and nonce per slot here (24
//   bytes per slot of the area): authentication needs the full tag.
//
// Thread-safety: Store/Load may be called concurrently for distinct slots.
// AttachArea/DetachArea must not race I/O on that area.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "mm/swap_backend.h"
#include "swap/swap_devices.h"
#include "swap/swap_entry.h"

namespace uswap {

// The page checksum PageIo gives (32 bits of XXH3; FNV-1a without
// libxxhash): every tier gives the same one, so a page keeps its sum when
// it moves between tiers.
uint32_t PageChecksum(const uint8_t* page, size_t n);

struct PageIoOptions {
  bool checksums = true;
  bool encrypt = false;  // AES-256-GCM with a random per-process key
};

class PageIo final : public SwapBackend {
 public:
  PageIo(SwapDevices* devices, const PageIoOptions& options);
  ~PageIo() override;

  // Sets up the per-slot metadata of area `type` (`pages` slots). Installed
  // as SwapDevices' attach hook, so it runs before any slot of the area can
  // be allocated. DetachArea after FinishSwapoff's last I/O.
  Status AttachArea(unsigned type, uint64_t pages);
  void DetachArea(unsigned type);

  const char* name() const override { return "disk"; }
  // Writes every page still kPassDown to its slot: status = 0 and sum = the
  // checksum to hand back to Load (checksum mode), or the errno of the
  // page's failure (EIO, ENOSPC, ...).
  void Store(std::span<SwapPage> pages) override;
  // Reads every page still kPassDown: status = 0, an I/O errno, or EBADMSG
  // (checksum / authentication failed).
  void Load(std::span<SwapPage> pages) override;
  // The slot's bytes stay on disk until it is written again.
  void Invalidate(SwapEntry) override {}

  const PageIoOptions& options() const { return options_; }

 private:
  struct AreaMeta;
  AreaMeta* meta(unsigned type) const { return areas_[type].get(); }
  // Submits the pages with status kPassDown, each through bufs[i], and sets
  // their status.
  void Submit(std::span<SwapPage> pages, BlockIo::Op op, std::span<uint8_t* const> bufs);

  SwapDevices* const devices_;
  const PageIoOptions options_;
  std::unique_ptr<AreaMeta> areas_[kMaxSwapFiles];
  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
};

}  // namespace uswap
