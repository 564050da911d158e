// SpaceImpl / RegionImpl: the engine behind the public Space and Region.
// The only code that sees every layer: it wires swap areas (swap/), page
// I/O and reclaim (mm/) and fault delivery (fault/) together.
//
// Member order is destruction order reversed: threads stop before the
// structures they use go away, and swap areas close last.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/process_charge.h"
#include "api/stats_endpoint.h"
#include "base/mutex.h"
#include "fault/fault_threads.h"
#include "fault/sigbus_delivery.h"
#include "fault/uffd.h"
#include "mm/kswapd.h"
#include "mm/memory.h"
#include "mm/memory_node.h"
#include "mm/page_io.h"
#include "swap/swap_devices.h"
#include "uswap/space.h"

namespace uswap {

class SpaceImpl {
 public:
  static Result<std::unique_ptr<SpaceImpl>> Open(const Config& config);
  // A Space whose threads (kswapd, fault handlers, stats endpoint) are not
  // started yet: nothing may touch its regions' memory until StartThreads,
  // but RegionImpl::AddPage fills them (reclaiming on the caller's thread).
  // For a fork() child filling its copy before any new thread runs — a new
  // thread reads libc state (locale, TLS of loaded modules) that is in the
  // region (run/fork.cc).
  static Result<std::unique_ptr<Space>> OpenStopped(const Config& config);
  // Starts the threads of an OpenStopped Space; nothing for a started one.
  Status StartThreads();
  // In the process that opened the Space: stops threads, closes fds and
  // mappings. In a fork() child: touches nothing shared with the parent
  // (see InOwnerProcess).
  ~SpaceImpl();

  // Space::Map; `at` places the region there (MmRegion::Create's contract:
  // the range must be the caller's reservation).
  Result<std::unique_ptr<Region>> Map(size_t bytes, void* at = nullptr) EXCLUDES(admin_mu_);
  void Unmap(MmRegion* r) EXCLUDES(admin_mu_);
  Status Swapon(const std::string& path, int priority) EXCLUDES(admin_mu_);
  Status Swapoff(const std::string& path) EXCLUDES(admin_mu_);
  Stats stats() const;
  const Config& config() const { return config_; }
  // The stats socket's path, "" when the counters are not published.
  std::string stats_socket() const { return stats_endpoint_ ? stats_endpoint_->path() : ""; }
  // Writes what Config::record_faults has buffered (a process that is
  // never destroyed, `uswap run`'s, calls it at exit). OK without a trace.
  Status FlushFaultTrace() { return trace_ ? trace_->Flush() : Status::OK(); }

  // fork(): a child gets copies of the Space and Region objects, but the
  // userfaultfd context, the memfds' mappings (MADV_DONTFORK) and the
  // threads belong to the parent — the uffd is bound to the parent's mm, so
  // an UNREGISTER from the child unregisters the parent's regions, and a
  // write to the stop eventfd stops the parent's fault threads (audit F1,
  // F2). In any process but the one that opened the Space, destructors
  // leave every shared object alone and API calls fail with Busy.
  bool InOwnerProcess() const { return getpid() == owner_pid_; }
  // Busy naming `what` when called in a fork() child, else OK.
  Status CheckOwner(const char* what) const;
  // Keeps objects of a fork() child's copy alive and undestroyed for the
  // rest of the child's life (reachable, so leak checkers stay quiet).
  static void Abandon(std::shared_ptr<void> object);

  void WakeKswapd() { node_->WakeKswapd(); }
  // See Kswapd::Idle (tests).
  bool KswapdIdle() const { return kswapd_->Idle(); }

  MemoryNode& node() { return *node_; }
  SwapDevices& devices() { return *devices_; }
  Userfaultfd& uffd() { return uffd_; }
  FaultHandler& handler() { return *handler_; }
  // Runs kswapd's balance once on the calling thread (tests).
  size_t BalanceOnce() { return node_->BalanceOnce(); }

 private:
  explicit SpaceImpl(const Config& config) : config_(config) {}
  Status Init();
  bool started_ = false;  // StartThreads ran

