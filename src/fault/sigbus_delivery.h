// SigbusDelivery: SIGBUS self-service fault delivery (opt-in).
//
// With UFFD_FEATURE_SIGBUS the kernel does not queue faults on the
// userfaultfd; it sends SIGBUS (BUS_ADRERR) to the faulting thread, whose
// handler resolves the fault itself and returns, so the access is retried
// with no cross-thread wake-up (~2x cheaper minor faults, DESIGN.md §4).
//
// Limits (documented in options.h):
//  - a system call that touches a non-resident page fails with EFAULT
//    instead of faulting (the kernel cannot run a signal handler for it);
//  - one SigbusDelivery per process (the SIGBUS handler is process-wide);
//  - the write flag of the access is unknown: a read-mapped clean page takes
//    a second (write-protect) fault when written.
// SIGBUS that is not a uswap fault (another mapping, a poisoned page) goes
// to the handler installed before, or kills the process as usual.
#pragma once

#include <signal.h>

#include "fault/uffd.h"
#include "mm/memory.h"

namespace uswap {

class SigbusDelivery {
 public:
  explicit SigbusDelivery(FaultHandler* handler) : handler_(handler) {}
  ~SigbusDelivery() { Uninstall(); }

  // Installs the process-wide SIGBUS handler. Busy if another is active.
  Status Install();
  void Uninstall();

 private:
  static void OnSigbus(int sig, siginfo_t* info, void* ctx);
  bool Resolve(uintptr_t addr);
  FaultHandler* const handler_;
  bool installed_ = false;
};

}  // namespace uswap
