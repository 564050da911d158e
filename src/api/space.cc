#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <vector>

#include "api/space_impl.h"
#include "base/check.h"
#include "base/log.h"
#include "base/test_hook.h"

namespace uswap {

namespace {
// The smallest budget that works: the watermarks and one reclaim batch
// must fit with room to spare.
constexpr uint64_t kMinBudgetPages = 64;

// Shmem transparent huge pages would let the kernel back a region with
// 2 MiB folios while the budget counts 4 KiB frames, and a 4 KiB hole
// punched into a huge folio frees nothing unless it can be split.
// MADV_NOHUGEPAGE on the view covers faults; fallocate/pwrite on the memfd
// follow only the global knob, so warn when it forces huge pages.
void CheckShmemHugePages() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string line;
  if (!std::getline(f, line)) return;
  for (const char* mode : {"[always]", "[within_size]", "[force]"}) {
    if (line.find(mode) != std::string::npos) {
      Log(LogLevel::kWarning,
          "shmem transparent huge pages are %s (/sys/kernel/mm/transparent_hugepage/"
          "shmem_enabled): regions may be backed by huge pages that the RAM budget counts as "
          "4 KiB frames; set it to 'advise' or 'never' for an exact budget",
          mode);
      return;
    }
  }
}
}  // namespace

Status SpaceImpl::CheckOwner(const char* what) const {
  if (InOwnerProcess()) return Status::OK();
  return Status::Busy(std::string("uswap::") + what + " called in a fork() child (pid " +
                      std::to_string(getpid()) + ") of the process that opened the Space (pid " +
                      std::to_string(owner_pid_) +
                      "): the Space and its Regions belong to the parent; open a new Space in "
                      "the child");
}

void SpaceImpl::Abandon(std::shared_ptr<void> object) {
  static auto* kept = new std::vector<std::shared_ptr<void>>();  // never freed: see header
  kept->push_back(std::move(object));
}

// ---------------------------------------------------------------------------
// SpaceImpl

Result<std::unique_ptr<SpaceImpl>> SpaceImpl::Open(const Config& config) {
  std::unique_ptr<SpaceImpl> s(new SpaceImpl(config));
  USWAP_RETURN_IF_ERROR(s->Init());
  USWAP_RETURN_IF_ERROR(s->StartThreads());
  return s;
}

Result<std::unique_ptr<Space>> SpaceImpl::OpenStopped(const Config& config) {
  std::unique_ptr<SpaceImpl> s(new SpaceImpl(config));
  USWAP_RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Space>(new Space(std::move(s)));
}

