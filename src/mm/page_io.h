// PageIo: moves pages between memory and swap slots through the areas'
// block stores, and guards their integrity. cf. mm/page_io.c
// (swap_writepage(), swap_read_folio()).
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
// Thread-safety: Write/Read may be called concurrently for distinct slots.
// AttachArea/DetachArea must not race I/O on that area.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "swap/swap_devices.h"
#include "swap/swap_entry.h"

namespace uswap {

struct PageRead {
  SwapEntry entry;
  uint8_t* buf;      // one page, page-aligned
  uint32_t sum = 0;  // the checksum Write gave (checked in checksum mode)
};
struct PageWrite {
  SwapEntry entry;
  const uint8_t* buf;
  uint32_t sum = 0;  // out: the page's checksum (checksum mode), for Read
};

struct PageIoOptions {
  bool checksums = true;
  bool encrypt = false;  // AES-256-GCM with a random per-process key
};

class PageIo {
 public:
  PageIo(SwapDevices* devices, const PageIoOptions& options);
  ~PageIo();

  // Sets up the per-slot metadata of area `type` (`pages` slots). Installed
  // as SwapDevices' attach hook, so it runs before any slot of the area can
  // be allocated. DetachArea after FinishSwapoff's last I/O.
  Status AttachArea(unsigned type, uint64_t pages);
  void DetachArea(unsigned type);

  // errors[i] = 0 or the errno of page i's failure (EIO, ENOSPC, ...);
  // pages[i].sum = the checksum to hand back to Read.
  void Write(std::span<PageWrite> pages, std::vector<int>& errors);
  // errors[i] = 0, an I/O errno, or EBADMSG (checksum / authentication failed).
  void Read(std::span<const PageRead> pages, std::vector<int>& errors);

  const PageIoOptions& options() const { return options_; }

 private:
  struct AreaMeta;
  AreaMeta* meta(unsigned type) const { return areas_[type].get(); }
  template <typename Page>
  void Submit(std::span<const Page> pages, BlockIo::Op op, std::vector<int>& errors,
              std::span<uint8_t* const> bufs);

  SwapDevices* const devices_;
  const PageIoOptions options_;
  std::unique_ptr<AreaMeta> areas_[kMaxSwapFiles];
  struct Cipher;
  std::unique_ptr<Cipher> cipher_;
};

}  // namespace uswap
