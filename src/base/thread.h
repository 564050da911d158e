// StartThread: every thread uswap creates (fault handlers, kswapd) starts
// here, with every signal blocked and a name (visible in /proc/PID/task/*/comm).
//
// Why blocked: a process-directed signal is delivered to any thread that
// does not block it. If its handler ran on a uswap thread holding a
// page-table block lock and touched region memory, the fault it takes
// would need that very lock (self-deadlock), and with one handler thread
// every such handler would hang. The kernel's kthreads ignore signals for
// the same reason.
//
// The synchronous signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) stay
// open: they come from the thread's own fault (a bug in uswap), never from
// another thread. Blocked, the kernel would force the default action and
// kill the process without running any handler, so a sanitizer's or a
// crash reporter's handler could not say where the fault was.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <string>
#include <thread>
#include <utility>

namespace uswap {

template <typename Fn>
std::thread StartThread(const std::string& name, Fn&& fn) {
  sigset_t all, old;
  sigfillset(&all);
  for (int sync : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) sigdelset(&all, sync);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the new thread inherits the mask
  std::thread t(std::forward<Fn>(fn));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_setname_np(t.native_handle(), name.substr(0, 15).c_str());
  return t;
}

}  // namespace uswap