Status SpaceImpl::Init() {
  const long sys_page = sysconf(_SC_PAGESIZE);
  if (config_.page_size != static_cast<size_t>(sys_page))
    return Status::InvalidArgument("page_size " + std::to_string(config_.page_size) +
                                   " is not the system page size " + std::to_string(sys_page));
  const uint64_t budget = config_.ram_budget_bytes / config_.page_size;
  if (budget < kMinBudgetPages)
    return Status::InvalidArgument("RAM budget of " + std::to_string(config_.ram_budget_bytes) +
                                   " bytes is too small: at least " +
                                   std::to_string(kMinBudgetPages * config_.page_size) +
                                   " bytes are needed");
  if (config_.readahead_pages < 1 || config_.readahead_pages > MmRegion::kBlockPages)
    return Status::InvalidArgument("readahead_pages must be in [1, 64]");
  if (config_.mlock_limit_bytes > config_.ram_budget_bytes)
    return Status::InvalidArgument(
        "mlock_limit_bytes (" + std::to_string(config_.mlock_limit_bytes) +
        ") is above ram_budget_bytes (" + std::to_string(config_.ram_budget_bytes) + ")");
  if (config_.stream_readahead_pages < config_.readahead_pages ||
      config_.stream_readahead_pages > 1024)
    return Status::InvalidArgument("stream_readahead_pages must be in [readahead_pages, 1024]");
  if (config_.fault_delivery == FaultDelivery::kHandlerThreads &&
      (config_.handler_threads < 1 || config_.handler_threads > 64))
    return Status::InvalidArgument("handler_threads must be in [1, 64]");
  if (config_.handler_poll_us > 100000)
    return Status::InvalidArgument("handler_poll_us must be at most 100000 (100 ms)");
  static_assert(Config::kDefaultInactivePercent == kDefaultInactivePercent,
                "the public default is the policies' own");
  if (config_.inactive_percent < 1 || config_.inactive_percent > 90)
    return Status::InvalidArgument("inactive_percent must be in [1, 90]");
  if (!CreateReclaimPolicy(config_.reclaim_policy, {}))
    return Status::InvalidArgument("unknown reclaim policy '" + config_.reclaim_policy + "'");

  // Watermarks in the kernel's shape, unless the config sets them (mm).
  USWAP_ASSIGN_OR_RETURN(Watermarks wm, ComputeWatermarks(budget, {config_.watermark_min_pages,
                                                                   config_.watermark_low_pages,
                                                                   config_.watermark_high_pages}));

  USWAP_ASSIGN_OR_RETURN(uffd_,
                         Userfaultfd::Open(config_.fault_delivery == FaultDelivery::kSigbus));
  CheckShmemHugePages();

  BlockStoreOptions so;
  so.kind = config_.block_store;
  so.direct_io = config_.direct_io;
  devices_ = std::make_unique<SwapDevices>(config_.page_size, so);
  page_io_ =
      std::make_unique<PageIo>(devices_.get(), PageIoOptions{config_.checksums, config_.encrypt});
  // Per-area state of the tiers: the disk's (encryption tags) and the
  // compressed tier's slot table. node_ exists before the first swapon.
  devices_->SetAttachHook([this](unsigned type, uint64_t pages) {
    USWAP_RETURN_IF_ERROR(page_io_->AttachArea(type, pages));
    if (Zswap* z = node_->zswap()) {
      Status st = z->AttachArea(type, pages);
      if (!st.ok()) page_io_->DetachArea(type);
      return st;
    }
    return Status::OK();
  });
  devices_->SetDetachHook([this](unsigned type) {
    if (Zswap* z = node_->zswap()) z->DetachArea(type);
    page_io_->DetachArea(type);
  });
  std::unique_ptr<Compressor> codec;
  if (config_.compress != "off") {
    const bool automatic = config_.compress == "auto";
    Result<std::unique_ptr<Compressor>> c =
        Compressor::Create(automatic ? "lz4" : config_.compress, config_.compress_level);
    if (c.ok())
      codec = std::move(*c);
    else if (!automatic || c.status().code() != Status::Code::kNotSupported)
      return c.status().WithContext("compress");
  }
  if (config_.compress_max_pool_percent > 90)
    return Status::InvalidArgument("compress_max_pool_percent must be in [0, 90] (0 = adaptive)");
  if (config_.compress_threshold_bytes < 64 ||
      config_.compress_threshold_bytes >= config_.page_size)
    return Status::InvalidArgument("compress_threshold_bytes must be in [64, page size)");
  if (config_.shared_budget_fd >= 0) {
    USWAP_ASSIGN_OR_RETURN(group_, MemCgroup::Join(config_.shared_budget_fd));
  }
  MemoryNodeOptions mo;
  mo.group = group_.get();
  mo.budget_pages = budget;
  mo.watermarks = wm;
  mo.policy = config_.reclaim_policy;
  mo.inactive_percent = config_.inactive_percent;
  mo.writeback_batch =
      std::clamp<unsigned>(config_.writeback_batch_pages, 1, static_cast<unsigned>(budget / 4));
  mo.hard_limit = config_.hard_limit;
  mo.mlock_limit_pages =
      (config_.mlock_limit_bytes ? config_.mlock_limit_bytes : config_.ram_budget_bytes / 4 * 3) /
      config_.page_size;
  mo.zswap.threshold = config_.compress_threshold_bytes;
  mo.zswap.max_pool_percent = config_.compress_max_pool_percent;
  mo.zswap.checksums = config_.checksums;
  // A fault's hand-off (fault_bench's minor fault on this VM, doc/engine.md).
  mo.zswap.fault_overhead_us = config_.fault_delivery == FaultDelivery::kSigbus ? 3 : 20;
  node_ = std::make_unique<MemoryNode>(mo, devices_.get(), page_io_.get(), std::move(codec));
  if (group_ && config_.shared_budget_counts_process) {
    // What the process holds already is charged before any frame (the
    // listener samples it again every 100 ms once the threads run).
    process_charge_ = std::make_unique<ProcessCharge>(config_.page_size);
    group_->SetOutsideCharge(process_charge_->Sample(node_->frames().charged_metadata()));
  }

  for (const SwapAreaConfig& a : config_.swap_areas)
    USWAP_RETURN_IF_ERROR(Swapon(a.path, a.priority));

  FaultOptions fo;
  if (!config_.record_faults.empty()) {
    USWAP_ASSIGN_OR_RETURN(trace_, FaultTrace::Open(config_.record_faults, config_.record_format));
    fo.trace = trace_.get();
  }
  fo.readahead_pages = config_.readahead_pages;
  fo.max_readahead_pages = config_.stream_readahead_pages;
  fo.fault_around_pages = std::clamp<unsigned>(config_.fault_around_pages, 1, 64);
  handler_ = std::make_unique<FaultHandler>(node_.get(), &uffd_, fo);
  kswapd_ = std::make_unique<Kswapd>(node_.get());
  return Status::OK();
}

