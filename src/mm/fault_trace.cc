#include "mm/fault_trace.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/log.h"

namespace uswap {

namespace {

constexpr char kHeader[] =
    "# uswap fault trace v1: one reference per page fault uswap resolved (first touch, "
    "swap-in, minor fault on an unmapped page, write-protect), not every access; "
    "page = virtual address >> 12\n";

Status WriteAll(int fd, const void* buf, size_t len, const char* what) {
  const char* p = static_cast<const char*>(buf);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(what, n < 0 ? errno : EIO);
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

Result<UniqueFd> Create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("fault trace " + path, errno);
  return UniqueFd(fd);
}

}  // namespace

Result<std::unique_ptr<FaultTrace>> FaultTrace::Open(const std::string& path,
                                                     const std::string& format) {
  Format f;
  if (format == "text" || format.empty())
    f = Format::kText;
  else if (format == "u64")
    f = Format::kU64;
  else
    return Status::InvalidArgument("fault trace format '" + format + "' is not one of: text, u64");
  USWAP_ASSIGN_OR_RETURN(UniqueFd fd, Create(path));
  if (f == Format::kText) {
    USWAP_RETURN_IF_ERROR(WriteAll(fd.get(), kHeader, sizeof kHeader - 1, path.c_str()));
  } else {
    const std::string info = path + ".info";
    USWAP_ASSIGN_OR_RETURN(UniqueFd side, Create(info));
    USWAP_RETURN_IF_ERROR(WriteAll(side.get(), kHeader, sizeof kHeader - 1, info.c_str()));
  }
  return std::unique_ptr<FaultTrace>(new FaultTrace(std::move(fd), f));
}

FaultTrace::~FaultTrace() {
  Status st = Flush();
  if (!st.ok()) Log(LogLevel::kError, "fault trace incomplete: %s", st.ToString().c_str());
}

void FaultTrace::Record(uint64_t page, bool write) {
  MutexLock l(&mu_);
  pages_[n_] = page;
  writes_[n_] = write;
  recorded_++;
  if (++n_ == kBuffered) (void)FlushLocked();
}

uint64_t FaultTrace::recorded() const {
  MutexLock l(&mu_);
  return recorded_;
}

Status FaultTrace::Flush() {
  MutexLock l(&mu_);
  return FlushLocked();
}

Status FaultTrace::FlushLocked() {
  if (n_ > 0 && error_.ok()) {
    if (format_ == Format::kU64) {
      error_ = WriteAll(fd_.get(), pages_, n_ * sizeof(uint64_t), "fault trace write");
    } else {
      size_t len = 0;
      for (size_t i = 0; i < n_; i++)
        len += static_cast<size_t>(std::snprintf(text_ + len, sizeof text_ - len, "%llu %c\n",
                                                 static_cast<unsigned long long>(pages_[i]),
                                                 writes_[i] ? 'w' : 'r'));
      error_ = WriteAll(fd_.get(), text_, len, "fault trace write");
    }
  }
  n_ = 0;
  return error_;
}

}  // namespace uswap
