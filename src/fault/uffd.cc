#include "fault/uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <string>

#include "base/log.h"

namespace uswap {

// Constants newer than Debian 12's headers (values from the kernel UAPI).
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
namespace {
struct uffdio_poison_compat {
  struct uffdio_range range;
  __u64 mode;
  __s64 updated;
};
constexpr unsigned long kUffdioPoison = _IOWR(UFFDIO, 0x08, struct uffdio_poison_compat);

struct FeatureName {
  uint64_t bit;
  const char* name;
};
constexpr FeatureName kRequired[] = {
    {UFFD_FEATURE_MISSING_SHMEM, "UFFD_FEATURE_MISSING_SHMEM (Linux >= 4.11)"},
    {UFFD_FEATURE_MINOR_SHMEM, "UFFD_FEATURE_MINOR_SHMEM (Linux >= 5.14)"},
    {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "UFFD_FEATURE_WP_HUGETLBFS_SHMEM (Linux >= 5.19)"},
    // Without it a page that cannot be read back could not be failed with
    // SIGBUS: its fault would wait forever.
    {UFFD_FEATURE_POISON, "UFFD_FEATURE_POISON (Linux >= 6.6)"},
};

std::string KernelRelease() {
  utsname u;
  return uname(&u) == 0 ? u.release : "unknown";
}

// Kernel-mode faults (a read(2) into region memory) are handled only by a
// userfaultfd opened without UFFD_USER_MODE_ONLY, which needs privilege:
// CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=1, or access to
// /dev/userfaultfd. Try those in turn; fall back to user-mode-only with a
// warning (system calls touching non-resident pages then fail with EFAULT)
// unless `kernel_faults` is required.
Result<UniqueFd> OpenRaw(bool kernel_faults) {
  const int flags = O_CLOEXEC | O_NONBLOCK;
  int fd = static_cast<int>(syscall(SYS_userfaultfd, flags));
  if (fd >= 0) return UniqueFd(fd);
  int err = errno;
  if (err == EPERM) {
    int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      constexpr unsigned long kUserfaultfdIocNew = _IO(0xAA, 0x00);  // USERFAULTFD_IOC_NEW
      fd = ioctl(dev, kUserfaultfdIocNew, flags);
      ::close(dev);
      if (fd >= 0) return UniqueFd(fd);
    }
    if (kernel_faults)
      return Status::NotSupported(
          "no permission for userfaultfd (vm.unprivileged_userfaultfd=0 and no access to "
          "/dev/userfaultfd): set the sysctl vm.unprivileged_userfaultfd=1 or give this user "
          "read-write access to /dev/userfaultfd");
    fd = static_cast<int>(syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY));
    if (fd >= 0) {
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true))
        Log(LogLevel::kWarning,
            "userfaultfd: user-mode faults only (no CAP_SYS_PTRACE, "
            "vm.unprivileged_userfaultfd=0, no access to /dev/userfaultfd): system calls that "
            "touch swapped-out region memory will fail with EFAULT");
      return UniqueFd(fd);
    }
    return Status::NotSupported(
        "userfaultfd: permission denied (set vm.unprivileged_userfaultfd=1, grant access to "
        "/dev/userfaultfd, or run with CAP_SYS_PTRACE)");
  }
  if (err == ENOSYS)
    return Status::NotSupported(
        "this kernel has no userfaultfd (built without CONFIG_USERFAULTFD)");
  return Status::FromErrno("userfaultfd", err).WithContext("cannot open userfaultfd");
}
}  // namespace

Status Userfaultfd::CheckFeatures(uint64_t available, bool sigbus) {
  for (const FeatureName& f : kRequired) {
    if (!(available & f.bit))
      return Status::NotSupported(std::string("userfaultfd lacks ") + f.name + "; this kernel is " +
                                  KernelRelease());
  }
  if (sigbus && !(available & UFFD_FEATURE_SIGBUS))
    return Status::NotSupported(
        "userfaultfd lacks UFFD_FEATURE_SIGBUS (Linux >= 4.14), needed by "
        "FaultDelivery::kSigbus; this kernel is " +
        KernelRelease());
  return Status::OK();
}