Status SpaceImpl::StartThreads() {
  if (started_) return Status::OK();
  started_ = true;
  node_->set_wakeup_kswapd([k = kswapd_.get()] { k->WakeUp(); });
  kswapd_->Start();
  // The group's requests for this member's share go to kswapd.
  if (group_) {
    std::function<void()> tick;
    if (process_charge_) {
      tick = [this] {
        group_->SetOutsideCharge(process_charge_->Sample(node_->frames().charged_metadata()));
      };
    }
    group_->StartListener([k = kswapd_.get()] { k->WakeUp(); }, std::move(tick));
  }
  if (config_.fault_delivery == FaultDelivery::kSigbus) {
    sigbus_ = std::make_unique<SigbusDelivery>(handler_.get());
    USWAP_RETURN_IF_ERROR(sigbus_->Install());
  } else {
    threads_ = std::make_unique<FaultThreads>(handler_.get(), &uffd_);
    USWAP_RETURN_IF_ERROR(threads_->Start(config_.handler_threads, config_.handler_poll_us));
  }
  std::string where = config_.stats_socket;
  if (where.empty())
    if (const char* env = std::getenv("USWAP_STATS_SOCKET")) where = env;
  if (!where.empty()) {
    USWAP_ASSIGN_OR_RETURN(stats_endpoint_,
                           StatsEndpoint::Start(where, [this] { return stats(); }));
  }
  return Status::OK();
}

SpaceImpl::~SpaceImpl() {
  if (!InOwnerProcess()) {
    // A fork() child's copy: the threads do not exist here, the uffd and
    // the eventfds are shared with the parent, and any lock may have been
    // copied held. Destroy nothing; keep the objects for the child's life.
    Abandon(std::shared_ptr<void>(std::move(stats_endpoint_)));  // the parent's socket stays
    Abandon(std::shared_ptr<void>(std::move(threads_)));
    Abandon(std::shared_ptr<void>(std::move(sigbus_)));
    Abandon(std::shared_ptr<void>(std::move(kswapd_)));
    Abandon(std::shared_ptr<void>(std::move(handler_)));
    // Its buffer holds the parent's faults (its file is the parent's), and
    // its lock may have been copied held.
    Abandon(std::shared_ptr<void>(std::move(trace_)));
    Abandon(std::make_shared<Userfaultfd>(std::move(uffd_)));
    Abandon(std::shared_ptr<void>(std::move(node_)));
    Abandon(std::shared_ptr<void>(std::move(group_)));
    Abandon(std::shared_ptr<void>(std::move(process_charge_)));
    Abandon(std::shared_ptr<void>(std::move(page_io_)));
    Abandon(std::shared_ptr<void>(std::move(devices_)));
    return;
  }
  if (node_) {
    ReaderLock rl(&node_->regions_mu());
    USWAP_CHECK_MSG(node_->RegionsLocked().empty(),
                    "uswap::Space destroyed while Regions of it are still mapped; destroy the "
                    "Regions first");
  }
  stats_endpoint_.reset();  // before what stats() reads
  if (threads_) threads_->Stop();
  if (sigbus_) sigbus_->Uninstall();
  if (group_) group_->StopListener();  // it wakes kswapd
  if (kswapd_) kswapd_->Stop();
  if (node_) node_->set_wakeup_kswapd(nullptr);
}

