// BlockStore: the one seam through which uswap moves page contents to and
// from a swap area (cf. LevelDB's Env, CacheLib navy's Device). Everything
// above io/ sees slots, never file descriptors.
//
// A store covers `nr_slots` slots of `page_size` bytes; slot s lives at byte
// offset s * page_size of the underlying file or device. Slot 0 holds the
// swap header: the public calls refuse to touch it, so no bug above can
// clobber the header.
//
// Submit() takes a batch of requests that may all be in flight together
// (io_uring keeps them in flight; the file store issues them one by one) and
// returns when every request has completed. Each request reports its own
// outcome in BlockIo::error, so a caller can tell which slot failed (a write
// error marks only that slot bad).
//
// Validation happens once, in the non-virtual public calls: a batch with any
// malformed request (slot 0, a run past nr_slots, nr == 0, a null buffer, or
// a buffer not aligned to IoAlignment()) is refused whole, before any I/O:
// the malformed requests get EINVAL, the others ECANCELED.
//
// Requests of one batch may complete in any order; a batch must not hold two
// requests on the same slot when either is a write.
//
// Thread-safety: all methods may be called concurrently from any thread.
// Subclasses implement SubmitImpl()/SyncImpl() and must keep that promise.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "uswap/status.h"

namespace uswap {

struct BlockIo {
  enum class Op : uint8_t { kRead, kWrite };
  Op op = Op::kRead;
  uint64_t slot = 0;    // first slot of the run
  uint32_t nr = 0;      // slots in the run (>= 1)
  void* buf = nullptr;  // nr * page_size bytes, page-aligned
  int error = 0;        // out: 0 on success, else an errno (short I/O reports EIO)
};

struct BlockStoreStats {
  uint64_t reads = 0;   // read requests completed without error
  uint64_t writes = 0;  // write requests completed without error
  uint64_t slots_read = 0;
  uint64_t slots_written = 0;
  uint64_t errors = 0;  // requests that failed
};

class BlockStore {
 public:
  BlockStore(size_t page_size, uint64_t nr_slots) : page_size_(page_size), nr_slots_(nr_slots) {}
  virtual ~BlockStore() = default;
  BlockStore(const BlockStore&) = delete;
  BlockStore& operator=(const BlockStore&) = delete;

  // Runs every request of the batch. Returns OK when all succeeded; otherwise
  // the first failure (each request's own errno is in ios[i].error).
  // Requests outside [1, nr_slots) or with nr == 0 / null buf fail with
  // InvalidArgument before any I/O is issued.
  Status Submit(std::span<BlockIo> ios);

  // Single-run conveniences over Submit().
  Status Read(uint64_t slot, uint32_t nr, void* buf);
  Status Write(uint64_t slot, uint32_t nr, const void* buf);

  // Makes completed writes durable (fdatasync). Swap contents need not
  // survive a crash, so the engine calls this only on swapoff/close.
  Status Sync();

  // Short name of the implementation ("file", "uring", "mem", ...).
  virtual std::string_view name() const = 0;

  size_t page_size() const { return page_size_; }
  uint64_t nr_slots() const { return nr_slots_; }
  // Every buffer passed in must be aligned to this: min(page_size, 4096), the
  // DMA alignment O_DIRECT needs on any device with sectors up to 4 KiB. The
  // check is made for every store, so code tested on MemStore also runs on a
  // file opened with O_DIRECT.
  size_t IoAlignment() const { return page_size_ < 4096 ? page_size_ : 4096; }
  BlockStoreStats stats() const;

 protected:
  // REQUIRES: every request validated by Submit(). Must set each ios[i].error.
  virtual void SubmitImpl(std::span<BlockIo> ios) = 0;
  virtual Status SyncImpl() = 0;

 private:
  const size_t page_size_;
  const uint64_t nr_slots_;
  std::atomic<uint64_t> reads_{0}, writes_{0}, slots_read_{0}, slots_written_{0}, errors_{0};
};

// How a swap area's file is opened for page I/O.
struct BlockStoreOptions {
  std::string kind = "";      // "file", "uring", or "" for the measured default
  bool direct_io = true;      // O_DIRECT where the file system allows it (falls back silently)
  unsigned queue_depth = 64;  // io_uring: entries per ring
};

// Opens `path` for page I/O (O_RDWR | O_NOFOLLOW | O_CLOEXEC, plus O_DIRECT
// when asked and supported). Fails with NotSupported for an unknown or
// unavailable kind, naming it; with InvalidArgument unless page_size is a
// power of two >= 512 and 1 <= nr_slots with nr_slots * page_size addressable.
// The file's size is not checked: a read past its end fails with EIO.
Result<std::unique_ptr<BlockStore>> OpenBlockStore(const std::string& path, size_t page_size,
                                                   uint64_t nr_slots,
                                                   const BlockStoreOptions& options);

// Names of the store kinds this build can open, default first.
std::vector<std::string> AvailableBlockStores();
// The kind OpenBlockStore() uses for kind == "": chosen from measurements on
// our disk (see its definition), and always one of AvailableBlockStores().
std::string DefaultBlockStore();

}  // namespace uswap
