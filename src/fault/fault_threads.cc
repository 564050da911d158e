#include "fault/fault_threads.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cstring>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "base/thread.h"

namespace uswap {

Status FaultThreads::Start(unsigned n, unsigned poll_us) {
  window_.set_max_us(poll_us);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Status::FromErrno("eventfd", errno);
  stop_fd_.Reset(efd);
  for (unsigned i = 0; i < n; i++)
    threads_.push_back(StartThread("uswap-fault" + std::to_string(i), [this] { Run(); }));
  return Status::OK();
}

void FaultThreads::Stop() {
  stopping_.store(true);
  if (stop_fd_.valid()) {
    uint64_t one = 1;
    ssize_t w = write(stop_fd_.get(), &one, sizeof one);
    (void)w;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  stop_fd_.Reset();
}

void FaultThreads::Run() {
  // Each thread waits in its own epoll instance with EPOLLEXCLUSIVE on the
  // userfaultfd, so a fault wakes one handler, not all of them (with plain
  // poll(2) every handler woke for every fault and all but one found
  // nothing to read: twice the wake-ups on 2 vCPUs for 2 handlers).
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.u32 = 0;
  bool exclusive = ep.valid() && epoll_ctl(ep.get(), EPOLL_CTL_ADD, uffd_->fd(), &ev) == 0;
  ev.events = EPOLLIN;
  ev.data.u32 = 1;
  if (exclusive) exclusive = epoll_ctl(ep.get(), EPOLL_CTL_ADD, stop_fd_.get(), &ev) == 0;
  for (;;) {
    bool stop = false, ready = false;
    if (exclusive) {
      epoll_event events[2];
      int n = epoll_wait(ep.get(), events, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        Log(LogLevel::kError, "fault thread: epoll_wait failed: %s", std::strerror(errno));
        return;
      }
      for (int i = 0; i < n; i++) {
        if (events[i].data.u32 == 1)
          stop = true;
        else if (events[i].events & (EPOLLERR | EPOLLHUP))
          stop = true;
        else
          ready = true;
      }
    } else {
      pollfd fds[2] = {{uffd_->fd(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
      int rc = poll(fds, 2, -1);
      if (rc < 0) {
        if (errno == EINTR) continue;
        Log(LogLevel::kError, "fault thread: poll failed: %s", std::strerror(errno));
        return;
      }
      stop = fds[1].revents || (fds[0].revents & (POLLERR | POLLHUP));
      ready = fds[0].revents & POLLIN;
    }
    if (stop) return;
    if (!ready) continue;
    // A fault after the poll window ran out: adapt the window to the gap.
    if (int64_t since = idle_since_ns_.exchange(0); since != 0)
      window_.Adjust(static_cast<uint64_t>(MonotonicNs() - since) / 1000);
    // Drain: with exclusive wake-ups a woken thread must not leave faults
    // queued behind it.
    const uint64_t reads = handler_->disk_reads();
    if (!Drain()) return;
    // Then poll, if no other thread does, and only after faults resolved
    // in memory (the compressed tier's included): when they wait for the
    // disk its latency dwarfs a wake-up, and a poller only took CPU from
    // reclaim and the I/O (measured: swap-in 64 -> 78 µs with polling;
    // doc/engine.md). This thread's own reads.
    if (handler_->disk_reads() == reads && !polling_.exchange(true)) {
      const bool ok = Poll();
      polling_.store(false);
      if (!ok) return;
    }
  }
}

bool FaultThreads::Drain() {
  // One message per read: a thread that takes a batch would serialise
  // faults other handlers could resolve meanwhile (a slow swap-in would
  // hold up every fault read with it).
  UffdFault faults[1];
  for (;;) {
    Result<size_t> n = uffd_->ReadFaults(faults);
    if (!n.ok()) {
      Log(LogLevel::kError, "fault thread: %s", n.status().ToString().c_str());
      return false;
    }
    if (*n == 0) return true;
    handler_->Handle(faults[0].address, faults[0].write, faults[0].wp);
  }
}

bool FaultThreads::Poll() {
  UffdFault faults[1];
  const uint64_t window = window_.us();
  int64_t deadline = MonotonicNs() + static_cast<int64_t>(window) * 1000;
  while (window && !stopping_.load(std::memory_order_relaxed)) {
    Result<size_t> n = uffd_->ReadFaults(faults);
    if (!n.ok()) {
      Log(LogLevel::kError, "fault thread: %s", n.status().ToString().c_str());
      return false;
    }
    const int64_t now = MonotonicNs();
    if (*n) {
      const uint64_t reads = handler_->disk_reads();
      handler_->Handle(faults[0].address, faults[0].write, faults[0].wp);
      if (handler_->disk_reads() != reads) break;  // see Run
      deadline = MonotonicNs() + static_cast<int64_t>(window) * 1000;
      continue;
    }
    if (now >= deadline) break;
    // Let any runnable thread on this CPU go first: the poller only uses
    // time nobody else wants.
    sched_yield();
  }
  idle_since_ns_.store(MonotonicNs());
  return true;
}

}  // namespace uswap
