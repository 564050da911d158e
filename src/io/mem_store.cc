#include "io/mem_store.h"

#include <cstring>

#include "base/check.h"

namespace uswap {

MemStore::MemStore(size_t page_size, uint64_t nr_slots)
    : BlockStore(page_size, nr_slots), bytes_(page_size * nr_slots) {}

void MemStore::Corrupt(uint64_t slot, size_t byte_offset) {
  USWAP_CHECK(slot < nr_slots() && byte_offset < page_size());
  MutexLock lock(&mu_);
  std::byte& b = bytes_[slot * page_size() + byte_offset];
  b = ~b;
}

void MemStore::CopySlot(uint64_t slot, void* out) const {
  USWAP_CHECK(slot < nr_slots());
  MutexLock lock(&mu_);
  std::memcpy(out, &bytes_[slot * page_size()], page_size());
}

void MemStore::SubmitImpl(std::span<BlockIo> ios) {
  MutexLock lock(&mu_);
  for (BlockIo& io : ios) {
    std::byte* slot = &bytes_[io.slot * page_size()];
    const size_t len = size_t{io.nr} * page_size();
    if (io.op == BlockIo::Op::kRead) {
      std::memcpy(io.buf, slot, len);
    } else {
      std::memcpy(slot, io.buf, len);
    }
    io.error = 0;
  }
}

Status MemStore::SyncImpl() {
  syncs_.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

}  // namespace uswap