Result<Userfaultfd> Userfaultfd::Open(bool sigbus, bool kernel_faults) {
  // First handshake asks for nothing and learns what the kernel offers
  // (UFFDIO_API may be called once per fd, hence two fds).
  uint64_t available = 0;
  {
    USWAP_ASSIGN_OR_RETURN(UniqueFd probe, OpenRaw(kernel_faults));
    uffdio_api api{};
    api.api = UFFD_API;
    if (ioctl(probe.get(), UFFDIO_API, &api) != 0)
      return Status::FromErrno("UFFDIO_API", errno).WithContext("userfaultfd handshake failed");
    available = api.features;
  }
  USWAP_RETURN_IF_ERROR(CheckFeatures(available, sigbus));
  uint64_t want = 0;
  for (const FeatureName& f : kRequired) want |= f.bit;
  if (sigbus) want |= UFFD_FEATURE_SIGBUS;

  USWAP_ASSIGN_OR_RETURN(UniqueFd fd, OpenRaw(kernel_faults));
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = want;
  if (ioctl(fd.get(), UFFDIO_API, &api) != 0)
    return Status::FromErrno("UFFDIO_API", errno).WithContext("userfaultfd feature negotiation");
  Userfaultfd u(std::move(fd));
  USWAP_RETURN_IF_ERROR(u.ProbeContinueWp());
  return u;
}

Status Userfaultfd::ProbeContinueWp() {
  // One throw-away page of shmem, registered like a region, with its page
  // present: CONTINUE in write-protect mode must map it.
  const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  UniqueFd mfd(memfd_create("uswap-probe", MFD_CLOEXEC));
  if (!mfd.valid()) return Status::FromErrno("memfd_create (feature probe)", errno);
  if (ftruncate(mfd.get(), static_cast<off_t>(ps)) != 0 || fallocate(mfd.get(), 0, 0, ps) != 0)
    return Status::FromErrno("memfd (feature probe)", errno);
  void* p = mmap(nullptr, ps, PROT_READ | PROT_WRITE, MAP_SHARED, mfd.get(), 0);
  if (p == MAP_FAILED) return Status::FromErrno("mmap (feature probe)", errno);
  Status st = Register(p, ps);
  if (st.ok()) {
    uffdio_continue c{};
    c.range.start = reinterpret_cast<uintptr_t>(p);
    c.range.len = ps;
    c.mode = UFFDIO_CONTINUE_MODE_WP;
    if (ioctl(fd_.get(), UFFDIO_CONTINUE, &c) != 0) {
      const int err = errno;
      st = err == EINVAL
               ? Status::NotSupported(
                     "userfaultfd: UFFDIO_CONTINUE does not accept "
                     "UFFDIO_CONTINUE_MODE_WP (present in Linux >= 6.6); this kernel is " +
                     KernelRelease())
               : Status::FromErrno("UFFDIO_CONTINUE (feature probe)", err);
    }
    (void)Unregister(p, ps);
  }
  munmap(p, ps);
  return st;
}

Status Userfaultfd::Register(void* addr, size_t len) {
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(addr);
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP;
  if (ioctl(fd_.get(), UFFDIO_REGISTER, &reg) != 0)
    return Status::FromErrno("UFFDIO_REGISTER", errno);
  const uint64_t need = (uint64_t{1} << _UFFDIO_CONTINUE) | (uint64_t{1} << _UFFDIO_WRITEPROTECT);
  if ((reg.ioctls & need) != need) {
    (void)Unregister(addr, len);
    return Status::NotSupported("userfaultfd: UFFDIO_CONTINUE/UFFDIO_WRITEPROTECT not offered");
  }
  return Status::OK();
}

Status Userfaultfd::Unregister(void* addr, size_t len) {
  uffdio_range r{reinterpret_cast<uintptr_t>(addr), len};
  if (ioctl(fd_.get(), UFFDIO_UNREGISTER, &r) != 0)
    return Status::FromErrno("UFFDIO_UNREGISTER", errno);
  return Status::OK();
}

namespace {

constexpr size_t kPage = 4096;

// A range over several pages may cross from one mapping of the view into
// another: the program's mprotect() splits the region's vma, and the kernel
// refuses a UFFDIO_* range that is not inside one vma (ENOENT; cf.
// validate_dst_vma). The rest of the range is then done one page at a time.
// Returns true when the call should be repeated that way.
bool OnePageAtATime(int err, size_t rest, size_t* step) {
  if (err != ENOENT || rest <= kPage || *step == kPage) return false;
  *step = kPage;
  return true;
}

}  // namespace

Result<size_t> Userfaultfd::Continue(uintptr_t addr, size_t len, bool write_protect) {
  size_t done = 0;
  size_t step = len;
  while (done < len) {
    uffdio_continue c{};
    c.range.start = addr + done;
    c.range.len = std::min(len - done, step);
    c.mode = write_protect ? UFFDIO_CONTINUE_MODE_WP : 0;
    if (ioctl(fd_.get(), UFFDIO_CONTINUE, &c) == 0) {
      done += c.range.len;
      continue;
    }
    int err = errno;
    if (c.mapped > 0) done += static_cast<size_t>(c.mapped);
    if (err == EAGAIN || OnePageAtATime(err, len - done, &step)) continue;
    if (err == EEXIST) {
      // Already mapped (a racing fault on a neighbour): skip one page. The
      // faulting thread may still wait, so wake it.
      (void)Wake(addr + done, kPage);
      done += kPage;
      continue;
    }
    return Status::FromErrno("UFFDIO_CONTINUE", err);
  }
  return len;
}

