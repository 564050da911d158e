#include <unistd.h>

#include <algorithm>
#include <climits>
#include <shared_mutex>

#include "api/space_impl.h"
#include "base/check.h"
#include "base/log.h"

namespace uswap {

namespace {
// The smallest budget that works: the watermarks and one reclaim batch
// must fit with room to spare.
constexpr uint64_t kMinBudgetPages = 64;
}  // namespace

// ---------------------------------------------------------------------------
// SpaceImpl

Result<std::unique_ptr<SpaceImpl>> SpaceImpl::Open(const Config& config) {
  std::unique_ptr<SpaceImpl> s(new SpaceImpl(config));
  USWAP_RETURN_IF_ERROR(s->Init());
  return s;
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
  if (config_.fault_delivery == FaultDelivery::kHandlerThreads &&
      (config_.handler_threads < 1 || config_.handler_threads > 64))
    return Status::InvalidArgument("handler_threads must be in [1, 64]");
  if (config_.inactive_percent < 1 || config_.inactive_percent > 90)
    return Status::InvalidArgument("inactive_percent must be in [1, 90]");
  if (!CreateReclaimPolicy(config_.reclaim_policy, {}))
    return Status::InvalidArgument("unknown reclaim policy '" + config_.reclaim_policy + "'");

  // Watermarks in the kernel's shape: min ~ budget/64, low = 5/4 min,
  // high = 3/2 min (cf. __setup_per_zone_wmarks()).
  Watermarks wm;
  wm.min = config_.watermark_min_pages ? config_.watermark_min_pages
                                       : std::max<uint64_t>(16, budget / 64);
  wm.low = config_.watermark_low_pages ? config_.watermark_low_pages : wm.min * 5 / 4;
  wm.high = config_.watermark_high_pages ? config_.watermark_high_pages : wm.min * 3 / 2;
  if (!(wm.min < wm.low && wm.low < wm.high && wm.high <= budget / 2))
    return Status::InvalidArgument("watermarks must satisfy min < low < high <= budget/2 (got " +
                                   std::to_string(wm.min) + "/" + std::to_string(wm.low) + "/" +
                                   std::to_string(wm.high) + " of " + std::to_string(budget) +
                                   " pages)");

  USWAP_ASSIGN_OR_RETURN(uffd_,
                         Userfaultfd::Open(config_.fault_delivery == FaultDelivery::kSigbus));

  BlockStoreOptions so;
  so.kind = config_.block_store;
  so.direct_io = config_.direct_io;
  devices_ = std::make_unique<SwapDevices>(config_.page_size, so);
  page_io_ =
      std::make_unique<PageIo>(devices_.get(), PageIoOptions{config_.checksums, config_.encrypt});
  devices_->SetAttachHook(
      [io = page_io_.get()](unsigned type, uint64_t pages) { return io->AttachArea(type, pages); });
  MemoryNodeOptions mo;
  mo.budget_pages = budget;
  mo.watermarks = wm;
  mo.policy = config_.reclaim_policy;
  mo.inactive_percent = config_.inactive_percent;
  mo.writeback_batch =
      std::clamp<unsigned>(config_.writeback_batch_pages, 1, static_cast<unsigned>(budget / 4));
  mo.hard_limit = config_.hard_limit;
  node_ = std::make_unique<MemoryNode>(mo, devices_.get(), page_io_.get());

  for (const SwapAreaConfig& a : config_.swap_areas)
    USWAP_RETURN_IF_ERROR(Swapon(a.path, a.priority));

  FaultOptions fo;
  fo.readahead_pages = config_.readahead_pages;
  fo.fault_around_pages = std::clamp<unsigned>(config_.fault_around_pages, 1, 64);
  handler_ = std::make_unique<FaultHandler>(node_.get(), &uffd_, fo);
  kswapd_ = std::make_unique<Kswapd>(node_.get());
  node_->set_wakeup_kswapd([k = kswapd_.get()] { k->WakeUp(); });
  kswapd_->Start();
  if (config_.fault_delivery == FaultDelivery::kSigbus) {
    sigbus_ = std::make_unique<SigbusDelivery>(handler_.get(), node_.get());
    USWAP_RETURN_IF_ERROR(sigbus_->Install());
  } else {
    threads_ = std::make_unique<FaultThreads>(handler_.get(), &uffd_);
    USWAP_RETURN_IF_ERROR(threads_->Start(config_.handler_threads));
  }
  return Status::OK();
}

SpaceImpl::~SpaceImpl() {
  if (node_) {
    std::shared_lock<std::shared_mutex> rl(node_->regions_mu());
    USWAP_CHECK_MSG(node_->RegionsLocked().empty(),
                    "uswap::Space destroyed while Regions of it are still mapped; destroy the "
                    "Regions first");
  }
  if (threads_) threads_->Stop();
  if (sigbus_) sigbus_->Uninstall();
  if (kswapd_) kswapd_->Stop();
  if (node_) node_->set_wakeup_kswapd(nullptr);
}

Result<std::unique_ptr<Region>> SpaceImpl::Map(size_t bytes) {
  std::lock_guard<std::mutex> l(admin_mu_);
  USWAP_ASSIGN_OR_RETURN(std::unique_ptr<MmRegion> mm,
                         MmRegion::Create(bytes, config_.page_size, next_region_id_++));
  USWAP_RETURN_IF_ERROR(uffd_.Register(mm->user_base(), mm->size()).WithContext("region"));
  node_->AddRegion(mm.get());
  auto impl = std::make_unique<RegionImpl>(this, std::move(mm));
  return std::unique_ptr<Region>(new Region(std::move(impl)));
}

void SpaceImpl::Unmap(MmRegion* r) {
  std::lock_guard<std::mutex> l(admin_mu_);
  node_->ReleaseRegion(r, [&] { (void)uffd_.Unregister(r->user_base(), r->size()); });
}

Status SpaceImpl::Swapon(const std::string& path, int priority) {
  return devices_->Swapon(path, priority).status();
}

Status SpaceImpl::Swapoff(const std::string& path) {
  std::lock_guard<std::mutex> l(admin_mu_);
  USWAP_ASSIGN_OR_RETURN(unsigned type, devices_->Find(path));
  USWAP_RETURN_IF_ERROR(devices_->BeginSwapoff(type));
  // cf. try_to_unuse(): bring every page on the area back (or elsewhere).
  Status st;
  {
    std::shared_lock<std::shared_mutex> rl(node_->regions_mu());
    for (MmRegion* r : node_->RegionsLocked()) {
      st = node_->UnuseAreaLocked(r, type);
      if (!st.ok()) break;
    }
  }
  if (st.ok() && devices_->area(type)->inuse_pages() != 0)
    st = Status::Busy("swapoff " + path + ": slots still in use after every page came back");
  if (!st.ok()) {
    (void)devices_->CancelSwapoff(type);
    return st.WithContext("swapoff " + path);
  }
  st = devices_->FinishSwapoff(type);
  if (st.ok()) page_io_->DetachArea(type);
  return st;
}

Stats SpaceImpl::stats() const {
  Stats s;
  const VmStat& v = node_->vmstat();
#define USWAP_COPY_STAT(name) s.name = v.name.load(std::memory_order_relaxed);
  USWAP_VMSTAT_ITEMS(USWAP_COPY_STAT)
#undef USWAP_COPY_STAT
  s.resident_pages = node_->frames().charged();
  s.free_frames = node_->frames().free_frames();
  s.budget_pages = node_->frames().budget();
  s.swap_cache_pages = node_->swap_cache().size();
  for (const SwapDeviceInfo& d : devices_->List())
    s.areas.push_back({d.path, d.prio, d.usable_pages, d.inuse_pages, d.bad_pages});
  return s;
}

// ---------------------------------------------------------------------------
// RegionImpl

RegionImpl::~RegionImpl() { space_->Unmap(mm_.get()); }

Status RegionImpl::PageRange(size_t offset, size_t len, uint64_t* first, uint64_t* end) const {
  if (len == 0 || offset >= mm_->size() || len > mm_->size() - offset)
    return Status::InvalidArgument("range [" + std::to_string(offset) + ", +" +
                                   std::to_string(len) + ") is outside the region of " +
                                   std::to_string(mm_->size()) + " bytes");
  *first = offset / mm_->page_size();
  *end = (offset + len + mm_->page_size() - 1) / mm_->page_size();
  return Status::OK();
}

Status RegionImpl::Pin(size_t offset, size_t len) {
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  for (uint64_t i = first; i < end; i++) {
    std::lock_guard<std::mutex> l(mm_->block_lock(i));
    if (mm_->pte(i).pins == UINT16_MAX) {
      for (uint64_t j = first; j < i; j++) {
        std::lock_guard<std::mutex> lj(mm_->block_lock(j));
        mm_->pte(j).pins--;
      }
      return Status::InvalidArgument("page pinned too many times");
    }
    mm_->pte(i).pins++;
  }
  // Fault every page in; once resident, reclaim leaves pinned pages alone.
  for (uint64_t i = first; i < end; i++) {
    volatile uint8_t* p = mm_->user_base() + i * mm_->page_size();
    (void)*p;
  }
  return Status::OK();
}

Status RegionImpl::Unpin(size_t offset, size_t len) {
  uint64_t first, end;
  USWAP_RETURN_IF_ERROR(PageRange(offset, len, &first, &end));
  for (uint64_t i = first; i < end; i++) {
    std::lock_guard<std::mutex> l(mm_->block_lock(i));
    if (mm_->pte(i).pins == 0)
      return Status::InvalidArgument("page " + std::to_string(i) + " is not pinned");
  }
  for (uint64_t i = first; i < end; i++) {
    std::lock_guard<std::mutex> l(mm_->block_lock(i));
    mm_->pte(i).pins--;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Public wrappers

Result<std::unique_ptr<Space>> Space::Open(const Config& config) {
  USWAP_ASSIGN_OR_RETURN(std::unique_ptr<SpaceImpl> impl, SpaceImpl::Open(config));
  return std::unique_ptr<Space>(new Space(std::move(impl)));
}
Space::Space(std::unique_ptr<SpaceImpl> impl) : impl_(std::move(impl)) {}
Space::~Space() = default;
Result<std::unique_ptr<Region>> Space::Map(size_t bytes) { return impl_->Map(bytes); }
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

}  // namespace uswap
