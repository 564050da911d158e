#include "fault/sigbus_delivery.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <shared_mutex>

namespace uswap {

namespace {
std::atomic<SigbusDelivery*> g_active{nullptr};
struct sigaction g_previous;
}  // namespace

Status SigbusDelivery::Install() {
  SigbusDelivery* expected = nullptr;
  if (!g_active.compare_exchange_strong(expected, this))
    return Status::Busy("SIGBUS fault delivery is already used by another Space in this process");
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = &SigbusDelivery::OnSigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &g_previous) != 0) {
    g_active.store(nullptr);
    return Status::FromErrno("sigaction(SIGBUS)", errno);
  }
  installed_ = true;
  return Status::OK();
}

void SigbusDelivery::Uninstall() {
  if (!installed_) return;
  sigaction(SIGBUS, &g_previous, nullptr);
  g_active.store(nullptr);
  installed_ = false;
}

bool SigbusDelivery::Resolve(uintptr_t addr) {
  std::shared_lock<std::shared_mutex> rl(node_->regions_mu());
  MmRegion* r = node_->FindRegionLocked(addr);
  if (!r) return false;
  const uint64_t index = r->IndexOf(addr);
  bool wp;
  {
    std::lock_guard<std::mutex> l(r->block_lock(index));
    const PageEntry& p = r->pte(index);
    if (p.state == PageState::kPoisoned) return false;
    // A SIGBUS on a mapped page can only be a write to a write-protected one.
    wp = p.state == PageState::kResident && (p.flags & kMapped);
  }
  return handler_->HandleLocked(r, index, false, wp) == FaultResult::kResolved;
}

void SigbusDelivery::OnSigbus(int sig, siginfo_t* info, void* ctx) {
  int saved_errno = errno;
  SigbusDelivery* self = g_active.load();
  if (self && info->si_code == BUS_ADRERR &&
      self->Resolve(reinterpret_cast<uintptr_t>(info->si_addr))) {
    errno = saved_errno;
    return;  // the access is retried and now succeeds
  }
  // Not ours, or a poisoned page: behave as if we were not here.
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction) return g_previous.sa_sigaction(sig, info, ctx);
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    return g_previous.sa_handler(sig);
  }
  signal(SIGBUS, SIG_DFL);  // the access faults again and the default action applies
  errno = saved_errno;
}

}  // namespace uswap
