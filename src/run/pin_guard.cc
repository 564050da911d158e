#include "run/pin_guard.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "base/proc_file.h"
#include "base/unique_fd.h"
#include "run/proc_maps.h"

namespace uswap {
namespace {

// io_uring's ABI (include/uapi/linux/io_uring.h), spelled out here: the
// build machine's headers may predate the operations the guard must know.
constexpr uint32_t kSetupNoMmap = 1u << 14;  // IORING_SETUP_NO_MMAP
constexpr uint32_t kRegisterUseRegisteredRing = 1u << 31;
enum RegisterOp : uint32_t {
  kRegisterBuffers = 0,
  kRegisterBuffers2 = 15,
  kRegisterBuffersUpdate = 16,
  kRegisterPbufRing = 22,
  kRegisterZcrxIfq = 32,
  kRegisterResizeRings = 33,
  kRegisterMemRegion = 34,
};
constexpr uint32_t kRsrcRegisterSparse = 1u << 0;     // IORING_RSRC_REGISTER_SPARSE
constexpr uint16_t kPbufRingMmap = 1u << 0;           // IOU_PBUF_RING_MMAP
constexpr uint32_t kMemRegionTypeUser = 1u << 0;      // IORING_MEM_REGION_TYPE_USER
constexpr uint32_t kZcrxAreaDmabuf = 1u << 0;         // IORING_ZCRX_AREA_DMABUF
constexpr uint64_t kSqeBytesMax = 128;                // an SQE128 entry
constexpr uint64_t kMaxRegisteredBuffers = 1u << 14;  // IORING_MAX_REG_BUFFERS

struct RingOffsets {  // io_sqring_offsets / io_cqring_offsets
  uint32_t words[8];
  uint64_t user_addr;
};
struct UringParams {  // io_uring_params
  uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
  RingOffsets sq_off, cq_off;
};
static_assert(sizeof(UringParams) == 120);
struct RsrcRegister {  // io_uring_rsrc_register
  uint32_t nr, flags;
  uint64_t resv2, data, tags;
};
struct RsrcUpdate2 {  // io_uring_rsrc_update2
  uint32_t offset, resv;
  uint64_t data, tags;
  uint32_t nr, resv2;
};
struct BufReg {  // io_uring_buf_reg
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid, flags;
  uint64_t resv[3];
};
constexpr uint64_t kBufRingEntryBytes = 16;  // io_uring_buf
struct RegionDesc {                          // io_uring_region_desc
  uint64_t user_addr, size;
  uint32_t flags, id;
  uint64_t mmap_offset, resv[4];
};
struct MemRegionReg {  // io_uring_mem_region_reg
  uint64_t region_uptr, flags, resv[2];
};
struct ZcrxIfqReg {  // io_uring_zcrx_ifq_reg
  uint32_t if_idx, if_rxq, rq_entries, flags;
  uint64_t area_ptr, region_ptr;
  uint32_t offsets[4];
  uint64_t offsets_resv[2];
  uint32_t zcrx_id, resv2;
  uint64_t resv[3];
};
struct ZcrxAreaReg {  // io_uring_zcrx_area_reg
  uint64_t addr, len, rq_area_token;
  uint32_t flags, dmabuf_fd;
  uint64_t resv2[2];
};

constexpr char kUringWayOut[] =
    "pinned for the ring's life, uswap could swap those pages out and the kernel's writes "
    "to them would be lost; give io_uring memory from a file or MAP_SHARED mapping, or run "
    "without uswap";
constexpr char kDirectWayOut[] =
    "O_DIRECT would DMA into memory uswap may swap out meanwhile, and the data would be lost "
    "(the C library's open() and fcntl() are made buffered instead; this was a direct system "
    "call)";

// What JudgePinningCall decides with: reads through the target, answers
// "is [addr, addr + len) uswap memory?".
class Judge {
 public:
  explicit Judge(PinGuardTarget& t) : t_(t) {}

