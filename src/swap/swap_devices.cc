// SwapDevices: the table of active swap areas. Contract: swap_devices.h.
//
// Swapon follows sys_swapon() and swapon(8): open, check the kind of file,
// refuse what the kernel or another uswap process holds, read and check the
// header, refuse files with holes, then build the slot map and open the
// block store. Checks run without the table lock (they do I/O); the final
// checks (duplicate, table full) and the insertion run under the exclusive
// lock, so concurrent Swapon calls cannot both take the last type.

#include "swap/swap_devices.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>

#include "base/log.h"
#include "base/unique_fd.h"

namespace uswap {

namespace {

// Identity of an area, as the kernel compares swap files: a block device by
// its device number (several nodes may name it), a file by device + inode.
struct AreaId {
  bool blk = false;
  dev_t dev = 0;
  ino_t ino = 0;
  friend bool operator==(const AreaId&, const AreaId&) = default;
};

AreaId IdOf(const struct stat& st) {
  if (S_ISBLK(st.st_mode)) return AreaId{true, st.st_rdev, 0};
  return AreaId{false, st.st_dev, st.st_ino};
}

// Undoes the octal escapes of /proc/swaps paths (seq_file_path escapes
// " \t\n\\" as \040, \011, \012, \134).
std::string UnescapeProcPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Whether the kernel has `id` active as swap: each path in /proc/swaps is
// stat()ed and compared by identity (names differ through links and bind
// mounts). A missing /proc/swaps means no kernel swap.
bool KernelSwapsOn(const AreaId& id) {
  std::ifstream in("/proc/swaps");
  std::string line;
  std::getline(in, line);  // "Filename Type Size Used Priority"
  while (std::getline(in, line)) {
    const std::string path = UnescapeProcPath(line.substr(0, line.find_first_of(" \t")));
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && IdOf(st) == id) return true;
  }
  return false;
}

// The first byte offset below `bytes` that no extent covers, or `bytes`
// when the file is fully allocated there. Unwritten (fallocated) extents
// count as allocated, as for the kernel's swapon (iomap_swapfile_activate
// accepts them) — which is why SEEK_HOLE, reporting them as holes on ext4,
// is only the fallback for file systems without FIEMAP (tmpfs).
// cf. swapon(8)'s "appears to have holes" check (st_blocks vs st_size).
Result<uint64_t> FirstHole(int fd, uint64_t bytes) {
  constexpr unsigned kExtents = 64;
  union {
    struct fiemap fm;
    char bytes[sizeof(struct fiemap) + kExtents * sizeof(struct fiemap_extent)];
  } buf;
  uint64_t covered = 0;
  while (covered < bytes) {
    std::fill(std::begin(buf.bytes), std::end(buf.bytes), 0);
    buf.fm.fm_start = covered;
    buf.fm.fm_length = bytes - covered;
    buf.fm.fm_flags = FIEMAP_FLAG_SYNC;  // resolve delayed allocation first
    buf.fm.fm_extent_count = kExtents;
    if (::ioctl(fd, FS_IOC_FIEMAP, &buf.fm) != 0) {
      if (errno != EOPNOTSUPP && errno != ENOTTY) return Status::FromErrno("FIEMAP", errno);
      const off_t hole = ::lseek(fd, 0, SEEK_HOLE);
      if (hole < 0) return Status::FromErrno("lseek(SEEK_HOLE)", errno);
      return std::min<uint64_t>(static_cast<uint64_t>(hole), bytes);
    }
    if (buf.fm.fm_mapped_extents == 0) return covered;
    bool last = false;
    for (unsigned i = 0; i < buf.fm.fm_mapped_extents; ++i) {
      const struct fiemap_extent& e = buf.fm.fm_extents[i];
      if (e.fe_logical > covered) return covered;
      covered = std::max<uint64_t>(covered, e.fe_logical + e.fe_length);
      last = last || (e.fe_flags & FIEMAP_EXTENT_LAST) != 0;
    }
    if (last) break;
  }
  return std::min(covered, bytes);
}

bool ValidPrio(int prio) {
  return prio == SwapDevices::kNoPriority || (prio >= -32768 && prio <= 32767);
}

}  // namespace

