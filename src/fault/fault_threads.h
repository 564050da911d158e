// FaultThreads: handler threads that read faults from the userfaultfd and
// resolve them (the default fault delivery). Correct for every access,
// including system calls that touch region memory (read(2) into a region
// buffer), because the kernel itself waits for the handler.
//
// Threads block in poll(2) on the userfaultfd and an eventfd used to stop
// them; busy polling was measured slower on 2 vCPUs (DESIGN.md §4).
#pragma once

#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "fault/fault_handler.h"

namespace uswap {

class FaultThreads {
 public:
  FaultThreads(FaultHandler* handler, Userfaultfd* uffd) : handler_(handler), uffd_(uffd) {}
  ~FaultThreads() { Stop(); }

  Status Start(unsigned n);
  // Stops and joins every thread. Idempotent.
  void Stop();

 private:
  void Run();
  FaultHandler* const handler_;
  Userfaultfd* const uffd_;
  UniqueFd stop_fd_;
  std::vector<std::thread> threads_;
};

}  // namespace uswap