  bool Uswap(uint64_t addr, uint64_t len) {
    if (len == 0) return false;
    const uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
    for (const AddrRange& r : t_.UswapRanges())
      if (addr < r.end && end > r.begin) return true;
    return false;
  }
  // Reads a struct; on failure records why (EFAULT: the kernel will say
  // so itself, so the call goes on).
  template <typename T>
  bool Read(uint64_t addr, T* out) {
    if (t_.Read(addr, out, sizeof(T))) return true;
    read_errno_ = errno;
    return false;
  }
  // Whether any of n iovecs at addr is uswap memory.
  bool IovecsUswap(uint64_t addr, uint64_t n) {
    if (n > kMaxRegisteredBuffers) return false;  // the kernel refuses it (EINVAL)
    iovec chunk[64];
    for (uint64_t i = 0; i < n;) {
      const uint64_t k = std::min<uint64_t>(n - i, 64);
      if (!t_.Read(addr + i * sizeof(iovec), chunk, k * sizeof(iovec))) {
        read_errno_ = errno;
        return false;
      }
      for (uint64_t j = 0; j < k; j++)
        if (Uswap(reinterpret_cast<uint64_t>(chunk[j].iov_base), chunk[j].iov_len)) return true;
      i += k;
    }
    return false;
  }
  bool RegionUswap(uint64_t desc_addr) {
    RegionDesc d;
    return desc_addr && Read(desc_addr, &d) && (d.flags & kMemRegionTypeUser) &&
           Uswap(d.user_addr, d.size);
  }
  // The rings of a NO_MMAP setup (or resize) live at user addresses; their
  // exact sizes are the kernel's to compute, so every entry is counted at
  // its largest.
  bool RingsUswap(const UringParams& p, uint64_t entries) {
    if (!(p.flags & kSetupNoMmap)) return false;
    const uint64_t bytes = (entries + p.cq_entries + 1) * kSqeBytesMax + 4096;
    return Uswap(p.sq_off.user_addr, bytes) || Uswap(p.cq_off.user_addr, bytes);
  }

  // A read that failed for another reason than a bad address (the
  // supervisor may not inspect the process) refuses, on the safe side, in
  // a process that has uswap memory.
  PinGuardVerdict Unreadable(std::string call) {
    if (read_errno_ == 0 || read_errno_ == EFAULT || t_.UswapRanges().empty()) return {};
    return {false, EOPNOTSUPP, std::move(call),
            std::string("its arguments could not be inspected (") + std::strerror(read_errno_) +
                "), and memory it pins may be uswap memory"};
  }