// One active area. cf. struct swap_info_struct (swap_file, prio, flags).
struct SwapDevices::Device {
  std::string path;
  AreaId id;
  UniqueFd fd;  // holds the exclusive flock for the area's lifetime
  int prio = 0;
  std::unique_ptr<BlockStore> store;
  std::unique_ptr<SwapArea> area;
  std::atomic<bool> writable{true};  // cf. SWP_WRITEOK
};

SwapDevices::SwapDevices(size_t page_size, BlockStoreOptions store_options)
    : page_size_(page_size), store_options_(std::move(store_options)) {}

SwapDevices::~SwapDevices() = default;

// cf. sys_swapon().
Result<unsigned> SwapDevices::Swapon(const std::string& path, int prio) {
  if (!ValidPrio(prio)) {
    return Status::InvalidArgument(path + ": priority " + std::to_string(prio) +
                                   " outside [-32768, 32767]");
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    struct stat st;
    if (err == ELOOP) {
      return Status::InvalidArgument(path + ": is a symlink; give the path of the area itself");
    }
    if ((err == ETXTBSY || err == EBUSY) && ::stat(path.c_str(), &st) == 0 &&
        KernelSwapsOn(IdOf(st))) {
      return Status::Busy(path + ": in use as swap by the kernel (listed in /proc/swaps)");
    }
    return Status::FromErrno("swapon " + path, err);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat " + path, errno);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Status::InvalidArgument(path + ": not a regular file or block device");
  }
  const AreaId id = IdOf(st);
  {
    ReaderLock l(&mu_);
    for (unsigned t = 0; t < kMaxSwapFiles; ++t) {
      if (devices_[t] && devices_[t]->id == id) {
        return Status::Busy(path + ": already active in this table (type " + std::to_string(t) +
                            ", opened as " + devices_[t]->path + ")");
      }
    }
  }
  if (KernelSwapsOn(id)) {
    return Status::Busy(path + ": in use as swap by the kernel (listed in /proc/swaps)");
  }
  // The lock lives with the open file description, so it holds exactly as
  // long as `fd` (kept in the Device) and is dropped if this process dies.
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Status::Busy(path + ": held by another uswap process (flock)");
    return Status::FromErrno("flock " + path, errno);
  }
  if ((st.st_mode & 077) != 0) {
    Log(LogLevel::kWarning, "%s: insecure permissions %04o, 0600 suggested", path.c_str(),
        static_cast<unsigned>(st.st_mode & 07777));
  }

  Result<SwapHeader> header = ReadSwapHeader(fd.get());
  if (!header.ok()) return header.status().WithContext(path + ": not a valid swap area");
  if (header->page_size != page_size_) {
    return Status::InvalidArgument(path + ": swap header page size " +
                                   std::to_string(header->page_size) + " differs from " +
                                   std::to_string(page_size_) + " (re-run mkswap with -p)");
  }
  const uint64_t pages = header->pages();
  if (S_ISREG(st.st_mode)) {
    Result<uint64_t> hole = FirstHole(fd.get(), pages * page_size_);
    if (!hole.ok()) return hole.status().WithContext(path);
    if (*hole < pages * page_size_) {
      return Status::InvalidArgument(path + ": file has holes (first at byte " +
                                     std::to_string(*hole) +
                                     "); allocate it fully, e.g. with fallocate or dd");
    }
  }

  auto dev = std::make_unique<Device>();
  dev->path = path;
  dev->id = id;
  dev->area = std::make_unique<SwapArea>(pages, header->bad_pages);
  Result<std::unique_ptr<BlockStore>> store =
      OpenBlockStore(path, page_size_, pages, store_options_);
  if (!store.ok()) return store.status();
  StoreWrapper wrap;
  {
    ReaderLock l(&mu_);
    wrap = store_wrapper_;
  }
  if (wrap) *store = wrap(std::move(*store));
  // The store opened `path` by name: make sure it is still the file checked
  // above (O_NOFOLLOW already refused a symlink planted meanwhile).
  if (::lstat(path.c_str(), &st) != 0 || IdOf(st) != id) {
    return Status::Busy(path + ": replaced by another file during swapon");
  }
  dev->store = std::move(*store);
  dev->fd = std::move(fd);

  WriterLock l(&mu_);
  unsigned type = kMaxSwapFiles;
  for (unsigned t = kMaxSwapFiles; t-- > 0;) {
    if (!devices_[t]) type = t;  // the lowest free type
  }
  if (type == kMaxSwapFiles) {
    return Status::NoSpace(path + ": too many swap areas (at most " +
                           std::to_string(kMaxSwapFiles) + ")");
  }
  // cf. least_priority: areas without a priority rank below every other.
  if (attach_hook_) USWAP_RETURN_IF_ERROR(attach_hook_(type, pages).WithContext(path));
  dev->prio = prio == kNoPriority ? next_default_prio_-- : prio;
  devices_[type] = std::move(dev);
  return type;
}

