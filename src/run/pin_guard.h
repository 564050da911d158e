// PinGuard: keeps the kernel from writing a `uswap run` program's memory
// behind userfaultfd's back (issue 9, point 5; engine audit F3).
//
// userfaultfd sees every access the program makes and every copy the kernel
// makes through the program's addresses (read(2) into a heap buffer). It
// does not see a device or the kernel writing through a *pinned page*: an
// O_DIRECT read DMAs into the page it pinned, and io_uring's registered
// buffers, provided-buffer rings and user-memory rings stay pinned for the
// life of the ring. uswap may swap such a page out meanwhile; the write
// then lands in a page the program no longer maps, and the program reads
// the old contents back from swap: silent loss. The kernel's own reclaim
// skips pinned pages (folio_maybe_dma_pinned in shrink_folio_list); uswap
// cannot see pins, so it keeps them from being taken on its memory:
//  - the shim makes the C library's open(O_DIRECT) and fcntl(F_SETFL,
//    O_DIRECT) buffered (the kernel then copies through the program's
//    addresses, which userfaultfd sees);
//  - what the shim cannot interpose — system calls made directly (liburing
//    makes its own), in any process of the tree — a seccomp filter with a
//    user-space supervisor (SECCOMP_RET_USER_NOTIF, the pattern of
//    container runtimes' syscall supervisors) inspects: O_DIRECT opens and
//    fcntls, io_uring_setup, and the io_uring_register operations that pin
//    user memory. The supervisor reads the calling process's uswap memory
//    from /proc/PID/maps (the `/memfd:uswap-region-` mappings) and the
//    call's arguments from its memory (process_vm_readv), and refuses the
//    call — EINVAL for O_DIRECT, as a file system without direct I/O says
//    (programs fall back to buffered I/O), EOPNOTSUPP for io_uring — only
//    when the memory the kernel would pin is uswap memory, with one line on
//    the process's stderr naming the call, the reason and the way out.
//    Everything else continues unchanged (SECCOMP_USER_NOTIF_FLAG_CONTINUE):
//    a process of the tree without uswap memory (a static binary, a
//    set-user-ID program) is never refused anything.
//
// The supervisor is a daemon of its own, outside the tree (so that no
// wait() of the program sees it), holding none of the program's files; it
// exits when the last process using the filter is gone (the listener then
// reports POLLHUP). A filter needs no_new_privs unless the caller has
// CAP_SYS_ADMIN: `uswap run` sets it then (set-user-ID programs the tree
// starts run without their privileges, as under Docker's
// no-new-privileges); `--no-pin-guard` leaves both out.
//
// x86-64 only (the filter's system call numbers); elsewhere StartPinGuard
// says so.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/supervisor_pass.h"  // the engine's own calls pass the filter
#include "run/range_set.h"
#include "uswap/status.h"

namespace uswap {

// What the supervisor needs of the calling process, behind an interface so
// that the decisions are tested without a filter.
class PinGuardTarget {
 public:
  virtual ~PinGuardTarget() = default;
  // Copies len bytes at addr out of the process; false with errno set when
  // it cannot (EFAULT: not mapped or not readable).
  virtual bool Read(uint64_t addr, void* out, size_t len) = 0;
  // The process's uswap memory (empty: it has none).
  virtual const std::vector<AddrRange>& UswapRanges() = 0;
};

struct PinGuardVerdict {
  bool allow = true;
  int error = 0;       // errno the call fails with when !allow
  std::string call;    // the call as the message names it
  std::string reason;  // why, and the way out
};

// The decision for one trapped system call (x86-64 numbers and arguments).
PinGuardVerdict JudgePinningCall(int nr, const uint64_t args[6], PinGuardTarget& target);

// The uswap memory of a process, from the text of its /proc/PID/maps.
std::vector<AddrRange> UswapRangesInMaps(std::string_view maps);

// Installs the filter on the calling process (for it and every process it
// starts or execs) and starts the supervisor. Call just before exec; the
// Status names what failed (no seccomp user notification in this kernel,
// not x86-64).
Status StartPinGuard();

}  // namespace uswap
