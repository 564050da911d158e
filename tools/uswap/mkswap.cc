// uswap mkswap: sets up a Linux swap area (SWAPSPACE2 v1) on a file or block
// device, byte-compatible with util-linux mkswap(8).
//
// What is written, as util-linux does it: page 0 (bootbits zeroed, the v1
// fields, the magic) and nothing else, except that a stale swap signature
// at another page size's magic position within the first 64 KiB is zeroed
// (mkswap's libblkid wipe does the same, so `-p 4096` over an old 64 KiB-page
// area leaves identical bytes). Page 0 is written with one pwrite and fsync.
//
// Where uswap differs on purpose: it refuses to format over a recognisable
// signature or any non-zero byte of page 0 unless -f (util-linux only warns),
// refuses labels over 15 bytes (util-linux truncates), and with -s SIZE
// creates the file itself: O_EXCL|O_NOFOLLOW, mode 0600, fully allocated
// (posix_fallocate), so swapon(2) will not find holes.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "cli_util.h"
#include "commands.h"
#include "swap/swap_format.h"
#include "swap/swap_header.h"

namespace uswap::cli {

namespace {

namespace sf = swap_format;

constexpr char kCmd[] = "mkswap";

constexpr char kHelp[] =
    "usage: uswap mkswap [-L LABEL] [-U UUID] [-p PAGESIZE] [-s SIZE] [-f] FILE\n"
    "\n"
    "Sets up a Linux swap area (SWAPSPACE2, version 1) on FILE, byte-compatible\n"
    "with util-linux mkswap(8).\n"
    "\n"
    "  -L LABEL     volume label, at most 15 bytes\n"
    "  -U UUID      xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, clear, random (default) or time\n"
    "  -p PAGESIZE  page size: a power of two from 4096 to 65536 (default: this system's)\n"
    "  -s SIZE      create FILE with SIZE bytes (suffix K, M, G or T), mode 0600,\n"
    "               fully allocated; FILE must not exist unless -f\n"
    "  -f           format even if FILE holds data or a signature (or exists, with -s)\n"
    "\n"
    "Without -s, FILE is an existing regular file or block device, and the area\n"
    "covers all of it (rounded down to whole pages).\n";

struct Options {
  std::string label;
  std::string uuid_spec = "random";
  size_t page_size = 0;
  std::optional<uint64_t> size;
  bool force = false;
  std::string path;
};

// Parses argv into `opts`; returns an exit code when the command is done
// (help printed or bad usage), nullopt to go on.
std::optional<int> ParseArgs(int argc, char** argv, Options& opts) {
  static const option kLong[] = {{"label", required_argument, nullptr, 'L'},
                                 {"uuid", required_argument, nullptr, 'U'},
                                 {"pagesize", required_argument, nullptr, 'p'},
                                 {"size", required_argument, nullptr, 's'},
                                 {"force", no_argument, nullptr, 'f'},
                                 {"help", no_argument, nullptr, 'h'},
                                 {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":L:U:p:s:fh", kLong, nullptr)) != -1) {
    switch (c) {
      case 'L':
        opts.label = optarg;
        break;
      case 'U':
        opts.uuid_spec = optarg;
        break;
      case 'p': {
        Result<size_t> ps = ParsePageSize(optarg);
        if (!ps.ok()) return UsageError(kCmd, ps.status().message());
        opts.page_size = *ps;
        break;
      }
      case 's': {
        Result<uint64_t> s = ParseSize(optarg);
        if (!s.ok()) return UsageError(kCmd, s.status().message());
        opts.size = *s;
        break;
      }
      case 'f':
        opts.force = true;
        break;
      default:
        return HelpOrUsageError(kCmd, c, argv, kHelp);
    }
  }
  std::optional<std::string> path = OneFileOperand(kCmd, argc, argv);
  if (!path) return 2;
  opts.path = *path;
  if (opts.page_size == 0) {
    const long ps = ::sysconf(_SC_PAGESIZE);
    opts.page_size = ps > 0 ? static_cast<size_t>(ps) : sf::kMinPageSize;
  }
  Status label = CheckLabel(opts.label);
  if (!label.ok()) return UsageError(kCmd, label.message());
  return std::nullopt;
}

// Removes the file this run created unless Disarm()ed: a failed `-s`
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
// without -f; "" when page 0 is all zero.
std::string DescribeExistingData(const std::vector<uint8_t>& head, uint64_t file_size,
                                 size_t page_size) {
  Result<SwapHeaderProbe> swap = ProbeSwapHeader(head, file_size);
  if (swap.ok()) {
    const SwapHeader& h = swap->header;
    std::string what = "holds a swap area (" + std::to_string(h.page_size) + "-byte pages";
    if (!h.label.empty()) what += ", LABEL=" + h.label;
    if (!IsNullUuid(h.uuid)) what += ", UUID=" + FormatUuid(h.uuid);
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

// Sizes the target: allocates a created (or, with -f, existing) regular file
// to `size` bytes with no holes. Growth is undone on failure. Returns the
// size the area may use; a shrink is left to the caller (after the header
// is written, so a failure never loses data it did not have to).
Result<uint64_t> AllocateFile(int fd, const struct stat& st, uint64_t size, uint64_t current) {
  if (S_ISBLK(st.st_mode)) {
    if (size > current) {
      return Status::InvalidArgument("SIZE " + std::to_string(size) +
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

// Warns (does not fail) when a regular file has holes: swapon(2) refuses
// such a file (cf. util-linux's "contains holes" warning). Judged by the
// blocks allocated, not SEEK_HOLE: ext4 and xfs report the unwritten
// extents of a preallocated file as holes, yet swapon accepts them.
void WarnIfHoles(const std::string& path, const struct stat& st) {
  const uint64_t block = st.st_blksize > 0 ? static_cast<uint64_t>(st.st_blksize) : 4096;
  const uint64_t need = static_cast<uint64_t>(st.st_size) / block * block;
  const uint64_t have = static_cast<uint64_t>(st.st_blocks) * 512;
  if (have < need) {
    std::fprintf(stderr,
                 "uswap mkswap: %s: warning: file has holes (%llu of %llu bytes allocated); "
                 "swapon(2) will refuse it (create it with -s instead)\n",
                 path.c_str(), static_cast<unsigned long long>(have),
                 static_cast<unsigned long long>(need));
  }
}

int Run(const Options& opts) {
  const std::string& path = opts.path;
  Result<Uuid> uuid = MakeUuid(opts.uuid_spec);
  if (!uuid.ok()) return UsageError(kCmd, uuid.status().message());
  const uint64_t min_bytes = sf::kMinPages * opts.page_size;
  if (opts.size && *opts.size < min_bytes) {
    return Fail(kCmd, path,
                "SIZE " + std::to_string(*opts.size) +
                    " is too small: a swap area needs at least " + std::to_string(sf::kMinPages) +
                    " pages of " + std::to_string(opts.page_size) + " bytes (" +
                    std::to_string(min_bytes) + " bytes)");
  }

  // Past RLIMIT_FSIZE, posix_fallocate must fail with EFBIG (and the file
  // be removed) rather than SIGXFSZ kill us with a partial file left.
  if (opts.size) std::signal(SIGXFSZ, SIG_IGN);

  // Open (or create) the target.
  CreatedFile created;
  UniqueFd fd;
  bool existed = true;
  if (opts.size) {
    fd.Reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.valid()) {
      existed = false;
      created.Arm(path);
    } else if (errno == EEXIST && !opts.force) {
      return Fail(kCmd, path, "already exists (use -f to resize and format it, or omit -s)");
    } else if (errno == EEXIST) {
      fd.Reset(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    }
  } else {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Fail(kCmd, path, "does not exist (use -s SIZE to create it)");
      return Fail(kCmd, path, Status::FromErrno("stat", errno).message());
    }
    // O_EXCL on a block device fails if it is mounted or an active swap
    // device (cf. util-linux's exclusive open).
    fd.Reset(::open(path.c_str(), O_RDWR | O_CLOEXEC | (S_ISBLK(st.st_mode) ? O_EXCL : 0)));
  }
  if (!fd.valid()) return Fail(kCmd, path, Status::FromErrno("open", errno).message());
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    return Fail(kCmd, path, Status::FromErrno("fstat", errno).message());
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Fail(kCmd, path, "not a regular file or block device");
  }
  Result<uint64_t> current = SwapTargetSize(fd.get());
  if (!current.ok()) return Fail(kCmd, path, current.status().message());

  // Look at what is there before changing anything.
  Result<std::vector<uint8_t>> head =
      ReadHeaderBytes(fd.get(), std::min<uint64_t>(*current, sf::kMaxPageSize));
  if (!head.ok()) return Fail(kCmd, path, head.status().message());
  if (existed && !opts.force) {
    std::string why = DescribeExistingData(*head, *current, opts.page_size);
    if (!why.empty()) return Fail(kCmd, path, why + "; use -f to overwrite it");
  }

  uint64_t area_bytes = *current;
  if (opts.size) {
    Result<uint64_t> sized = AllocateFile(fd.get(), st, *opts.size, *current);
    if (!sized.ok()) return Fail(kCmd, path, sized.status().message());
    area_bytes = *sized;
  }
  uint64_t pages = area_bytes / opts.page_size;
  if (pages < sf::kMinPages) {
    return Fail(kCmd, path,
                std::to_string(area_bytes) + " bytes is too small: a swap area needs at least " +
                    std::to_string(sf::kMinPages) + " pages of " + std::to_string(opts.page_size) +
                    " bytes (" + std::to_string(min_bytes) + " bytes)");
  }
  constexpr uint64_t kMaxPages = uint64_t{UINT32_MAX} + 1;  // last_page is a u32
  if (pages > kMaxPages) {
    std::fprintf(stderr,
                 "uswap mkswap: %s: warning: using only the first %s (last_page is 32-bit)\n",
                 path.c_str(), HumanSize(kMaxPages * opts.page_size).c_str());
    pages = kMaxPages;
  }

  SwapHeader h;
  h.page_size = opts.page_size;
  h.last_page = static_cast<uint32_t>(pages - 1);
  h.uuid = *uuid;
  h.label = opts.label;
  if (Status v = h.Validate(area_bytes); !v.ok()) return Fail(kCmd, path, v.message());
  const std::vector<uint8_t> page = h.Serialize();

  Status s = PwriteAll(fd.get(), page.data(), page.size(), 0);
  if (s.ok()) s = WipeStaleMagics(fd.get(), *head, opts.page_size);
  if (s.ok() && opts.size && existed && S_ISREG(st.st_mode) && *opts.size < *current &&
      ::ftruncate(fd.get(), static_cast<off_t>(*opts.size)) != 0) {
    s = Status::FromErrno("ftruncate", errno);
  }
  if (s.ok() && ::fsync(fd.get()) != 0) s = Status::FromErrno("fsync", errno);
  if (s.ok() && !existed) s = SyncParentDir(path);
  if (!s.ok()) return Fail(kCmd, path, s.message());
  created.Disarm();

  if (S_ISREG(st.st_mode) && !opts.size && ::fstat(fd.get(), &st) == 0) WarnIfHoles(path, st);
  // The two lines util-linux mkswap prints.
  const uint64_t usable = (pages - 1) * opts.page_size;
  std::printf("Setting up swapspace version 1, size = %s (%llu bytes)\n", HumanSize(usable).c_str(),
              static_cast<unsigned long long>(usable));
  std::printf("%s, UUID=%s\n", opts.label.empty() ? "no label" : ("LABEL=" + opts.label).c_str(),
              FormatUuid(*uuid).c_str());
  return 0;
}

}  // namespace

int MkswapMain(int argc, char** argv) {
  Options opts;
  if (std::optional<int> done = ParseArgs(argc, argv, opts)) return *done;
  return Run(opts);
}

}  // namespace uswap::cli