Result<std::unique_ptr<Region>> SpaceImpl::Map(size_t bytes, void* at) {
  USWAP_RETURN_IF_ERROR(CheckOwner("Space::Map"));
  MutexLock l(&admin_mu_);
  USWAP_ASSIGN_OR_RETURN(
      std::unique_ptr<MmRegion> mm,
      MmRegion::Create(bytes, config_.page_size, next_region_id_++, &node_->frames(), at));
  USWAP_RETURN_IF_ERROR(uffd_.Register(mm->user_base(), mm->size()).WithContext("region"));
  node_->AddRegion(mm.get());
  auto impl = std::make_unique<RegionImpl>(this, std::move(mm));
  return std::unique_ptr<Region>(new Region(std::move(impl)));
}

void SpaceImpl::Unmap(MmRegion* r) {
  MutexLock l(&admin_mu_);
  node_->ReleaseRegion(r, [&] { (void)uffd_.Unregister(r->user_base(), r->size()); });
}

Status SpaceImpl::Swapon(const std::string& path, int priority) {
  USWAP_RETURN_IF_ERROR(CheckOwner("Space::Swapon"));
  {
    // Serialised with Swapoff (audit F6) and Map/Unmap.
    MutexLock l(&admin_mu_);
    USWAP_RETURN_IF_ERROR(devices_->Swapon(path, priority).status());
  }
  // Room to reclaim into: pull an overshoot back under the budget now.
  node_->WakeKswapd();
  return Status::OK();
}

Status SpaceImpl::Swapoff(const std::string& path) {
  USWAP_RETURN_IF_ERROR(CheckOwner("Space::Swapoff"));
  MutexLock l(&admin_mu_);
  USWAP_ASSIGN_OR_RETURN(unsigned type, devices_->Find(path));
  USWAP_RETURN_IF_ERROR(devices_->BeginSwapoff(type));
  // cf. try_to_unuse(): bring every page on the area back (or elsewhere).
  Status st;
  {
    ReaderLock rl(&node_->regions_mu());
    for (MmRegion* r : node_->RegionsLocked()) {
      st = node_->UnuseAreaLocked(r, type);
      if (!st.ok()) break;
    }
  }
  if (st.ok() && devices_->area(type)->inuse_pages() != 0)
    st = Status::Busy("slots still in use after every page came back");
  if (!st.ok()) {
    (void)devices_->CancelSwapoff(type);
    return st.WithContext("swapoff " + path + " (the area stays on)");
  }
  // Frees the type and, in the same critical section, its page metadata
  // (the detach hook), before a Swapon can reuse it.
  st = devices_->FinishSwapoff(type);
  TestPoint("swapoff_after_finish");
  return st;
}

Stats SpaceImpl::stats() const {
  Stats s;
  if (!InOwnerProcess()) return s;  // a fork() child: the parent's locks may be held
  const VmStat& v = node_->vmstat();
#define USWAP_COPY_STAT(name) s.name = v.name.load(std::memory_order_relaxed);
  USWAP_VMSTAT_ITEMS(USWAP_COPY_STAT)
#undef USWAP_COPY_STAT
  s.resident_pages = node_->frames().charged();
  s.free_frames = node_->frames().free_frames();
  s.frame_limit = node_->frames().FramesFitting();
  s.budget_pages = node_->frames().budget();
  s.swap_cache_pages = node_->swap_cache().size();
  s.mlocked_pages = node_->mlocked_pages();
  s.metadata_bytes = node_->metadata_bytes();
  if (const Zswap* z = node_->zswap()) {
    const ZswapStats zs = z->stats();
    s.zswap_stored = zs.stored;
    s.zswap_loaded = zs.loaded;
    s.zswap_written_back = zs.written_back;
    s.zswap_rejected_poor = zs.rejected_poor;
    s.zswap_rejected_full = zs.rejected_full;
    s.zswap_writeback_errors = zs.writeback_errors;
    s.zswap_corrupt = zs.corrupt;
    s.zswap_copied_in = zs.copied_in;
    s.zswap_objects = zs.objects;
    s.zswap_pool_pages = zs.pool_pages;
    s.zswap_payload_bytes = zs.payload_bytes;
    s.zswap_limit_pages = zs.limit_pages;
    s.metadata_bytes += zs.table_bytes;
  }
  if (group_) {
    const MemCgroupStats gs = group_->stats();
    s.group_limit_bytes = gs.limit_bytes;
    s.group_usage_bytes = gs.usage_bytes;
    s.group_peak_bytes = gs.peak_bytes;
    s.group_members = gs.members;
  }
  for (const SwapDeviceInfo& d : devices_->List())
    s.areas.push_back({d.path, d.prio, d.usable_pages, d.inuse_pages, d.bad_pages});
  return s;
}

