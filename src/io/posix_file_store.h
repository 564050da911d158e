// PosixFileStore ("file"): page I/O with pread/pwrite on one file
// descriptor. cf. swap_readpage() / __swap_writepage() on a swap file, which
// go straight to the file's blocks (swap_extent) rather than through its
// page cache; O_DIRECT is our way of skipping the page cache too.
//
// A batch's requests are issued one after another by the calling thread; a
// multi-slot run is one pread/pwrite. Short transfers are continued and
// EINTR retried; a read that hits end of file (0 bytes) or a write that makes
// no progress fails that request with EIO.
//
// Thread-safety: pread/pwrite carry their own offset, so any number of
// threads may call Submit concurrently on one store.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "io/block_store.h"

namespace uswap {

// How OpenPageFile() calls open(2) (never with O_CREAT): a fake in tests.
using OpenSyscall = int (*)(const char* path, int flags);

struct PageFile {
  UniqueFd fd;
  bool direct_io = false;  // O_DIRECT is in effect
};

// Opens an existing `path` for page I/O: O_RDWR | O_NOFOLLOW | O_CLOEXEC,
// plus O_DIRECT when `direct_io` is asked and the file system accepts it (an
// open refused with EINVAL is retried without O_DIRECT). Fails with the
// open(2) error naming the path (a symlink gives ELOOP). `open_syscall`
// replaces open(2) when not null.
Result<PageFile> OpenPageFile(const std::string& path, bool direct_io,
                              OpenSyscall open_syscall = nullptr);

class PosixFileStore final : public BlockStore {
 public:
  static Result<std::unique_ptr<PosixFileStore>> Open(const std::string& path, size_t page_size,
                                                      uint64_t nr_slots, bool direct_io);
  // Takes over an open descriptor (see OpenPageFile).
  PosixFileStore(PageFile file, size_t page_size, uint64_t nr_slots);

  std::string_view name() const override { return "file"; }
  bool direct_io() const { return direct_io_; }

 protected:
  void SubmitImpl(std::span<BlockIo> ios) override;
  Status SyncImpl() override;

 private:
  const UniqueFd fd_;
  const bool direct_io_;
};

// Transfers `len` bytes at `offset` with pread/pwrite, continuing short
// transfers and retrying EINTR. Returns 0 or an errno; a transfer that
// makes no progress (end of file) is EIO.
int TransferAll(int fd, BlockIo::Op op, void* buf, size_t len, off_t offset);

}  // namespace uswap
