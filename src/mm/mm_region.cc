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
#include <cstring>
#include <string>

namespace uswap {

Result<std::unique_ptr<MmRegion>> MmRegion::Create(size_t bytes, size_t page_size, uint64_t id) {
  if (bytes == 0) return Status::InvalidArgument("region size is 0");
  std::unique_ptr<MmRegion> r(new MmRegion());
  r->page_size_ = page_size;
  r->pages_ = (bytes + page_size - 1) / page_size;
  r->size_ = r->pages_ * page_size;
  std::string name = "uswap-region-" + std::to_string(id);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("memfd_create", errno);
  r->memfd_.Reset(fd);
  if (ftruncate(fd, static_cast<off_t>(r->size_)) != 0)
    return Status::FromErrno("ftruncate(memfd, " + std::to_string(r->size_) + ")", errno);
  void* u = mmap(nullptr, r->size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (u == MAP_FAILED) return Status::FromErrno("mmap(user view)", errno);
  r->user_ = static_cast<uint8_t*>(u);
  // A child after fork must not inherit a region with no fault handler.
  madvise(r->user_, r->size_, MADV_DONTFORK);
  r->ptes_ = std::make_unique<PageEntry[]>(r->pages_);
  r->locks_ = std::make_unique<std::mutex[]>((r->pages_ + kBlockPages - 1) / kBlockPages);
  return r;
}

MmRegion::~MmRegion() {
  if (user_) munmap(user_, size_);
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

Status MmRegion::AllocateZeroed(uint64_t index, uint64_t n) {
  if (fallocate(memfd_.get(), 0, static_cast<off_t>(index * page_size_),
                static_cast<off_t>(n * page_size_)) != 0)
    return Status::FromErrno("fallocate(memfd)", errno);
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

bool MmRegion::IsZero(const void* p, size_t bytes) {
  const uint64_t* w = static_cast<const uint64_t*>(p);
  for (size_t i = 0; i < bytes / 8; i += 8) {
    if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7])
      return false;
  }
  return true;
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