 private:
  PinGuardTarget& t_;
  int read_errno_ = 0;
};

PinGuardVerdict Refuse(int error, std::string call, std::string reason) {
  return {false, error, std::move(call), std::move(reason)};
}
PinGuardVerdict RefuseUring(std::string call, const char* what) {
  return Refuse(EOPNOTSUPP, std::move(call), std::string(what) + " uswap memory; " + kUringWayOut);
}

PinGuardVerdict JudgeRegister(uint64_t op, uint64_t arg, uint64_t nr_args, Judge& j) {
  const char* name;  // the operation
  const char* what;  // what of the program's memory it would pin
  bool pins = false;
  switch (op) {
    case kRegisterBuffers:
      name = "IORING_REGISTER_BUFFERS", what = "the buffers are";
      pins = j.IovecsUswap(arg, nr_args);
      break;
    case kRegisterBuffers2: {
      name = "IORING_REGISTER_BUFFERS2", what = "the buffers are";
      RsrcRegister r;
      pins = j.Read(arg, &r) && !(r.flags & kRsrcRegisterSparse) && r.data &&
             j.IovecsUswap(r.data, r.nr);
      break;
    }
    case kRegisterBuffersUpdate: {
      name = "IORING_REGISTER_BUFFERS_UPDATE", what = "the buffers are";
      RsrcUpdate2 u;
      pins = j.Read(arg, &u) && u.data && j.IovecsUswap(u.data, u.nr);
      break;
    }
    case kRegisterPbufRing: {
      name = "IORING_REGISTER_PBUF_RING", what = "the buffer ring is";
      BufReg b;
      pins = j.Read(arg, &b) && !(b.flags & kPbufRingMmap) &&
             j.Uswap(b.ring_addr, uint64_t{b.ring_entries} * kBufRingEntryBytes);
      break;
    }
    case kRegisterResizeRings: {
      name = "IORING_REGISTER_RESIZE_RINGS", what = "the new rings are";
      UringParams p;
      pins = j.Read(arg, &p) && j.RingsUswap(p, p.sq_entries);
      break;
    }
    case kRegisterMemRegion: {
      name = "IORING_REGISTER_MEM_REGION", what = "the region is";
      MemRegionReg m;
      pins = j.Read(arg, &m) && j.RegionUswap(m.region_uptr);
      break;
    }
    case kRegisterZcrxIfq: {
      name = "IORING_REGISTER_ZCRX_IFQ", what = "the receive area is";
      ZcrxIfqReg z;
      ZcrxAreaReg a;
      pins = j.Read(arg, &z) && ((z.area_ptr && j.Read(z.area_ptr, &a) &&
                                  !(a.flags & kZcrxAreaDmabuf) && j.Uswap(a.addr, a.len)) ||
                                 j.RegionUswap(z.region_ptr));
      break;
    }
    default:
      return {};  // the filter traps no other operation
  }
  std::string call = std::string("io_uring_register(") + name + ")";
  return pins ? RefuseUring(std::move(call), what) : j.Unreadable(std::move(call));
}

}  // namespace

PinGuardVerdict JudgePinningCall(int nr, const uint64_t args[6], PinGuardTarget& target) {
  Judge j(target);
  switch (nr) {
    case SYS_open:
    case SYS_openat:
    case SYS_fcntl:
      // The filter traps these only with O_DIRECT.
      if (target.UswapRanges().empty()) return {};
      return Refuse(EINVAL, nr == SYS_fcntl ? "fcntl(F_SETFL, O_DIRECT)" : "open(O_DIRECT)",
                    kDirectWayOut);
    case SYS_openat2: {
      uint64_t flags = 0;  // open_how.flags, its first field
      if (j.Read(args[1], &flags) && (flags & O_DIRECT) && !target.UswapRanges().empty())
        return Refuse(EINVAL, "openat2(O_DIRECT)", kDirectWayOut);
      return j.Unreadable("openat2");
    }
    case SYS_io_uring_setup: {
      UringParams p;
      if (j.Read(args[1], &p) && j.RingsUswap(p, args[0]))
        return RefuseUring("io_uring_setup(IORING_SETUP_NO_MMAP)", "the rings are");
      return j.Unreadable("io_uring_setup");
    }
    case SYS_io_uring_register:
      return JudgeRegister(args[1] & ~uint64_t{kRegisterUseRegisteredRing}, args[2], args[3], j);
    default:
      return {};
  }
}

std::vector<AddrRange> UswapRangesInMaps(std::string_view maps) {
  static constexpr std::string_view kName = "/memfd:uswap-region-";
  std::vector<AddrRange> out;
  for (const ProcMapping& m : ParseProcMaps(maps)) {
    if (m.name.compare(0, kName.size(), kName) != 0) continue;
    if (!out.empty() && out.back().end == m.range.begin)
      out.back().end = m.range.end;  // the region's accessible and PROT_NONE parts
    else
      out.push_back(m.range);
  }
  return out;
}

#if defined(__x86_64__)
namespace {

// ---- the filter ------------------------------------------------------------

// A classic-BPF program with forward jumps to labels, patched at the end.
class BpfBuilder {
 public:
  using Label = int;
  Label NewLabel() {
    at_.push_back(-1);
    return static_cast<Label>(at_.size() - 1);
  }
  void Bind(Label l) { at_[l] = static_cast<int>(code_.size()); }
  void Load(uint32_t offset) { code_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset)); }
  void And(uint32_t k) { code_.push_back(BPF_STMT(BPF_ALU | BPF_AND | BPF_K, k)); }
  void Ret(uint32_t k) { code_.push_back(BPF_STMT(BPF_RET | BPF_K, k)); }
  // if (A op k) goto t else goto f; kNext: the following instruction.
  static constexpr Label kNext = -1;
  void Jump(uint16_t op, uint32_t k, Label t, Label f) {
    fixups_.push_back({code_.size(), t, f});
    code_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
  }
  std::vector<sock_filter> Finish() {
    for (const Fixup& x : fixups_) {
      code_[x.at].jt = Offset(x.at, x.t);
      code_[x.at].jf = Offset(x.at, x.f);
    }
    return std::move(code_);
  }

 private:
  struct Fixup {
    size_t at;
    Label t, f;
  };
  uint8_t Offset(size_t from, Label l) const {
    if (l == kNext) return 0;
    return static_cast<uint8_t>(at_[l] - static_cast<int>(from) - 1);
  }
  std::vector<sock_filter> code_;
  std::vector<int> at_;
  std::vector<Fixup> fixups_;
};

constexpr uint32_t ArgLo(int i) { return offsetof(seccomp_data, args) + 8 * i; }
constexpr uint32_t ArgHi(int i) { return ArgLo(i) + 4; }