void SwapDevices::SetAttachHook(AttachHook hook) {
  WriterLock l(&mu_);
  attach_hook_ = std::move(hook);
}

void SwapDevices::SetDetachHook(DetachHook hook) {
  WriterLock l(&mu_);
  detach_hook_ = std::move(hook);
}

namespace {
Status NoSuchType(unsigned type) {
  return Status::NotFound("no active swap area of type " + std::to_string(type));
}
}  // namespace

// cf. SWP_WRITEOK, cleared by swapoff before try_to_unuse() and set again
// by reinsert_swap_info() when that fails.
Status SwapDevices::SetWritable(unsigned type, bool writable) {
  ReaderLock l(&mu_);
  if (type >= kMaxSwapFiles || !devices_[type]) return NoSuchType(type);
  devices_[type]->writable.store(writable);
  return Status::OK();
}

Status SwapDevices::BeginSwapoff(unsigned type) { return SetWritable(type, false); }
Status SwapDevices::CancelSwapoff(unsigned type) { return SetWritable(type, true); }

// cf. the end of sys_swapoff(): only once try_to_unuse() emptied the area.
Status SwapDevices::FinishSwapoff(unsigned type) {
  std::unique_ptr<Device> gone;
  {
    WriterLock l(&mu_);
    if (type >= kMaxSwapFiles || !devices_[type]) return NoSuchType(type);
    Device& d = *devices_[type];
    if (const uint64_t n = d.area->inuse_pages(); n != 0) {
      return Status::Busy(d.path + ": " + std::to_string(n) + " slots still in use");
    }
    gone = std::move(devices_[type]);
    if (detach_hook_) detach_hook_(type);
  }
  return Status::OK();  // `gone` closes the store and the fd (the flock) outside the lock
}

Result<unsigned> SwapDevices::Find(const std::string& path) const {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(path, errno);
  const AreaId id = IdOf(st);
  ReaderLock l(&mu_);
  for (unsigned t = 0; t < kMaxSwapFiles; ++t) {
    if (devices_[t] && devices_[t]->id == id) return t;
  }
  return Status::NotFound(path + ": not an active swap area");
}

// cf. get_swap_pages(): areas by priority, highest first; equal priorities
// take turns (the kernel requeues the plist node; we rotate a cursor).
std::optional<std::pair<SwapEntry, uint32_t>> SwapDevices::AllocateFromBest(uint32_t max,
                                                                            bool up_to) {
  ReaderLock l(&mu_);
  std::array<unsigned, kMaxSwapFiles> order;
  unsigned n = 0;
  for (unsigned t = 0; t < kMaxSwapFiles; ++t) {
    if (devices_[t] && devices_[t]->writable.load(std::memory_order_relaxed)) order[n++] = t;
  }
  // Highest priority first, equal priorities in area order (std::sort with
  // the tie broken by type: stable_sort would allocate a buffer per call).
  std::sort(order.begin(), order.begin() + n, [&](unsigned a, unsigned b) REQUIRES_SHARED(mu_) {
    return devices_[a]->prio != devices_[b]->prio ? devices_[a]->prio > devices_[b]->prio : a < b;
  });
  for (unsigned i = 0; i < n;) {
    unsigned j = i + 1;  // [i, j) share one priority
    while (j < n && devices_[order[j]]->prio == devices_[order[i]]->prio) ++j;
    const unsigned len = j - i;
    unsigned start = 0;
    if (len > 1) {
      start = std::atomic_ref<unsigned>(rr_cursor_).fetch_add(1, std::memory_order_relaxed) % len;
    }
    for (unsigned k = 0; k < len; ++k) {
      const unsigned t = order[i + (start + k) % len];
      SwapArea& a = *devices_[t]->area;
      if (up_to) {
        if (auto r = a.AllocateUpTo(max)) return std::make_pair(SwapEntry(t, r->first), r->second);
      } else if (auto s = a.Allocate()) {
        return std::make_pair(SwapEntry(t, *s), 1u);
      }
    }
    i = j;
  }
  return std::nullopt;
}

