// FaultTrace: records the faults a live Space takes as a page trace for
// `uswap sim` (issue 10, `uswap record`; Config::record_faults).
//
// What it holds: one reference per fault uswap resolved — first touches
// (zero fill), major faults (swap-in), minor faults on unmapped resident
// pages, write-protect faults — NOT every access of the program: accesses
// to mapped pages never reach uswap (there is no accessed bit in user
// space). The file says so: the text format starts with a '#' header line;
// the u64 format (raw little-endian page numbers, which `uswap sim
// --format u64` reads) gets a side file PATH.info with the same header.
// A page is the faulting virtual address >> 12 (as in the lackey traces of
// bench/traces/), so pages of different regions never collide.
//
// Cost on the fault path: one append to a fixed buffer under a mutex; the
// buffer (4096 records) is written out when full and at Close, so no fault
// allocates or writes a file itself more than once per 4096 faults.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "base/unique_fd.h"
#include "uswap/status.h"

namespace uswap {

class FaultTrace {
 public:
  enum class Format { kText, kU64 };
  // Creates (truncates) `path`, mode 0600. InvalidArgument for an unknown
  // format name ("text" or "u64"); the open error naming the path else.
  static Result<std::unique_ptr<FaultTrace>> Open(const std::string& path,
                                                  const std::string& format);
  ~FaultTrace();  // Close()

  void Record(uint64_t page, bool write) EXCLUDES(mu_);
  // Writes what is buffered; the first write error is kept and returned.
  Status Flush() EXCLUDES(mu_);
  uint64_t recorded() const EXCLUDES(mu_);

 private:
  FaultTrace(UniqueFd fd, Format format) : fd_(std::move(fd)), format_(format) {}
  Status FlushLocked() REQUIRES(mu_);

  static constexpr size_t kBuffered = 4096;
  const UniqueFd fd_;
  const Format format_;
  mutable Mutex mu_;
  uint64_t pages_[kBuffered] GUARDED_BY(mu_);
  bool writes_[kBuffered] GUARDED_BY(mu_);
  char text_[kBuffered * 24] GUARDED_BY(mu_);  // "PAGE r|w\n", at most 24 bytes a line
  size_t n_ GUARDED_BY(mu_) = 0;
  uint64_t recorded_ GUARDED_BY(mu_) = 0;
  Status error_ GUARDED_BY(mu_);
};

}  // namespace uswap