  Config config_;
  const pid_t owner_pid_ = getpid();
  // Serialises Map/Unmap/Swapon/Swapoff. Lock order: admin_mu_ -> regions_mu_.
  Mutex admin_mu_;
  uint64_t next_region_id_ GUARDED_BY(admin_mu_) = 0;
  std::unique_ptr<SwapDevices> devices_;
  std::unique_ptr<PageIo> page_io_;
  std::unique_ptr<MemCgroup> group_;               // Config::shared_budget_fd: outlives node_
  std::unique_ptr<ProcessCharge> process_charge_;  // Config::shared_budget_counts_process
  std::unique_ptr<MemoryNode> node_;
  Userfaultfd uffd_;
  std::unique_ptr<FaultTrace> trace_;  // Config::record_faults: outlives the handler
  std::unique_ptr<FaultHandler> handler_;
  std::unique_ptr<Kswapd> kswapd_;
  std::unique_ptr<FaultThreads> threads_;
  std::unique_ptr<SigbusDelivery> sigbus_;
  std::unique_ptr<StatsEndpoint> stats_endpoint_;  // serves stats(): stops first
};

class RegionImpl {
 public:
  RegionImpl(SpaceImpl* space, std::unique_ptr<MmRegion> mm) : space_(space), mm_(std::move(mm)) {}
  ~RegionImpl();

  void* data() const { return mm_->user_base(); }
  size_t size() const { return mm_->size(); }
  Status Pin(size_t offset, size_t len);
  Status Unpin(size_t offset, size_t len);
  Status Mlock(size_t offset, size_t len, Region::MlockScope scope);
  Status Munlock(size_t offset, size_t len);
  Status SetMlockOnFault(size_t offset, size_t len);
  Status Discard(size_t offset, size_t len);
  Status PageOut(size_t offset, size_t len);
  // The populated pages — resident, being read, on swap, compressed or
  // same-filled: everything but never-touched (or discarded) pages — as
  // ascending [offset, offset + len) byte ranges, merged. What fork() must
  // copy (kernel twin: copy_page_range copies present and swap PTEs and
  // skips none). `poisoned` counts pages that could not be read back (their
  // access raises SIGBUS), which are not in the list. Each block is read
  // under its lock; pages touched meanwhile by other threads may or may
  // not be listed.
  Status PopulatedRanges(std::vector<std::pair<size_t, size_t>>* ranges, uint64_t* poisoned);
  // Gives the never-touched page at `offset` the contents of `page` (one
  // page), as if the program had written them: resident, unmapped and
  // dirty; the next access maps it. MemoryNode::AddPageLocked's contract.
  Status AddPage(size_t offset, const void* page);
  // Copies [offset, offset + bytes) (whole pages) into `out` (page-aligned)
  // without faulting anything in: MemoryNode::CopyPagesLocked's contract
  // (with `objects`, pages in the compressed tier stay compressed).
  Status CopyPages(size_t offset, size_t bytes, void* out,
                   MemoryNode::CompressedPages* objects = nullptr);
  // AddPage for a page given as a compressed object of a tier with codec
  // ObjectCodec(): MemoryNode::AddObjectLocked's contract.
  Status AddObject(size_t offset, const uint8_t* obj, size_t n, uint32_t sum);
  // The compressed tier's codec ("" without one): a compressed copy goes
  // between regions whose codecs are the same.
  std::string ObjectCodec();
  MmRegion* mm() { return mm_.get(); }
  SpaceImpl* space() { return space_; }

 private:
  Status PageRange(size_t offset, size_t len, uint64_t* first, uint64_t* end) const;
  // Brings pages [first, end) in, mapped writable, through the fault
  // handler (not with a load: a poisoned page or a refused frame becomes a
  // Status, not a SIGBUS in the caller, audit F19). The message ends
  // "nothing <undone>": the caller undoes its marks on failure.
  Status PopulateRange(uint64_t first, uint64_t end, const char* undone);
  SpaceImpl* const space_;
  std::unique_ptr<MmRegion> mm_;
};

// The engine behind a Space or Region, for code in this tree (tests,
// benchmarks) that needs to look inside; not part of the public API.
inline SpaceImpl* ImplOf(Space& space) { return space.impl_.get(); }
inline RegionImpl* ImplOf(Region& region) { return region.impl_.get(); }

}  // namespace uswap
