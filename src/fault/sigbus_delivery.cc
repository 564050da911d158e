#include "fault/sigbus_delivery.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace uswap {

namespace {
std::atomic<SigbusDelivery*> g_active{nullptr};
struct sigaction g_previous;  // the disposition before the first Install()

// A fork() child has none of the parent's regions (MADV_DONTFORK) and none
// of its threads: its SIGBUS signals are never uswap faults. Disarm there,
// so that OnSigbus passes every signal on and never takes the parent's
// locks (inherited in whatever state they were at fork time).
void DisarmInChild() { g_active.store(nullptr); }
}  // namespace

Status SigbusDelivery::Install() {
  static std::once_flag atfork;
  std::call_once(atfork, [] { pthread_atfork(nullptr, nullptr, &DisarmInChild); });
  SigbusDelivery* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, this))
    return Status::Busy("SIGBUS fault delivery is already used by another Space in this process");
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &SigbusDelivery::OnSigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old;
  if (sigaction(SIGBUS, &sa, &old) != 0) {
    g_active.store(nullptr);
    return Status::FromErrno("sigaction(SIGBUS)", errno);
  }
  // Still ours (a Space of a fork() child, or one opened after another was
  // closed without restoring): keep the disposition found the first time,
  // never chain to ourselves.
  if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == &SigbusDelivery::OnSigbus))
    g_previous = old;
  installed_ = true;
  return Status::OK();
}

void SigbusDelivery::Uninstall() {
  if (!installed_) return;
  sigaction(SIGBUS, &g_previous, nullptr);
  g_active.store(nullptr);
  installed_ = false;
}

bool SigbusDelivery::Resolve(uintptr_t addr) { return handler_->HandleSigbus(addr); }

void SigbusDelivery::OnSigbus(int sig, siginfo_t* info, void* ctx) {
  const int saved_errno = errno;
  SigbusDelivery* self = g_active.load();
  if (self && info->si_code == BUS_ADRERR &&
      self->Resolve(reinterpret_cast<uintptr_t>(info->si_addr))) {
    errno = saved_errno;
    return;  // the access is retried and now succeeds
  }
  // Not ours (another mapping, a poisoned page, kill(2)/sigqueue(3)):
  // exactly what the program would have seen without uswap (audit F11:
  // this used to swallow a sent SIGBUS and leave uswap disarmed for good).
  // si_code <= 0: sent by a process (SI_USER, SI_QUEUE, SI_TKILL), not a fault.
  const bool sent = info->si_code <= 0;
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) {
      g_previous.sa_sigaction(sig, info, ctx);
      errno = saved_errno;
      return;
    }
  } else if (g_previous.sa_handler == SIG_IGN) {
    if (sent) {  // ignored, as it would have been
      errno = saved_errno;
      return;
    }
    // A fault cannot be ignored: the kernel would have killed the process.
  } else if (g_previous.sa_handler != SIG_DFL) {
    g_previous.sa_handler(sig);
    errno = saved_errno;
    return;
  }
  // The default action: terminate with SIGBUS. A sent signal is re-raised
  // with the default disposition (SA_NODEFER: not blocked in this handler);
  // a fault is re-executed on return and takes the default action itself.
  signal(SIGBUS, SIG_DFL);
  if (sent) raise(SIGBUS);
  errno = saved_errno;
}

}  // namespace uswap