std::optional<SwapEntry> SwapDevices::Allocate() {
  if (auto r = AllocateFromBest(1, /*up_to=*/false)) return r->first;
  return std::nullopt;
}

std::optional<std::pair<SwapEntry, uint32_t>> SwapDevices::AllocateUpTo(uint32_t max) {
  return AllocateFromBest(max, /*up_to=*/true);
}

SwapArea* SwapDevices::AreaOfLocked(SwapEntry e) const {
  return e.type() < kMaxSwapFiles && devices_[e.type()] ? devices_[e.type()]->area.get() : nullptr;
}

namespace {
Status NoArea(SwapEntry e) {
  return Status::InvalidArgument("swap entry " + std::to_string(e.value()) +
                                 ": no active swap area of type " + std::to_string(e.type()));
}
}  // namespace

Status SwapDevices::Duplicate(SwapEntry e) {
  ReaderLock l(&mu_);
  SwapArea* a = AreaOfLocked(e);
  return a ? a->Duplicate(e.offset()) : NoArea(e);
}

Result<bool> SwapDevices::Free(SwapEntry e) {
  ReaderLock l(&mu_);
  SwapArea* a = AreaOfLocked(e);
  if (!a) return NoArea(e);
  return a->Free(e.offset());
}

Status SwapDevices::MarkBad(SwapEntry e) {
  ReaderLock l(&mu_);
  SwapArea* a = AreaOfLocked(e);
  return a ? a->MarkBad(e.offset()) : NoArea(e);
}

void SwapDevices::SetStoreWrapper(StoreWrapper wrap) {
  WriterLock l(&mu_);
  store_wrapper_ = std::move(wrap);
}

BlockStore* SwapDevices::store(unsigned type) const {
  ReaderLock l(&mu_);
  return type < kMaxSwapFiles && devices_[type] ? devices_[type]->store.get() : nullptr;
}

SwapArea* SwapDevices::area(unsigned type) const {
  ReaderLock l(&mu_);
  return type < kMaxSwapFiles && devices_[type] ? devices_[type]->area.get() : nullptr;
}

std::vector<SwapDeviceInfo> SwapDevices::List() const {
  ReaderLock l(&mu_);
  std::vector<SwapDeviceInfo> out;
  for (unsigned t = 0; t < kMaxSwapFiles; ++t) {
    const Device* d = devices_[t].get();
    if (!d) continue;
    SwapDeviceInfo info;
    info.path = d->path;
    info.type = t;
    info.prio = d->prio;
    info.page_size = page_size_;
    info.pages = d->area->pages();
    info.usable_pages = d->area->usable_pages();
    info.inuse_pages = d->area->inuse_pages();
    info.bad_pages = d->area->bad_pages();
    info.writable = d->writable.load();
    info.store = std::string(d->store->name());
    out.push_back(std::move(info));
  }
  return out;
}

uint64_t SwapDevices::free_slots() const {
  ReaderLock l(&mu_);
  uint64_t n = 0;
  for (const auto& d : devices_) {
    if (d && d->writable.load(std::memory_order_relaxed)) n += d->area->free_pages();
  }
  return n;
}

}  // namespace uswap
