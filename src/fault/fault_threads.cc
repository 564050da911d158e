#include "fault/fault_threads.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>

#include <cstring>
#include <string>

#include "base/log.h"

namespace uswap {

Status FaultThreads::Start(unsigned n) {
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Status::FromErrno("eventfd", errno);
  stop_fd_.Reset(efd);
  for (unsigned i = 0; i < n; i++) {
    threads_.emplace_back([this] { Run(); });
    std::string name = "uswap-fault" + std::to_string(i);
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
  }
  return Status::OK();
}

void FaultThreads::Stop() {
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
  UffdFault faults[16];
  for (;;) {
    pollfd fds[2] = {{uffd_->fd(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    int rc = poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "fault thread: poll failed: %s", std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (fds[0].revents & (POLLERR | POLLHUP)) return;
    Result<size_t> n = uffd_->ReadFaults(faults);
    if (!n.ok()) {
      Log(LogLevel::kError, "fault thread: %s", n.status().ToString().c_str());
      return;
    }
    for (size_t i = 0; i < *n; i++) handler_->Handle(faults[i]);
  }
}

}  // namespace uswap