// ---------------------------------------------------------------------------
// RegionImpl

RegionImpl::~RegionImpl() {
  if (!space_->InOwnerProcess()) {
    // A fork() child's copy: the view is not mapped here (MADV_DONTFORK; the
    // address may hold another mapping by now) and the registration is the
    // parent's. Leave it all alone.
    SpaceImpl::Abandon(std::shared_ptr<void>(std::move(mm_)));
    return;
  }
  space_->Unmap(mm_.get());
}

Status RegionImpl::PageRange(size_t offset, size_t len, uint64_t* first, uint64_t* end) const {
  if (len == 0 || offset >= mm_->size() || len > mm_->size() - offset)
    return Status::InvalidArgument("range [" + std::to_string(offset) + ", +" +
                                   std::to_string(len) + ") is outside the region of " +
                                   std::to_string(mm_->size()) + " bytes");
  *first = offset / mm_->page_size();
  *end = (offset + len + mm_->page_size() - 1) / mm_->page_size();
  return Status::OK();
}

Status RegionImpl::PopulateRange(uint64_t first, uint64_t end, const char* undone) {
  uint64_t bad = 0;
  switch (space_->handler().Populate(mm_.get(), first, end, &bad)) {
    case FaultResult::kResolved:
      return Status::OK();
    case FaultResult::kPoisoned:
      return Status::IOError("page " + std::to_string(bad) +
                             " cannot be read back from swap (poisoned); nothing " + undone);
    case FaultResult::kNoFrame:
      return Status::NoSpace("no frame for page " + std::to_string(bad) +
                             " under the hard RAM limit; nothing " + undone);
  }
  return Status::OK();
}

Status RegionImpl::Pin(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::Pin"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  for (uint64_t i = first; i < end; i++) {
    MutexLock l(&mm_->block_lock(i));
    if (!mm_->Pin(i)) {
      for (uint64_t j = first; j < i; j++) {
        MutexLock lj(&mm_->block_lock(j));
        mm_->Unpin(j);
      }
      return Status::InvalidArgument("page pinned too many times");
    }
  }
  // Bring every page in, mapped writable, through the fault handler (not
  // with a load: a poisoned page or a refused frame becomes a Status, not
  // a SIGBUS in the caller, audit F19). Once resident, reclaim leaves pinned
  // pages alone and never unmaps them, so the kernel may write into them
  // through a pin (O_DIRECT, AIO, io_uring fixed buffers) at any time.
  Status st = PopulateRange(first, end, "pinned");
  if (!st.ok()) (void)Unpin(offset, len);
  return st;
}

