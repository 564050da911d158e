// Userfaultfd: RAII owner of one userfaultfd and its ioctls.
// cf. fs/userfaultfd.c, mm/userfaultfd.c.
//
// Debian 12's <linux/userfaultfd.h> predates the kernel we run (6.18): the
// newer constants (UFFDIO_CONTINUE_MODE_WP, UFFDIO_POISON, ...) are defined
// here and every feature is probed with UFFDIO_API at Open(), so a kernel
// that lacks one fails with a message naming it instead of misbehaving.
//
// Thread-safety: ioctls may be issued from any thread concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/unique_fd.h"
#include "mm/pte_ops.h"
#include "uswap/status.h"

namespace uswap {

struct UffdFault {
  uintptr_t address = 0;  // faulting address (page-aligned by the reader)
  bool write = false;     // the access was a write
  bool wp = false;        // write-protect fault (write to a page mapped write-protected)
  bool minor = false;     // page present in the page cache, PTE missing
};

class Userfaultfd final : public PteOps {
 public:
  // Opens a userfaultfd (non-blocking) with the features uswap needs for
  // shmem regions: MISSING_SHMEM, MINOR_SHMEM, WP_HUGETLBFS_SHMEM
  // (write-protect on shmem) and POISON (read errors -> SIGBUS), plus
  // SIGBUS when `sigbus` is set, and checks with a throw-away registration
  // that UFFDIO_CONTINUE accepts UFFDIO_CONTINUE_MODE_WP. A kernel that
  // lacks any of them is refused here with a message naming the feature
  // and the kernel that has it (audit F8), never later in a fault.
  // Without the privilege for kernel-mode faults it falls back to a
  // user-mode-only userfaultfd (with a warning); `kernel_faults` refuses
  // that instead (`uswap run`, whose programs read(2) into their memory).
  static Result<Userfaultfd> Open(bool sigbus, bool kernel_faults = false);
  // The feature check of Open on the UFFDIO_API answer `available`: OK, or
  // NotSupported naming the first missing feature and this kernel's release.
  static Status CheckFeatures(uint64_t available, bool sigbus);

  Userfaultfd() = default;
  Userfaultfd(Userfaultfd&&) noexcept = default;
  Userfaultfd& operator=(Userfaultfd&&) noexcept = default;

  int fd() const { return fd_.get(); }

  // Registers [addr, addr+len) for MISSING, MINOR and WP faults.
  Status Register(void* addr, size_t len);
  Status Unregister(void* addr, size_t len);

  // PteOps, with the userfaultfd's ioctls (contracts in mm/pte_ops.h):
  // Continue / TryContinue = UFFDIO_CONTINUE (EEXIST: a page mapped
  // already; Continue skips it page by page and wakes its waiters),
  // ZeroPage = UFFDIO_ZEROPAGE, CopyPages = UFFDIO_COPY (one system call
  // where fallocate/pwrite + CONTINUE took two; EEXIST is an error there:
  // the page table said the range was empty), Unprotect =
  // UFFDIO_WRITEPROTECT, Wake = UFFDIO_WAKE, Poison = UFFDIO_POISON.
  Result<size_t> Continue(uintptr_t addr, size_t len, bool write_protect) override;
  Result<bool> TryContinue(uintptr_t addr, size_t len, bool write_protect) override;
  Status ZeroPage(uintptr_t addr, size_t len, size_t* done) override;
  Status CopyPages(uintptr_t addr, const void* src, size_t len, bool write_protect,
                   size_t* done) override;
  Status Unprotect(uintptr_t addr, size_t len) override;
  Status Wake(uintptr_t addr, size_t len) override;
  Status Poison(uintptr_t addr, size_t len) override;

  // Reads up to out.size() pending fault messages (non-blocking). Returns
  // how many were read (0 when none are pending). Non-fault events are
  // skipped.
  Result<size_t> ReadFaults(std::span<UffdFault> out);

 private:
  explicit Userfaultfd(UniqueFd fd) : fd_(std::move(fd)) {}
  Status ProbeContinueWp();
  UniqueFd fd_;
};

}  // namespace uswap