std::vector<sock_filter> BuildFilter() {
  BpfBuilder b;
  using L = BpfBuilder::Label;
  const L allow = b.NewLabel(), notify = b.NewLabel(), pass = b.NewLabel(), reg = b.NewLabel(),
          open = b.NewLabel(), openat = b.NewLabel(), fcntl = b.NewLabel();
  const L next = BpfBuilder::kNext;
  b.Load(offsetof(seccomp_data, arch));
  b.Jump(BPF_JEQ, AUDIT_ARCH_X86_64, next, allow);
  b.Load(offsetof(seccomp_data, nr));
  b.Jump(BPF_JGE, 0x40000000u, allow, next);  // x32 calls
  b.Jump(BPF_JEQ, SYS_io_uring_setup, pass, next);
  b.Jump(BPF_JEQ, SYS_openat2, pass, next);
  b.Jump(BPF_JEQ, SYS_io_uring_register, reg, next);
  b.Jump(BPF_JEQ, SYS_open, open, next);
  b.Jump(BPF_JEQ, SYS_openat, openat, next);
  b.Jump(BPF_JEQ, SYS_fcntl, fcntl, allow);
  b.Bind(reg);
  b.Load(ArgLo(1));
  b.And(~kRegisterUseRegisteredRing);
  for (uint32_t op : {kRegisterBuffers, kRegisterBuffers2, kRegisterBuffersUpdate,
                      kRegisterPbufRing, kRegisterZcrxIfq, kRegisterResizeRings})
    b.Jump(BPF_JEQ, op, pass, next);
  b.Jump(BPF_JEQ, kRegisterMemRegion, pass, allow);
  b.Bind(open);
  b.Load(ArgLo(1));
  b.Jump(BPF_JSET, O_DIRECT, pass, allow);
  b.Bind(openat);
  b.Load(ArgLo(2));
  b.Jump(BPF_JSET, O_DIRECT, pass, allow);
  b.Bind(fcntl);
  b.Load(ArgLo(1));
  b.Jump(BPF_JEQ, F_SETFL, next, allow);
  b.Load(ArgLo(2));
  b.Jump(BPF_JSET, O_DIRECT, pass, allow);
  // uswap's own calls carry kSupervisorPass in their sixth argument.
  b.Bind(pass);
  b.Load(ArgLo(5));
  b.Jump(BPF_JEQ, static_cast<uint32_t>(kSupervisorPass), next, notify);
  b.Load(ArgHi(5));
  b.Jump(BPF_JEQ, static_cast<uint32_t>(kSupervisorPass >> 32), allow, notify);
  b.Bind(notify);
  b.Ret(SECCOMP_RET_USER_NOTIF);
  b.Bind(allow);
  b.Ret(SECCOMP_RET_ALLOW);
  return b.Finish();
}

// Installs the filter; returns its listener. Without CAP_SYS_ADMIN the
// kernel wants no_new_privs first.
Result<UniqueFd> InstallFilter() {
  std::vector<sock_filter> code = BuildFilter();
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  // SPEC_ALLOW: a filter that is no sandbox must not turn on the
  // speculative-store-bypass mitigation the kernel gives filtered tasks by
  // default (spec_store_bypass_disable=seccomp), which slows every load.
  constexpr unsigned kFlags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_SPEC_ALLOW;
  auto install = [&] {
    return static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, kFlags, &prog));
  };
  int fd = install();
  if (fd < 0 && errno == EACCES) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
      return Status::FromErrno("prctl(PR_SET_NO_NEW_PRIVS)", errno);
    fd = install();
  }
  if (fd < 0) return Status::FromErrno("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)", errno);
  return UniqueFd(fd);
}

// ---- the supervisor --------------------------------------------------------

// A /proc file of the caller, or "" when it is gone.
std::string ProcText(pid_t tid, const char* name) {
  Result<std::string> r = ReadProcText("/proc/" + std::to_string(tid) + "/" + name);
  return r.ok() ? std::move(r).value() : std::string();
}

class ProcessTarget final : public PinGuardTarget {
 public:
  explicit ProcessTarget(pid_t tid) : tid_(tid) {}
  bool Read(uint64_t addr, void* out, size_t len) override {
    iovec local{out, len}, remote{reinterpret_cast<void*>(addr), len};
    const ssize_t n = process_vm_readv(tid_, &local, 1, &remote, 1, 0);
    if (n == static_cast<ssize_t>(len)) return true;
    if (n >= 0) errno = EFAULT;
    return false;
  }
  const std::vector<AddrRange>& UswapRanges() override {
    if (!ranges_) ranges_ = UswapRangesInMaps(ProcText(tid_, "maps"));
    return *ranges_;
  }

 private:
  pid_t tid_;
  std::optional<std::vector<AddrRange>> ranges_;
};