namespace {
// One mfill ioctl (UFFDIO_ZEROPAGE, UFFDIO_COPY) over [0, len) of a range,
// resumed past partial progress and EAGAIN (the mm changed under it).
// `prepare(req, from, n)` fills the request for n bytes from `from`;
// `progress(req)` is the field the kernel sets to the bytes it filled.
template <typename Req, typename Prepare, typename Progress>
Status MfillLoop(int fd, unsigned long op, const char* name, size_t len, size_t* done,
                 Prepare prepare, Progress progress) {
  *done = 0;
  size_t step = len;
  while (*done < len) {
    Req req{};
    const size_t n = std::min(len - *done, step);
    prepare(req, *done, n);
    if (ioctl(fd, op, &req) == 0) {
      *done += n;
      continue;
    }
    const int err = errno;
    if (progress(req) > 0) *done += static_cast<size_t>(progress(req));
    if (err != EAGAIN && !OnePageAtATime(err, len - *done, &step))
      return Status::FromErrno(name, err);
  }
  return Status::OK();
}
}  // namespace

Status Userfaultfd::ZeroPage(uintptr_t addr, size_t len, size_t* done) {
  return MfillLoop<uffdio_zeropage>(
      fd_.get(), UFFDIO_ZEROPAGE, "UFFDIO_ZEROPAGE", len, done,
      [&](uffdio_zeropage& z, size_t from, size_t n) {
        z.range.start = addr + from;
        z.range.len = n;
      },
      [](const uffdio_zeropage& z) { return z.zeropage; });
}

Status Userfaultfd::CopyPages(uintptr_t addr, const void* src, size_t len, bool write_protect,
                              size_t* done) {
  return MfillLoop<uffdio_copy>(
      fd_.get(), UFFDIO_COPY, "UFFDIO_COPY", len, done,
      [&](uffdio_copy& c, size_t from, size_t n) {
        c.dst = addr + from;
        c.src = reinterpret_cast<uintptr_t>(src) + from;
        c.len = n;
        c.mode = write_protect ? UFFDIO_COPY_MODE_WP : 0;
      },
      [](const uffdio_copy& c) { return c.copy; });
}

Result<bool> Userfaultfd::TryContinue(uintptr_t addr, size_t len, bool write_protect) {
  for (;;) {
    uffdio_continue c{};
    c.range.start = addr;
    c.range.len = len;
    c.mode = write_protect ? UFFDIO_CONTINUE_MODE_WP : 0;
    if (ioctl(fd_.get(), UFFDIO_CONTINUE, &c) == 0) return true;
    if (errno == EEXIST) return false;
    if (errno != EAGAIN) return Status::FromErrno("UFFDIO_CONTINUE", errno);
  }
}

Status Userfaultfd::Unprotect(uintptr_t addr, size_t len) {
  uffdio_writeprotect wp{};
  wp.range.start = addr;
  wp.range.len = len;
  wp.mode = 0;
  if (ioctl(fd_.get(), UFFDIO_WRITEPROTECT, &wp) != 0)
    return Status::FromErrno("UFFDIO_WRITEPROTECT", errno);
  return Status::OK();
}

Status Userfaultfd::Wake(uintptr_t addr, size_t len) {
  uffdio_range r{addr, len};
  if (ioctl(fd_.get(), UFFDIO_WAKE, &r) != 0) return Status::FromErrno("UFFDIO_WAKE", errno);
  return Status::OK();
}

Status Userfaultfd::Poison(uintptr_t addr, size_t len) {
  uffdio_poison_compat p{};
  p.range.start = addr;
  p.range.len = len;
  for (;;) {
    if (ioctl(fd_.get(), kUffdioPoison, &p) == 0) return Status::OK();
    if (errno != EAGAIN) return Status::FromErrno("UFFDIO_POISON", errno);
  }
}

Result<size_t> Userfaultfd::ReadFaults(std::span<UffdFault> out) {
  uffd_msg msgs[32];
  size_t want = out.size() < 32 ? out.size() : 32;
  ssize_t n = ::read(fd_.get(), msgs, want * sizeof(uffd_msg));
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return size_t{0};
    return Status::FromErrno("read(userfaultfd)", errno);
  }
  size_t count = 0;
  for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); i++) {
    if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
    const auto& pf = msgs[i].arg.pagefault;
    out[count].address = pf.address;
    out[count].write = pf.flags & UFFD_PAGEFAULT_FLAG_WRITE;
    out[count].wp = pf.flags & UFFD_PAGEFAULT_FLAG_WP;
    out[count].minor = pf.flags & UFFD_PAGEFAULT_FLAG_MINOR;
    count++;
  }
  return count;
}

}  // namespace uswap
