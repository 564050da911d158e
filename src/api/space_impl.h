// SpaceImpl / RegionImpl: the engine behind the public Space and Region.
// The only code that sees every layer: it wires swap areas (swap/), page
// I/O and reclaim (mm/) and fault delivery (fault/) together.
//
// Member order is destruction order reversed: threads stop before the
// structures they use go away, and swap areas close last.
#pragma once

#include <memory>
#include <mutex>

#include "fault/fault_handler.h"
#include "fault/fault_threads.h"
#include "fault/sigbus_delivery.h"
#include "fault/uffd.h"
#include "mm/kswapd.h"
#include "mm/memory_node.h"
#include "mm/page_io.h"
#include "swap/swap_devices.h"
#include "uswap/space.h"

namespace uswap {

class SpaceImpl {
 public:
  static Result<std::unique_ptr<SpaceImpl>> Open(const Config& config);
  ~SpaceImpl();

  Result<std::unique_ptr<Region>> Map(size_t bytes);
  void Unmap(MmRegion* r);
  Status Swapon(const std::string& path, int priority);
  Status Swapoff(const std::string& path);
  Stats stats() const;
  const Config& config() const { return config_; }

  MemoryNode& node() { return *node_; }
  SwapDevices& devices() { return *devices_; }
  Userfaultfd& uffd() { return uffd_; }
  // Runs kswapd's balance once on the calling thread (tests).
  size_t BalanceOnce() { return node_->BalanceOnce(); }

 private:
  explicit SpaceImpl(const Config& config) : config_(config) {}
  Status Init();

  Config config_;
  std::mutex admin_mu_;  // serialises Map/Unmap/Swapon/Swapoff
  uint64_t next_region_id_ = 0;
  std::unique_ptr<SwapDevices> devices_;
  std::unique_ptr<PageIo> page_io_;
  std::unique_ptr<MemoryNode> node_;
  Userfaultfd uffd_;
  std::unique_ptr<FaultHandler> handler_;
  std::unique_ptr<Kswapd> kswapd_;
  std::unique_ptr<FaultThreads> threads_;
  std::unique_ptr<SigbusDelivery> sigbus_;
};

class RegionImpl {
 public:
  RegionImpl(SpaceImpl* space, std::unique_ptr<MmRegion> mm) : space_(space), mm_(std::move(mm)) {}
  ~RegionImpl();

  void* data() const { return mm_->user_base(); }
  size_t size() const { return mm_->size(); }
  Status Pin(size_t offset, size_t len);
  Status Unpin(size_t offset, size_t len);
  MmRegion* mm() { return mm_.get(); }
  SpaceImpl* space() { return space_; }

 private:
  Status PageRange(size_t offset, size_t len, uint64_t* first, uint64_t* end) const;
  SpaceImpl* const space_;
  std::unique_ptr<MmRegion> mm_;
};

}  // namespace uswap
