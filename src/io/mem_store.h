// MemStore ("mem"): a swap area held in memory, for tests of everything
// above io/. Behaves as a file store would (same validation, same alignment
// rule) and adds hooks a test needs: Corrupt() flips a byte behind the
// engine's back (to prove checksums catch it), CopySlot() inspects a slot
// without going through the checks, sync_count() tells whether Sync ran.
// Not in the OpenBlockStore() registry: construct it directly.
//
// Thread-safety: every method may be called concurrently; one mutex
// serialises the copies (tests want determinism, not speed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "io/block_store.h"

namespace uswap {

class MemStore final : public BlockStore {
 public:
  // All slots (header slot included) start zero-filled.
  MemStore(size_t page_size, uint64_t nr_slots);

  std::string_view name() const override { return "mem"; }

  // Flips every bit of one byte of `slot` (slot 0 allowed: tests may damage
  // the header too). REQUIRES: slot < nr_slots, byte_offset < page_size.
  void Corrupt(uint64_t slot, size_t byte_offset);
  // Copies slot `slot` (any slot, 0 included) into `out` (page_size bytes).
  void CopySlot(uint64_t slot, void* out) const;
  uint64_t sync_count() const { return syncs_.load(std::memory_order_relaxed); }

 protected:
  void SubmitImpl(std::span<BlockIo> ios) override;
  Status SyncImpl() override;

 private:
  mutable Mutex mu_;
  std::vector<std::byte> bytes_ GUARDED_BY(mu_);  // nr_slots * page_size
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace uswap
