// FaultThreads: handler threads that read faults from the userfaultfd and
// resolve them (the default fault delivery). Correct for every access,
// including system calls that touch region memory (read(2) into a region
// buffer), because the kernel itself waits for the handler.
//
// Threads sleep in epoll_wait on the userfaultfd (EPOLLEXCLUSIVE: one wakes
// per fault) and an eventfd used to stop them. After a fault, one of them at
// a time polls the userfaultfd for a while before it sleeps (PollWindow): on
// a VM whose idle vCPUs halt, each sleep-to-wake costs a hypervisor round
// trip, which dominated the fault (doc/engine.md, "Where the time goes").
// Always-on busy polling was measured slower on 2 vCPUs (DESIGN.md §4): the
// window is bounded, adaptive, held by one thread, and yields the CPU.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "fault/uffd.h"
#include "mm/memory.h"

namespace uswap {

// The adaptive poll window, the twin of the cpuidle haltpoll governor
// (drivers/cpuidle/governors/haltpoll.c, adjust_poll_limit): a sleep that
// ended within the maximum window grows it (doubling from kGrowStart), one
// that lasted longer shrinks it (halving), so the poller spends CPU only
// while faults come closer together than the maximum.
// Thread-safety: used by the poller token holder only (FaultThreads).
class PollWindow {
 public:
  static constexpr uint64_t kGrowStart = 10;  // µs
  // Before any thread uses the window.
  void set_max_us(uint64_t max_us) { max_us_ = max_us; }
  uint64_t us() const { return us_.load(std::memory_order_relaxed); }
  // Records a sleep of `slept_us` that began when the window ran out.
  void Adjust(uint64_t slept_us) {
    uint64_t w = us();
    if (slept_us <= max_us_)
      w = w == 0 ? std::min(kGrowStart, max_us_) : std::min(w * 2, max_us_);
    else
      w /= 2;
    us_.store(w, std::memory_order_relaxed);
  }

 private:
  uint64_t max_us_ = 0;
  std::atomic<uint64_t> us_{0};
};

class FaultThreads {
 public:
  FaultThreads(FaultHandler* handler, Userfaultfd* uffd) : handler_(handler), uffd_(uffd) {}
  ~FaultThreads() { Stop(); }

  // Starts n handler threads; poll_us bounds the poll window (0: never poll).
  Status Start(unsigned n, unsigned poll_us);
  // Stops and joins every thread. Idempotent.
  void Stop();

 private:
  void Run();
  // Reads and resolves faults until none is pending. False on a fatal
  // userfaultfd error (logged).
  bool Drain();
  // Holding the poller token: reads and resolves faults until the window
  // passes with none. False on a fatal userfaultfd error.
  bool Poll();
  FaultHandler* const handler_;
  Userfaultfd* const uffd_;
  UniqueFd stop_fd_;
  PollWindow window_;
  std::atomic<bool> polling_{false};       // the poller token: one poller at a time
  std::atomic<bool> stopping_{false};      // Stop() was called
  std::atomic<int64_t> idle_since_ns_{0};  // when the last poll window ran out
  std::vector<std::thread> threads_;
};

}  // namespace uswap
