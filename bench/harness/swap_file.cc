#include "swap_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/log.h"
#include "base/unique_fd.h"
#include "swap/swap_format.h"
#include "swap/swap_header.h"

namespace uswap::bench {
namespace {

constexpr size_t kPage = 4096;

Status FormatFile(int fd, const std::string& path, uint64_t pages) {
  if (::fallocate(fd, 0, 0, static_cast<off_t>(pages * kPage)) != 0) {
    return Status::FromErrno("fallocate " + path, errno);
  }
  if (::fchmod(fd, 0600) != 0) return Status::FromErrno("chmod " + path, errno);
  SwapHeader header;
  header.page_size = kPage;
  header.last_page = static_cast<uint32_t>(pages - 1);
  header.label = "uswap-bench";
  std::vector<uint8_t> page = header.Serialize();
  if (::pwrite(fd, page.data(), page.size(), 0) != static_cast<ssize_t>(page.size())) {
    return Status::FromErrno("write swap header of " + path, errno ? errno : EIO);
  }
  if (::fsync(fd) != 0) return Status::FromErrno("fsync " + path, errno);
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<SwapFile>> SwapFile::Create(const std::string& path, uint64_t bytes) {
  const uint64_t pages = bytes / kPage;
  if (pages < swap_format::kMinPages + 1 || pages - 1 > UINT32_MAX) {
    return Status::InvalidArgument("swap file " + path + ": size out of range");
  }
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno("create " + path, errno);
  Status st = FormatFile(fd.get(), path, pages);
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  return std::unique_ptr<SwapFile>(new SwapFile(path, true, pages - 1));
}

Result<std::unique_ptr<SwapFile>> SwapFile::CreateOrOpen(const std::string& path, uint64_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Create(path, bytes);
    return Status::FromErrno("open " + path, errno);
  }
  Result<SwapHeader> header = ReadSwapHeader(fd.get());
  if (!header.ok()) {
    return header.status().WithContext(path + " exists and is not a swap area (not touched)");
  }
  return std::unique_ptr<SwapFile>(new SwapFile(path, false, header->last_page));
}

SwapFile::~SwapFile() {
  if (created_ && ::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    Log(LogLevel::kWarning, "cannot remove %s: %s", path_.c_str(), std::strerror(errno));
  }
}

Result<std::unique_ptr<KernelSwapon>> KernelSwapon::On(const std::string& path, int priority) {
  int flags = SWAP_FLAG_PREFER | ((priority << SWAP_FLAG_PRIO_SHIFT) & SWAP_FLAG_PRIO_MASK);
  if (::swapon(path.c_str(), flags) != 0) return Status::FromErrno("swapon " + path, errno);
  return std::unique_ptr<KernelSwapon>(new KernelSwapon(path));
}

KernelSwapon::~KernelSwapon() {
  int rc;
  do {
    rc = ::swapoff(path_.c_str());
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) Log(LogLevel::kError, "swapoff %s: %s", path_.c_str(), std::strerror(errno));
}

namespace {
// The first field (the path) of every /proc/swaps entry.
std::vector<std::string> KernelSwapAreas() {
  std::vector<std::string> out;
  std::ifstream in("/proc/swaps");
  std::string line;
  std::getline(in, line);  // "Filename Type Size Used Priority"
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    if (fields >> name) out.push_back(name);
  }
  return out;
}
}  // namespace

bool KernelSwapActive(const std::string& path) {
  std::vector<std::string> areas = KernelSwapAreas();
  return std::find(areas.begin(), areas.end(), path) != areas.end();
}

int CountKernelSwapAreas() { return static_cast<int>(KernelSwapAreas().size()); }

}  // namespace uswap::bench
