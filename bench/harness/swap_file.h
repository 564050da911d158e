// SwapFile and KernelSwapon: the swap areas `uswap bench` makes for itself,
// each an RAII guard that undoes what it did.
//
// SwapFile is a file formatted as a Linux swap area (SWAPSPACE2, written by
// our own SwapHeader, byte-exact with mkswap(8)); a file the bench created is
// removed by the destructor, a file it found is left alone. KernelSwapon is
// one swapon(2) of such a file, undone by swapoff(2) in the destructor.
//
// Thread-safety: none needed (created, used and destroyed by one thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "uswap/status.h"

namespace uswap::bench {

class SwapFile {
 public:
  // Creates `path` (which must not exist) of `bytes` rounded down to pages:
  // fallocate (swapon refuses holes), mode 0600 (swapon warns about others),
  // header page written and synced. On failure nothing is left behind.
  static Result<std::unique_ptr<SwapFile>> Create(const std::string& path, uint64_t bytes);
  // Uses `path` as is when it holds a valid swap area, creates it (as Create)
  // when it does not exist, and fails - touching nothing - for any other file.
  static Result<std::unique_ptr<SwapFile>> CreateOrOpen(const std::string& path, uint64_t bytes);

  ~SwapFile();  // removes the file if this object created it
  SwapFile(const SwapFile&) = delete;
  SwapFile& operator=(const SwapFile&) = delete;

  const std::string& path() const { return path_; }
  bool created() const { return created_; }
  uint64_t pages() const { return pages_; }  // usable slots (the header page excluded)

 private:
  SwapFile(std::string path, bool created, uint64_t pages)
      : path_(std::move(path)), created_(created), pages_(pages) {}
  std::string path_;
  bool created_;
  uint64_t pages_;
};

class KernelSwapon {
 public:
  // swapon(2) of `path` with `priority` (0..32767; higher is used first).
  // REQUIRES: root (CAP_SYS_ADMIN).
  static Result<std::unique_ptr<KernelSwapon>> On(const std::string& path, int priority);
  // swapoff(2), retried when a signal interrupts it (swapoff returns EINTR
  // when a signal arrives while it reads pages back).
  ~KernelSwapon();
  KernelSwapon(const KernelSwapon&) = delete;
  KernelSwapon& operator=(const KernelSwapon&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit KernelSwapon(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// True when /proc/swaps lists `path` (an absolute path) as an active swap area.
bool KernelSwapActive(const std::string& path);
// Number of active kernel swap areas (entries of /proc/swaps).
int CountKernelSwapAreas();

}  // namespace uswap::bench
