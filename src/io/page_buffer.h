// PageBuffer: an owned, zero-filled buffer aligned for block I/O (the
// alignment BlockStore::IoAlignment() asks for, 4096 by default), for tools,
// tests and bounce copies. Move-only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "base/check.h"

namespace uswap {

class PageBuffer {
 public:
  PageBuffer() = default;
  // REQUIRES: align is a power of two, multiple of sizeof(void*).
  explicit PageBuffer(size_t bytes, size_t align = 4096) : size_(bytes) {
    const size_t rounded = (bytes + align - 1) / align * align;
    if (rounded == 0) return;
    data_.reset(static_cast<std::byte*>(std::aligned_alloc(align, rounded)));
    USWAP_CHECK_MSG(data_ != nullptr, "PageBuffer: out of memory");
    std::memset(data_.get(), 0, rounded);
  }

  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<std::byte> span() { return {data_.get(), size_}; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t size_ = 0;
};

// A per-thread I/O buffer of at least `bytes` bytes, reused across calls
// (contents unspecified). Large buffers from malloc come from mmap and go
// back with munmap, which flushes TLBs on every CPU the process runs on;
// on the hot paths of reclaim and swap-in that costs more than the I/O.
// `slot` separates users that may nest on one thread (0: mm, 1: page I/O,
// 2: the compressed tier's output, 3: its write-back batch).
// Valid until the next call with the same slot on the same thread.
inline std::byte* ThreadScratch(unsigned slot, size_t bytes) {
  static thread_local PageBuffer buffers[4];
  USWAP_CHECK(slot < 4);
  if (buffers[slot].size() < bytes) buffers[slot] = PageBuffer(std::max<size_t>(bytes, 64 << 10));
  return buffers[slot].data();
}

}  // namespace uswap
