// MakeSwapArea (include/uswap/swap_area.h): util-linux mkswap's work on a
// file or block device, as a library call.
//
// What is written, as util-linux does it: page 0 (bootbits zeroed, the v1
// fields, the magic) and nothing else, except that a stale swap signature
// at another page size's magic position within the first 64 KiB is zeroed
// (mkswap's libblkid wipe does the same, so a 4096-byte area over an old
// 64 KiB-page one leaves identical bytes). Page 0 is written with one
// pwrite and fsync.
//
// Where uswap differs on purpose: it refuses to format over a recognisable
// signature or any non-zero byte of page 0 unless `force` (util-linux only
// warns), refuses labels over 15 bytes (util-linux truncates), and with a
// size creates the file itself: O_EXCL|O_NOFOLLOW, mode 0600, fully
// allocated (posix_fallocate), so swapon(2) will not find holes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "swap/swap_format.h"
#include "swap/swap_header.h"
#include "uswap/swap_area.h"

namespace uswap {

namespace {

namespace sf = swap_format;

// Removes the file this call created unless Disarm()ed: a failed create
// leaves no partial file behind.
class CreatedFile {
 public:
  void Arm(std::string path) { path_ = std::move(path); }
  void Disarm() { path_.clear(); }
  ~CreatedFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

 private:
  std::string path_;
};

// Why `head` (the first bytes of the target) must not be overwritten
// without `force`; "" when page 0 is all zero.
std::string DescribeExistingData(const std::vector<uint8_t>& head, uint64_t file_size,
                                 size_t page_size) {
  Result<SwapHeaderProbe> swap = ProbeSwapHeader(head, file_size);
  if (swap.ok()) {
    const SwapHeader& h = swap->header;
    std::string what = "holds a swap area (" + std::to_string(h.page_size) + "-byte pages";
    if (!h.label.empty()) what += ", LABEL=" + h.label;
    if (h.uuid != std::array<uint8_t, 16>{}) what += ", UUID=" + FormatUuid(h.uuid);
    return what + ")";
  }
  // cf. libblkid's ext2/3/4 probe: s_magic 0xEF53 at 1024 + 56.
  if (head.size() >= 1082 && head[1080] == 0x53 && head[1081] == 0xEF) {
    return "holds an ext2/3/4 file system (magic 0xEF53 at offset 1080)";
  }
  const size_t n = std::min(head.size(), page_size);
  for (size_t i = 0; i < n; ++i) {
    if (head[i] != 0) {
      return "holds data (non-zero byte at offset " + std::to_string(i) + " of page 0)";
    }
  }
  return "";
}

// Zeroes swap magics left at page sizes above the new one (within the
// file and the first 64 KiB), as util-linux's libblkid wipe does: blkid must
// not see the old area's signature through the new one.
Status WipeStaleMagics(int fd, const std::vector<uint8_t>& head, size_t page_size) {
  static constexpr uint8_t kZero[sf::kMagicSize] = {};
  for (size_t ps = page_size * 2; ps <= sf::kMaxPageSize && ps <= head.size(); ps *= 2) {
    const uint8_t* at = head.data() + ps - sf::kMagicSize;
    if (std::memcmp(at, sf::kMagic, sf::kMagicSize) == 0 ||
        std::memcmp(at, "SWAP-SPACE", sf::kMagicSize) == 0) {
      USWAP_RETURN_IF_ERROR(PwriteAll(fd, kZero, sizeof(kZero), ps - sf::kMagicSize));
    }
  }
  return Status::OK();
}

// fsync of the directory holding `path`, so a file we created survives a
// crash along with its header.
Status SyncParentDir(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.valid()) return Status::FromErrno("open " + dir, errno);
  if (::fsync(d.get()) != 0) return Status::FromErrno("fsync " + dir, errno);
  return Status::OK();
}

// Sizes the target: allocates a created (or, with force, existing) regular
// file to `size` bytes with no holes. Growth is undone on failure. Returns
// the size the area may use; a shrink is left to the caller (after the
// header is written, so a failure never loses data it did not have to).
Result<uint64_t> AllocateFile(int fd, const struct stat& st, uint64_t size, uint64_t current) {
  if (S_ISBLK(st.st_mode)) {
    if (size > current) {
      return Status::InvalidArgument("size " + std::to_string(size) +
                                     " is larger than the device (" + std::to_string(current) +
                                     " bytes)");
    }
    return size;
  }
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0) {
    if (size > current && ::ftruncate(fd, static_cast<off_t>(current)) != 0) {
      return Status::FromErrno("posix_fallocate failed, and so did ftruncate back", errno);
    }
    return Status::FromErrno("posix_fallocate " + std::to_string(size) + " bytes", err);
  }
  return size;
}

// A warning when a regular file has holes: swapon(2) refuses such a file
// (cf. util-linux's "contains holes" warning). Judged by the blocks
// allocated, not SEEK_HOLE: ext4 and xfs report the unwritten extents of a
// preallocated file as holes, yet swapon accepts them.
std::string HolesWarning(const struct stat& st) {
  const uint64_t block = st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
  const uint64_t need = static_cast<uint64_t>(st.st_size) / block * block;
  const uint64_t have = static_cast<uint64_t>(st.st_blocks) * 512;
  if (have >= need) return "";
  return "file has holes (" + std::to_string(have) + " of " + std::to_string(need) +
         " bytes allocated); swapon(2) will refuse it (create it with a size instead)";
}