Status RegionImpl::Mlock(size_t offset, size_t len, Region::MlockScope scope) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::Mlock"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  MemoryNode& node = space_->node();
  // Pass 1, block by block under its lock: mark the pages in scope (cf.
  // mlock_fixup setting VM_LOCKED) and note the runs this call locked, to
  // bring in and, on failure, unlock again. A marked page that is not
  // resident yet is safe: reclaim only ever looks at resident pages, and
  // the fault that brings it in finds it unevictable.
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // [begin, end) locked here
  Status st;
  auto note = [&runs](uint64_t i) {
    if (!runs.empty() && runs.back().second == i)
      runs.back().second++;
    else
      runs.push_back({i, i + 1});
  };
  for (uint64_t b = first; b < end && st.ok(); b = mm_->block_end(b)) {
    const uint64_t stop = std::min(end, mm_->block_end(b));
    if (scope != Region::MlockScope::kAll && !mm_->block_exists(b)) continue;  // nothing in it
    MutexLock l(&mm_->block_lock(b));
    for (uint64_t i = b; i < stop; i++) {
      const PageState state = mm_->pte(i).state;
      // A poisoned page has no contents to keep (its access raises SIGBUS).
      if (scope == Region::MlockScope::kTouched &&
          (state == PageState::kNone || state == PageState::kPoisoned))
        continue;
      if (scope == Region::MlockScope::kResident && state != PageState::kResident) continue;
      if (mm_->mlocked(i)) continue;
      if (!node.MlockLocked(mm_.get(), i)) {
        st =
            Status::NoSpace("mlock: the Space has " + std::to_string(node.mlocked_pages()) +
                            " pages locked, its limit (Config::mlock_limit_bytes); nothing locked");
        break;
      }
      note(i);
    }
  }
  // Pass 2: bring the pages locked here in, mapped writable. kResident
  // pages are in already; one that is unmapped maps on its next touch.
  if (st.ok() && scope != Region::MlockScope::kResident) {
    for (const auto& [b, e] : runs) {
      st = PopulateRange(b, e, "locked");
      if (!st.ok()) break;
    }
  }
  if (!st.ok()) {
    for (const auto& [b, e] : runs) {
      for (uint64_t i = b; i < e; i++) {
        MutexLock l(&mm_->block_lock(i));
        node.MunlockLocked(mm_.get(), i);
      }
    }
  }
  return st;
}

Status RegionImpl::SetMlockOnFault(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::SetMlockOnFault"));
  if (len == 0) {
    mm_->set_mlock_on_fault(0, 0);
    return Status::OK();
  }
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  mm_->set_mlock_on_fault(first, end);
  return Status::OK();
}

Status RegionImpl::Munlock(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::Munlock"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  MemoryNode& node = space_->node();
  for (uint64_t b = first; b < end; b = mm_->block_end(b)) {
    if (!mm_->block_exists(b)) continue;  // never touched: nothing locked
    MutexLock l(&mm_->block_lock(b));
    for (uint64_t i = b; i < std::min(end, mm_->block_end(b)); i++)
      node.MunlockLocked(mm_.get(), i);
  }
  return Status::OK();
}

Status RegionImpl::Unpin(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::Unpin"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  for (uint64_t i = first; i < end; i++) {
    MutexLock l(&mm_->block_lock(i));
    if (mm_->pin_count(i) == 0)
      return Status::InvalidArgument("page " + std::to_string(i) + " is not pinned");
  }
  for (uint64_t i = first; i < end; i++) {
    MutexLock l(&mm_->block_lock(i));
    mm_->Unpin(i);
  }
  return Status::OK();
}

Status RegionImpl::Discard(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::Discard"));
  if (offset % mm_->page_size() != 0)
    return Status::InvalidArgument("discard offset " + std::to_string(offset) +
                                   " is not page-aligned");
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  // Pinned pages cannot be discarded (cf. MADV_DONTNEED on mlock'ed memory: EINVAL).
  for (uint64_t i = first; i < end; i++) {
    if (!mm_->block_exists(i)) {
      i = mm_->block_end(i) - 1;
      continue;
    }
    MutexLock l(&mm_->block_lock(i));
    if (mm_->pins(i))
      return Status::InvalidArgument(
          "page " + std::to_string(i) +
          (mm_->pin_count(i) ? " is pinned; unpin it" : " is mlock'ed; munlock it") +
          " before discarding");
  }
  MemoryNode& node = space_->node();
  ReaderLock rl(&node.regions_mu());
  return node.DiscardLocked(mm_.get(), first, end);
}

Status RegionImpl::PageOut(size_t offset, size_t len) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::PageOut"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  MemoryNode& node = space_->node();
  ReaderLock rl(&node.regions_mu());
  return node.PageOutLocked(mm_.get(), first, end);
}

Status RegionImpl::AddPage(size_t offset, const void* page) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::AddPage"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, 1, &first, &end));
  MemoryNode& node = space_->node();
  ReaderLock rl(&node.regions_mu());
  return node.AddPageLocked(mm_.get(), first, page);
}

