#include "io/posix_file_store.h"

#include <unistd.h>

#include <cerrno>

#include "base/log.h"

namespace uswap {

namespace {
int SysOpen(const char* path, int flags) { return ::open(path, flags); }
}  // namespace

Result<PageFile> OpenPageFile(const std::string& path, bool direct_io, OpenSyscall open_syscall) {
  if (open_syscall == nullptr) open_syscall = &SysOpen;
  const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC;
  if (direct_io) {
    // EINVAL at open is how a file system without direct I/O says so; the
    // store then works through the page cache instead.
    UniqueFd fd(open_syscall(path.c_str(), flags | O_DIRECT));
    if (fd.valid()) return PageFile{std::move(fd), true};
    if (errno != EINVAL) return Status::FromErrno("open " + path, errno);
    // Not silent: every swapped page then also sits in the kernel's page
    // cache, outside the RAM budget (and on tmpfs the "swap" is RAM).
    Log(LogLevel::kWarning,
        "%s: the file system refuses O_DIRECT; swap I/O goes through the page cache, whose "
        "memory is outside the RAM budget (on tmpfs the swap area itself is RAM)",
        path.c_str());
  }
  UniqueFd fd(open_syscall(path.c_str(), flags));
  if (!fd.valid()) return Status::FromErrno("open " + path, errno);
  return PageFile{std::move(fd), false};
}

int TransferAll(int fd, BlockIo::Op op, void* buf, size_t len, off_t offset) {
  auto* const start = static_cast<char*>(buf);
  char* p = start;
  while (len > 0) {
    const ssize_t n =
        op == BlockIo::Op::kRead ? ::pread(fd, p, len, offset) : ::pwrite(fd, p, len, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      // After a partial transfer, a refused continuation (an unaligned
      // O_DIRECT offset at end of file) is still a short transfer.
      return (errno == EINVAL && p != start) ? EIO : errno;
    }
    if (n == 0) return EIO;  // end of file, or a device that takes nothing
    p += n;
    len -= static_cast<size_t>(n);
    offset += n;
  }
  return 0;
}

Result<std::unique_ptr<PosixFileStore>> PosixFileStore::Open(const std::string& path,
                                                             size_t page_size, uint64_t nr_slots,
                                                             bool direct_io) {
  USWAP_ASSIGN_OR_RETURN(PageFile file, OpenPageFile(path, direct_io));
  return std::make_unique<PosixFileStore>(std::move(file), page_size, nr_slots);
}

PosixFileStore::PosixFileStore(PageFile file, size_t page_size, uint64_t nr_slots)
    : BlockStore(page_size, nr_slots), fd_(std::move(file.fd)), direct_io_(file.direct_io) {}

void PosixFileStore::SubmitImpl(std::span<BlockIo> ios) {
  for (BlockIo& io : ios) {
    io.error = TransferAll(fd_.get(), io.op, io.buf, size_t{io.nr} * page_size(),
                           static_cast<off_t>(io.slot * page_size()));
  }
}

Status PosixFileStore::SyncImpl() {
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno("file: fdatasync", errno);
  return Status::OK();
}

}  // namespace uswap