// One line on the refused process's own stderr: the same open file (its
// offset, its pipe), through pidfd_getfd. Once per process and call.
void Tell(pid_t tid, const PinGuardVerdict& v, std::set<std::pair<pid_t, std::string>>& told) {
  const std::string status = ProcText(tid, "status");
  const size_t at = status.find("\nTgid:");
  const pid_t tgid = at == std::string::npos ? tid : std::atoi(status.c_str() + at + 6);
  if (told.size() > 4096) told.clear();
  if (!told.insert({tgid, v.call}).second) return;
  std::string comm = ProcText(tid, "comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, tgid, 0)));
  if (!pidfd.valid()) return;
  UniqueFd err(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), 2, 0)));
  if (!err.valid()) return;
  const std::string line = "uswap run: " + comm + "[" + std::to_string(tgid) + "]: " + v.call +
                           " refused (" + strerrorname_np(v.error) + "): " + v.reason + "\n";
  (void)!::write(err.get(), line.data(), line.size());
}

[[noreturn]] void Supervise(UniqueFd listener) {
  seccomp_notif_sizes sizes{};
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) _exit(1);
  std::vector<uint8_t> req_buf(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  std::vector<uint8_t> resp_buf(
      std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
  std::set<std::pair<pid_t, std::string>> told;
  for (;;) {
    pollfd p{listener.get(), POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (!(p.revents & POLLIN)) {
      if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) _exit(0);  // no process uses the filter
      continue;
    }
    std::memset(req_buf.data(), 0, req_buf.size());
    if (ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;  // the caller went away meanwhile
      _exit(1);
    }
    uint64_t args[6];
    for (int i = 0; i < 6; i++) args[i] = req->data.args[i];
    ProcessTarget target(static_cast<pid_t>(req->pid));
    const PinGuardVerdict v = JudgePinningCall(req->data.nr, args, target);
    // What was read belongs to the process that made the call only if it
    // is still waiting for this answer (cf. seccomp_unotify(2)).
    if (ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) != 0) continue;
    std::memset(resp_buf.data(), 0, resp_buf.size());
    resp->id = req->id;
    if (v.allow)
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else
      resp->error = -v.error;
    if (ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SEND, resp) != 0) continue;
    if (!v.allow) Tell(static_cast<pid_t>(req->pid), v, told);
  }
}

// One byte carrying one file descriptor (SCM_RIGHTS): the listener, from
// the caller to the supervisor.
struct FdMessage {
  char data = 0;
  iovec iov{&data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

UniqueFd ReceiveFd(int sock) {
  FdMessage m;
  while (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC) < 0)
    if (errno != EINTR) return UniqueFd();
  const cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return UniqueFd();
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
  return UniqueFd(fd);
}

Status SendFd(int sock, int fd) {
  FdMessage m;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(fd));
  while (sendmsg(sock, &m.msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR) return Status::FromErrno("pin guard: sendmsg(listener)", errno);
  return Status::OK();
}

// The supervisor's process: a grandchild in a session of its own (no
// terminal signal reaches it, no wait() of the program sees it), holding
// none of the caller's files but `sock`. Returns in the caller only.
Status ForkSupervisor(UniqueFd sock) {
  const pid_t mid = fork();
  if (mid < 0) return Status::FromErrno("pin guard: fork", errno);
  if (mid == 0) {
    setsid();
    const pid_t sup = fork();
    if (sup != 0) _exit(sup < 0 ? 1 : 0);
    const int keep = sock.Release();
    if (keep > 0) syscall(SYS_close_range, 0, keep - 1, 0);
    syscall(SYS_close_range, keep + 1, ~0u, 0);
    const int null = ::open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2 && null >= 0; fd++)
      if (fd != keep && fd != null) dup2(null, fd);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_NAME, "uswap-pinguard", 0, 0, 0);
    UniqueFd listener = ReceiveFd(keep);
    ::close(keep);
    if (!listener.valid()) _exit(0);  // the caller gave up (no filter)
    Supervise(std::move(listener));
  }
  int status = 0;
  while (waitpid(mid, &status, 0) < 0)
    if (errno != EINTR) return Status::FromErrno("pin guard: waitpid", errno);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Status::IOError("pin guard: the supervisor could not be started");
  return Status::OK();
}

}  // namespace

Status StartPinGuard() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::FromErrno("pin guard: socketpair", errno);
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // The supervisor first, so that the filter does not apply to it.
  USWAP_RETURN_IF_ERROR(ForkSupervisor(std::move(theirs)));
  USWAP_ASSIGN_OR_RETURN(UniqueFd listener, InstallFilter());
  return SendFd(ours.get(), listener.get());
}

#else

Status StartPinGuard() {
  return Status::NotSupported("pin guard: only built for x86-64 (its system call numbers)");
}

#endif

}  // namespace uswap
