#include "mm/mm_region.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "base/check.h"
#include "base/log.h"
#include "base/test_hook.h"
#include "base/zeroed_array.h"

namespace uswap {

Result<std::unique_ptr<MmRegion>> MmRegion::Create(size_t bytes, size_t page_size, uint64_t id,
                                                   FramePool* budget, void* at) {
  if (bytes == 0) return Status::InvalidArgument("region size is 0");
  if (bytes > kMaxBytes)
    return Status::InvalidArgument("region of " + std::to_string(bytes) +
                                   " bytes is larger than the largest possible region (" +
                                   std::to_string(kMaxBytes) + " bytes, the user address space)");
  std::unique_ptr<MmRegion> r(new (std::nothrow) MmRegion());
  if (!r) return Status::NoSpace("out of memory for a region descriptor");
  r->page_size_ = page_size;
  r->pages_ = (bytes + page_size - 1) / page_size;
  r->size_ = r->pages_ * page_size;
  const uint64_t blocks = (r->pages_ + kBlockPages - 1) / kBlockPages;
  // Zero pages, untouched until used and wiped in a fork child (as the
  // groups and blocks below it).
  auto dir = ZeroedArray<std::atomic<Group*>>::TryMake((blocks + kGroupBlocks - 1) / kGroupBlocks);
  if (!dir)
    return Status::NoSpace("no address space for the page-table directory of a " +
                           std::to_string(r->size_) + "-byte region");
  r->dir_ = std::move(*dir);
  r->budget_ = budget;
  r->AddMetadata(r->dir_.size() * sizeof(std::atomic<Group*>));
  std::string name = "uswap-region-" + std::to_string(id);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("memfd_create", errno);
  r->memfd_.Reset(fd);
  if (ftruncate(fd, static_cast<off_t>(r->size_)) != 0)
    return Status::FromErrno("ftruncate(memfd, " + std::to_string(r->size_) + ")", errno);
  if (reinterpret_cast<uintptr_t>(at) % page_size != 0)
    return Status::InvalidArgument("region address is not page-aligned");
  void* u = mmap(at, r->size_, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_NORESERVE | (at ? MAP_FIXED : 0), fd, 0);
  if (u == MAP_FAILED) return Status::FromErrno("mmap(user view)", errno);
  r->user_ = static_cast<uint8_t*>(u);
  // A child after fork must not inherit a region with no fault handler.
  madvise(r->user_, r->size_, MADV_DONTFORK);
  // The budget counts 4 KiB frames: keep shmem huge pages off this view
  // (see CheckShmemHugePages for what this cannot cover).
  madvise(r->user_, r->size_, MADV_NOHUGEPAGE);
  return r;
}

void MmRegion::AddMetadata(uint64_t bytes) {
  metadata_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (budget_) budget_->ChargeMetadata(bytes);
}

MmRegion::~MmRegion() {
  if (budget_) budget_->UnchargeMetadata(metadata_bytes_.load(std::memory_order_relaxed));
  if (user_) munmap(user_, size_);
  for (uint64_t g = 0; g < dir_.size(); g++) {
    Group* grp = dir_[g].load(std::memory_order_relaxed);
    if (!grp) continue;
    for (auto& b : grp->blocks)
      if (Block* blk = b.load(std::memory_order_relaxed)) blk->~Block();
    UnmapZeroedPages(grp, sizeof(Group));
  }
  MutexLock l(&grow_mu_);
  for (uint8_t* slab : slabs_) UnmapZeroedPages(slab, kSlabBytes);
}

MmRegion::Block* MmRegion::AllocBlock(uint64_t block) {
  MutexLock l(&grow_mu_);
  std::atomic<Group*>& slot = dir_[block / kGroupBlocks];
  Group* g = slot.load(std::memory_order_relaxed);
  if (!g) {
    g = static_cast<Group*>(MapZeroedPages(sizeof(Group)));  // every pointer null
    slot.store(g, std::memory_order_release);
    AddMetadata(sizeof(Group));
  }
  std::atomic<Block*>& bslot = g->blocks[block % kGroupBlocks];
  if (Block* b = bslot.load(std::memory_order_relaxed)) return b;  // made meanwhile
  static_assert(sizeof(Block) <= kSlabBytes);
  const size_t at = (slab_used_ + alignof(Block) - 1) & ~(alignof(Block) - 1);
  if (at + sizeof(Block) > kSlabBytes) {
    slabs_.push_back(static_cast<uint8_t*>(MapZeroedPages(kSlabBytes)));
    slab_used_ = 0;
  } else {
    slab_used_ = at;
  }
  Block* b = new (slabs_.back() + slab_used_) Block();
  slab_used_ += sizeof(Block);
  AddMetadata(sizeof(Block));  // the slab's pages are touched block by block
  bslot.store(b, std::memory_order_release);
  return b;
}

uint16_t& MmRegion::PinWord(uint64_t index) {
  Block* b = FindBlock(index / kBlockPages);
  if (!b->pins) {
    b->pins = std::make_unique<uint16_t[]>(kBlockPages);
    AddMetadata(kBlockPages * sizeof(uint16_t));
  }
  return b->pins[index % kBlockPages];
}

bool MmRegion::Pin(uint64_t index) {
  uint16_t& n = PinWord(index);
  if ((n & kMaxPins) == kMaxPins) return false;
  n++;
  return true;
}

void MmRegion::Unpin(uint64_t index) {
  USWAP_CHECK(pin_count(index) > 0);
  PinWord(index)--;
}

bool MmRegion::Mlock(uint64_t index) {
  uint16_t& n = PinWord(index);
  if (n & kMlockBit) return false;
  n |= kMlockBit;
  return true;
}

bool MmRegion::Munlock(uint64_t index) {
  if (!mlocked(index)) return false;
  PinWord(index) &= ~kMlockBit;
  return true;
}

bool MmRegion::IsSameFilled(const void* p, size_t bytes, uint64_t* word) {
  const uint64_t* w = static_cast<const uint64_t*>(p);
  const uint64_t first = w[0];
  // Last word first: most pages that are not same-filled differ there.
  if (w[bytes / 8 - 1] != first) return false;
  uint64_t diff = 0;
  for (size_t i = 1; i < bytes / 8; i++) diff |= w[i] ^ first;
  if (diff) return false;
  *word = first;
  return true;
}

Status MmRegion::Zap(uint64_t index, uint64_t n) {
  if (madvise(user_ + index * page_size_, n * page_size_, MADV_DONTNEED) != 0)
    return Status::FromErrno("madvise(MADV_DONTNEED)", errno);
  return Status::OK();
}

Status MmRegion::PunchHole(uint64_t index, uint64_t n) {
  if (fallocate(memfd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                static_cast<off_t>(index * page_size_), static_cast<off_t>(n * page_size_)) != 0)
    return Status::FromErrno("fallocate(PUNCH_HOLE)", errno);
  return Status::OK();
}

Status MmRegion::CopyOut(uint64_t index, uint64_t n, void* buf) const {
  size_t want = n * page_size_, done = 0;
  while (done < want) {
    ssize_t got = pread(memfd_.get(), static_cast<uint8_t*>(buf) + done, want - done,
                        static_cast<off_t>(index * page_size_ + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Status::FromErrno("pread(memfd)", got < 0 ? errno : EIO);
    done += static_cast<size_t>(got);
  }
  return Status::OK();
}

Status MmRegion::CopyIn(uint64_t index, uint64_t n, const void* buf) {
  if (int e = TestErrno("memfd_copyin")) return Status::FromErrno("pwrite(memfd)", e);
  size_t want = n * page_size_, done = 0;
  while (done < want) {
    ssize_t put = pwrite(memfd_.get(), static_cast<const uint8_t*>(buf) + done, want - done,
                         static_cast<off_t>(index * page_size_ + done));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return Status::FromErrno("pwrite(memfd)", put < 0 ? errno : EIO);
    done += static_cast<size_t>(put);
  }
  return Status::OK();
}

Status MmRegion::ZeroFill(uint64_t index, uint64_t n) {
  alignas(4096) static const uint8_t kZeros[kBlockPages * 4096] = {};
  for (uint64_t done = 0; done < n;) {
    const uint64_t k = std::min<uint64_t>(n - done, sizeof kZeros / page_size_);
    size_t want = k * page_size_, put = 0;
    while (put < want) {
      ssize_t w = pwrite(memfd_.get(), kZeros + put, want - put,
                         static_cast<off_t>((index + done) * page_size_ + put));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return Status::FromErrno("pwrite(memfd, zeros)", w < 0 ? errno : EIO);
      put += static_cast<size_t>(w);
    }
    done += k;
  }
  return Status::OK();
}

Status ZapRanges(std::span<const struct iovec> ranges) {
  // PIDFD_SELF_THREAD_GROUP (kernel >= 6.14) names the calling process
  // without an fd, so a forked child can never zap its parent by mistake.
  constexpr int kPidfdSelf = -10001;
  static std::atomic<bool> batched{true};
  size_t i = 0;
  while (i < ranges.size() && batched.load(std::memory_order_relaxed)) {
    size_t n = std::min<size_t>(ranges.size() - i, 1024);  // UIO_MAXIOV
    ssize_t rc = syscall(SYS_process_madvise, kPidfdSelf, ranges.data() + i, n, MADV_DONTNEED, 0);
    if (rc < 0) {
      if (errno == EINVAL || errno == ENOSYS || errno == EPERM || errno == EBADF) {
        batched.store(false);  // this kernel cannot: one madvise per range
        break;
      }
      return Status::FromErrno("process_madvise(MADV_DONTNEED)", errno);
    }
    // A short result means the call stopped early: finish one by one.
    size_t bytes = static_cast<size_t>(rc), done = 0;
    while (done < n && bytes >= ranges[i + done].iov_len) bytes -= ranges[i + done++].iov_len;
    i += done;
    if (done < n) break;
  }
  for (; i < ranges.size(); i++)
    if (madvise(ranges[i].iov_base, ranges[i].iov_len, MADV_DONTNEED) != 0)
      return Status::FromErrno("madvise(MADV_DONTNEED)", errno);
  return Status::OK();
}

uint64_t MmRegion::ResidentBytes() const {
  struct stat st;
  if (fstat(memfd_.get(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace uswap