std::string TooSmall(uint64_t bytes, size_t page_size) {
  return std::to_string(bytes) + " bytes is too small: a swap area needs at least " +
         std::to_string(sf::kMinPages) + " pages of " + std::to_string(page_size) + " bytes (" +
         std::to_string(sf::kMinPages * page_size) + " bytes)";
}

}  // namespace

Result<SwapAreaInfo> MakeSwapArea(const std::string& path, uint64_t size,
                                  const SwapAreaOptions& options) {
  size_t page_size = options.page_size;
  if (page_size == 0) {
    const long ps = ::sysconf(_SC_PAGESIZE);
    page_size = ps > 0 ? static_cast<size_t>(ps) : sf::kMinPageSize;
  }
  if (page_size < sf::kMinPageSize || page_size > sf::kMaxPageSize ||
      (page_size & (page_size - 1)) != 0) {
    return Status::InvalidArgument(
        "page size " + std::to_string(page_size) + " is not a power of two from " +
        std::to_string(sf::kMinPageSize) + " to " + std::to_string(sf::kMaxPageSize));
  }
  SwapHeader h;
  h.page_size = page_size;
  h.label = options.label;
  if (options.uuid) {
    h.uuid = *options.uuid;
  } else {
    Result<std::array<uint8_t, 16>> uuid = RandomUuid();
    if (!uuid.ok()) return uuid.status();
    h.uuid = *uuid;
  }
  // The fields that do not depend on the target, checked before it is
  // touched (the size is checked again below, against what is there).
  h.last_page = sf::kMinPages - 1;
  USWAP_RETURN_IF_ERROR(h.Validate(uint64_t{sf::kMinPages} * page_size));
  if (size && size < uint64_t{sf::kMinPages} * page_size)
    return Status::InvalidArgument(TooSmall(size, page_size));

  // Open (or create) the target.
  CreatedFile created;
  UniqueFd fd;
  bool existed = true;
  if (size) {
    fd.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.valid()) {
      existed = false;
      created.Arm(path);
    } else if (errno == EEXIST && !options.force) {
      return Status::Busy("already exists");
    } else if (errno == EEXIST) {
      fd.Reset(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    }
  } else {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::NotFound("does not exist");
      return Status::FromErrno("stat", errno);
    }
    // O_EXCL on a block device fails if it is mounted or an active swap
    // device (cf. util-linux's exclusive open).
    fd.Reset(::open(path.c_str(), O_RDWR | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0)));
  }
  if (!fd.valid()) return Status::FromErrno("open", errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno("fstat", errno);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    return Status::InvalidArgument("not a regular file or block device");
  Result<uint64_t> current = SwapTargetSize(fd.get());
  if (!current.ok()) return current.status();

  // Look at what is there before changing anything.
  Result<std::vector<uint8_t>> head =
      ReadHeaderBytes(fd.get(), std::min<uint64_t>(*current, sf::kMaxPageSize));
  if (!head.ok()) return head.status();
  if (existed && !options.force) {
    std::string why = DescribeExistingData(*head, *current, page_size);
    if (!why.empty()) return Status::Busy(why);
  }

  uint64_t area_bytes = *current;
  if (size) {
    Result<uint64_t> sized = AllocateFile(fd.get(), st, size, *current);
    if (!sized.ok()) return sized.status();
    area_bytes = *sized;
  }
  SwapAreaInfo info;
  uint64_t pages = area_bytes / page_size;
  if (pages < sf::kMinPages) return Status::InvalidArgument(TooSmall(area_bytes, page_size));
  constexpr uint64_t kMaxPages = uint64_t{UINT32_MAX} + 1;  // last_page is a u32
  if (pages > kMaxPages) {
    info.warnings.push_back("using only the first " + std::to_string(kMaxPages * page_size) +
                            " bytes (last_page is 32-bit)");
    pages = kMaxPages;
  }
  h.last_page = static_cast<uint32_t>(pages - 1);
  USWAP_RETURN_IF_ERROR(h.Validate(area_bytes));
  const std::vector<uint8_t> page = h.Serialize();

  Status s = PwriteAll(fd.get(), page.data(), page.size(), 0);
  if (s.ok()) s = WipeStaleMagics(fd.get(), *head, page_size);
  if (s.ok() && size && existed && S_ISREG(st.st_mode) && size < *current &&
      ::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    s = Status::FromErrno("ftruncate", errno);
  }
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync", errno);
  if (s.ok() && !existed) s = SyncParentDir(path);
  USWAP_RETURN_IF_ERROR(s);
  created.Disarm();

  if (S_ISREG(st.st_mode) && !size && ::fstat(fd.get(), &st) == 0) {
    if (std::string w = HolesWarning(st); !w.empty()) info.warnings.push_back(w);
  }
  info.pages = pages;
  info.usable_bytes = (pages - 1) * page_size;
  info.page_size = page_size;
  info.uuid = h.uuid;
  info.label = h.label;
  return info;
}

}  // namespace uswap