Status RegionImpl::CopyPages(size_t offset, size_t bytes, void* out,
                             MemoryNode::CompressedPages* objects) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::CopyPages"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, bytes, &first, &end));
  MemoryNode& node = space_->node();
  ReaderLock rl(&node.regions_mu());
  return node.CopyPagesLocked(mm_.get(), first, end - first, static_cast<uint8_t*>(out), objects);
}

Status RegionImpl::AddObject(size_t offset, const uint8_t* obj, size_t n, uint32_t sum) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::AddObject"));
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, 1, &first, &end));
  MemoryNode& node = space_->node();
  if (!node.zswap()) return Status::NotSupported("AddObject: no compressed tier");
  ReaderLock rl(&node.regions_mu());
  return node.AddObjectLocked(mm_.get(), first, obj, n, sum);
}

std::string RegionImpl::ObjectCodec() {
  Zswap* z = space_->node().zswap();
  return z ? z->codec() : "";
}

Status RegionImpl::PopulatedRanges(std::vector<std::pair<size_t, size_t>>* ranges,
                                   uint64_t* poisoned) {
  USWAP_RETURN_IF_ERROR(space_->CheckOwner("Region::PopulatedRanges"));
  ranges->clear();
  *poisoned = 0;
  const size_t ps = mm_->page_size();
  for (uint64_t b = 0; b < mm_->pages(); b += MmRegion::kBlockPages) {
    if (!mm_->block_exists(b)) continue;  // never touched: 64 kNone pages
    MutexLock l(&mm_->block_lock(b));
    for (uint64_t i = b; i < mm_->block_end(b); i++) {
      const PageState st = mm_->pte(i).state;
      if (st == PageState::kNone) continue;
      if (st == PageState::kPoisoned) {
        ++*poisoned;
        continue;
      }
      if (!ranges->empty() && ranges->back().first + ranges->back().second == i * ps)
        ranges->back().second += ps;
      else
        ranges->emplace_back(i * ps, ps);
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Public wrappers

Result<int> CreateSharedBudget(size_t bytes, bool inheritable) {
  USWAP_ASSIGN_OR_RETURN(UniqueFd fd, MemCgroup::Create(bytes, inheritable));
  return fd.Release();
}

Result<std::unique_ptr<Space>> Space::Open(const Config& config) {
  USWAP_ASSIGN_OR_RETURN(std::unique_ptr<SpaceImpl> impl, SpaceImpl::Open(config));
  return std::unique_ptr<Space>(new Space(std::move(impl)));
}
Space::Space(std::unique_ptr<SpaceImpl> impl) : impl_(std::move(impl)) {}
Space::~Space() = default;
Result<std::unique_ptr<Region>> Space::Map(size_t bytes) {
  try {
    return impl_->Map(bytes);
  } catch (const std::bad_alloc&) {  // the API promises a Status, never an exception
    return Status::NoSpace("out of memory mapping a region of " + std::to_string(bytes) + " bytes");
  }
}
Status Space::Swapon(const std::string& path, int priority) {
  return impl_->Swapon(path, priority);
}
Status Space::Swapoff(const std::string& path) { return impl_->Swapoff(path); }
Stats Space::stats() const { return impl_->stats(); }
const Config& Space::config() const { return impl_->config(); }

Region::Region(std::unique_ptr<RegionImpl> impl) : impl_(std::move(impl)) {}
Region::~Region() = default;
void* Region::data() const { return impl_->data(); }
size_t Region::size() const { return impl_->size(); }
Status Region::Pin(size_t offset, size_t len) { return impl_->Pin(offset, len); }
Status Region::Unpin(size_t offset, size_t len) { return impl_->Unpin(offset, len); }
Status Region::Mlock(size_t offset, size_t len, MlockScope scope) {
  return impl_->Mlock(offset, len, scope);
}
Status Region::Munlock(size_t offset, size_t len) { return impl_->Munlock(offset, len); }
Status Region::SetMlockOnFault(size_t offset, size_t len) {
  return impl_->SetMlockOnFault(offset, len);
}
Status Region::Discard(size_t offset, size_t len) { return impl_->Discard(offset, len); }
Status Region::PageOut(size_t offset, size_t len) { return impl_->PageOut(offset, len); }

}  // namespace uswap
