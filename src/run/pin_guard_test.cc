// The pin guard's decisions (JudgePinningCall) for every call its filter
// traps, against a process image faked in this test's own memory;
// UswapRangesInMaps; and StartPinGuard end to end in a child process, as
// root and as an unprivileged user (tests/run runs it under `uswap run`).
#include "run/pin_guard.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace uswap {
namespace {

uint64_t A(const void* p) { return reinterpret_cast<uint64_t>(p); }

// "uswap memory" is one buffer of this test; other buffers are the rest of
// the process. Reads copy from this process, or fail with fail_errno.
class FakeTarget final : public PinGuardTarget {
 public:
  explicit FakeTarget(bool has_uswap = true) {
    if (has_uswap) ranges_.push_back({A(uswap.data()), A(uswap.data() + uswap.size())});
  }
  bool Read(uint64_t addr, void* out, size_t len) override {
    reads++;
    if (fail_errno) {
      errno = fail_errno;
      return false;
    }
    std::memcpy(out, reinterpret_cast<const void*>(addr), len);
    return true;
  }
  const std::vector<AddrRange>& UswapRanges() override { return ranges_; }

  std::vector<uint8_t> uswap = std::vector<uint8_t>(1 << 20);
  std::vector<uint8_t> other = std::vector<uint8_t>(1 << 20);
  int fail_errno = 0;
  int reads = 0;

 private:
  std::vector<AddrRange> ranges_;
};

PinGuardVerdict Call(FakeTarget& t, long nr, uint64_t a0, uint64_t a1, uint64_t a2 = 0,
                     uint64_t a3 = 0) {
  const uint64_t args[6] = {a0, a1, a2, a3, 0, 0};
  return JudgePinningCall(static_cast<int>(nr), args, t);
}
PinGuardVerdict Register(FakeTarget& t, uint64_t op, const void* arg, uint64_t n) {
  return Call(t, SYS_io_uring_register, 3, op, A(arg), n);
}

constexpr uint64_t kBuffers = 0, kBuffers2 = 15, kBuffersUpdate = 16, kPbufRing = 22,
                   kMemRegion = 34, kUseRegisteredRing = 1ull << 31;

TEST(PinGuardTest, ODirectOpensAndFcntlsAreRefusedOnlyWhereThereIsUswapMemory) {
  FakeTarget t, plain(/*has_uswap=*/false);
  for (long nr : {long{SYS_open}, long{SYS_openat}, long{SYS_fcntl}}) {
    PinGuardVerdict v = Call(t, nr, 0, 0);
    EXPECT_FALSE(v.allow);
    EXPECT_EQ(v.error, EINVAL) << "as a file system without O_DIRECT answers";
    EXPECT_NE(v.reason.find("O_DIRECT"), std::string::npos) << v.reason;
    EXPECT_TRUE(Call(plain, nr, 0, 0).allow) << "a process without uswap memory";
  }
  EXPECT_EQ(Call(t, SYS_fcntl, 0, 0).call, "fcntl(F_SETFL, O_DIRECT)");
  // openat2: the flags are read from its open_how.
  uint64_t how[3] = {O_RDONLY | O_DIRECT, 0, 0};
  EXPECT_EQ(Call(t, SYS_openat2, AT_FDCWD, A(how), sizeof(how)).error, EINVAL);
  EXPECT_TRUE(Call(plain, SYS_openat2, AT_FDCWD, A(how), sizeof(how)).allow);
  how[0] = O_RDONLY;
  EXPECT_TRUE(Call(t, SYS_openat2, AT_FDCWD, A(how), sizeof(how)).allow);
}

TEST(PinGuardTest, RegisteredBuffersInUswapMemoryAreRefused) {
  FakeTarget t;
  // 200 iovecs (read in chunks), only the last one in uswap memory.
  std::vector<iovec> iov(200, iovec{t.other.data(), 4096});
  EXPECT_TRUE(Register(t, kBuffers, iov.data(), iov.size()).allow);
  iov.back() = {t.uswap.data() + 8192, 4096};
  PinGuardVerdict v = Register(t, kBuffers, iov.data(), iov.size());
  EXPECT_FALSE(v.allow);
  EXPECT_EQ(v.error, EOPNOTSUPP);
  EXPECT_EQ(v.call, "io_uring_register(IORING_REGISTER_BUFFERS)");
  EXPECT_NE(v.reason.find("MAP_SHARED"), std::string::npos) << "names the way out: " << v.reason;
  // A buffer that only ends in uswap memory, and the registered-ring bit.
  iov.back() = {t.uswap.data() - 100, 4096};
  EXPECT_FALSE(Register(t, kBuffers | kUseRegisteredRing, iov.data(), iov.size()).allow);
  iov.back() = {t.uswap.data() - 100, 100};
  EXPECT_TRUE(Register(t, kBuffers, iov.data(), iov.size()).allow) << "ends where it begins";
}

TEST(PinGuardTest, Buffers2AndUpdatesAreJudgedByTheirIovecs) {
  FakeTarget t;
  iovec in_uswap{t.uswap.data(), 65536}, outside{t.other.data(), 65536};
  struct {
    uint32_t nr, flags;
    uint64_t resv2, data, tags;
  } reg{1, 0, 0, A(&in_uswap), 0};
  EXPECT_EQ(Register(t, kBuffers2, &reg, sizeof(reg)).error, EOPNOTSUPP);
  reg.flags = 1;  // IORING_RSRC_REGISTER_SPARSE: empty slots, no memory
  EXPECT_TRUE(Register(t, kBuffers2, &reg, sizeof(reg)).allow);
  reg = {1, 0, 0, A(&outside), 0};
  EXPECT_TRUE(Register(t, kBuffers2, &reg, sizeof(reg)).allow);
  struct {
    uint32_t offset, resv;
    uint64_t data, tags;
    uint32_t nr, resv2;
  } upd{0, 0, A(&in_uswap), 0, 1, 0};
  EXPECT_EQ(Register(t, kBuffersUpdate, &upd, sizeof(upd)).error, EOPNOTSUPP);
  upd.data = A(&outside);
  EXPECT_TRUE(Register(t, kBuffersUpdate, &upd, sizeof(upd)).allow);
}

TEST(PinGuardTest, UserMemoryRingsAndRegionsInUswapMemoryAreRefused) {
  FakeTarget t;
  struct {
    uint64_t ring_addr;
    uint32_t ring_entries;
    uint16_t bgid, flags;
    uint64_t resv[3];
  } buf{A(t.uswap.data()), 64, 0, 0, {}};
  EXPECT_EQ(Register(t, kPbufRing, &buf, 1).error, EOPNOTSUPP);
  buf.flags = 1;  // IOU_PBUF_RING_MMAP: the kernel allocates the ring
  EXPECT_TRUE(Register(t, kPbufRing, &buf, 1).allow);

  // io_uring_setup with IORING_SETUP_NO_MMAP: rings at user addresses.
  uint32_t params[30] = {};  // io_uring_params, 120 bytes
  params[2] = 1u << 14;
  uint64_t sq_addr = A(t.other.data()), cq_addr = A(t.uswap.data());
  std::memcpy(&params[18], &sq_addr, 8);  // sq_off.user_addr
  std::memcpy(&params[28], &cq_addr, 8);  // cq_off.user_addr
  PinGuardVerdict v = Call(t, SYS_io_uring_setup, 8, A(params));
  EXPECT_EQ(v.error, EOPNOTSUPP);
  EXPECT_EQ(v.call, "io_uring_setup(IORING_SETUP_NO_MMAP)");
  std::memcpy(&params[28], &sq_addr, 8);
  EXPECT_TRUE(Call(t, SYS_io_uring_setup, 8, A(params)).allow);
  params[2] = 0;  // rings the kernel allocates: nothing of the program's
  std::memcpy(&params[28], &cq_addr, 8);
  EXPECT_TRUE(Call(t, SYS_io_uring_setup, 8, A(params)).allow);

  struct {
    uint64_t user_addr, size;
    uint32_t flags, id;
    uint64_t mmap_offset, resv[4];
  } desc{A(t.uswap.data()), 4096, 1, 0, 0, {}};
  struct {
    uint64_t region_uptr, flags, resv[2];
  } mem{A(&desc), 0, {}};
  EXPECT_EQ(Register(t, kMemRegion, &mem, 1).error, EOPNOTSUPP);
  desc.flags = 0;  // a region the kernel allocates
  EXPECT_TRUE(Register(t, kMemRegion, &mem, 1).allow);
}

TEST(PinGuardTest, ArgumentsThatCannotBeReadRefuseOnlyWhenTheKernelCould) {
  FakeTarget t, plain(false);
  iovec iov{t.uswap.data(), 4096};
  // EFAULT: the kernel's own copy fails the same way; the call goes on.
  t.fail_errno = plain.fail_errno = EFAULT;
  EXPECT_TRUE(Register(t, kBuffers, &iov, 1).allow);
  // Any other failure (the supervisor may not read the process): refused
  // where uswap memory could be pinned, allowed where there is none.
  t.fail_errno = plain.fail_errno = EPERM;
  PinGuardVerdict v = Register(t, kBuffers, &iov, 1);
  EXPECT_FALSE(v.allow);
  EXPECT_EQ(v.error, EOPNOTSUPP);
  EXPECT_NE(v.reason.find("could not be inspected"), std::string::npos) << v.reason;
  EXPECT_TRUE(Register(plain, kBuffers, &iov, 1).allow);
  // An operation that pins nothing is never looked at.
  t.reads = 0;
  EXPECT_TRUE(Register(t, /*IORING_REGISTER_FILES*/ 2, &iov, 1).allow);
  EXPECT_EQ(t.reads, 0);
}

TEST(PinGuardTest, UswapRangesComeFromTheRegionsMemfdMappings) {
  const char* maps =
      "55d0c0000000-55d0c0001000 r--p 00000000 fe:00 1 /usr/bin/dash\n"
      "7f21f1dfc000-7f21f4000000 ---s 00000000 00:01 507 /memfd:uswap-region-0 (deleted)\n"
      "7f21f4000000-7f31f5dfc000 rw-s 02204000 00:01 507 /memfd:uswap-region-0 (deleted)\n"
      "7f31f5dfc000-7f31f5dfd000 ---p 00000000 00:00 0 \n"
      "7f3201823000-7f3201834000 rw-s 00000000 00:01 505 /memfd:uswap-budget (deleted)\n"
      "7f4000000000-7f4000100000 rw-s 00000000 00:01 509 /memfd:uswap-region-1 (deleted)";
  const std::vector<AddrRange> r = UswapRangesInMaps(maps);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (AddrRange{0x7f21f1dfc000, 0x7f31f5dfc000})) << "two parts, one region";
  EXPECT_EQ(r[1], (AddrRange{0x7f4000000000, 0x7f4000100000}));
  EXPECT_TRUE(UswapRangesInMaps("").empty());
}

// In a child: the guard installed (dropping to `uid` first when >= 0),
// then direct system calls before and after the process has uswap memory
// (a mapping of a memfd named as a region's). Exit status: 0, or the
// number of the first check that failed.
int GuardedChild(int uid, const std::string& file) {
  if (uid >= 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(uid, uid, uid) != 0 ||
        setresuid(uid, uid, uid) != 0)
      return 90;
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);  // as after an exec: the supervisor reads it
  }
  if (!StartPinGuard().ok()) return 1;
  std::ifstream st("/proc/self/status");
  std::stringstream ss;
  ss << st.rdbuf();
  const bool nnp = ss.str().find("NoNewPrivs:\t1") != std::string::npos;
  if (nnp != (uid >= 0)) return 2;  // set only where the kernel asks for it
  long fd = syscall(SYS_openat, AT_FDCWD, file.c_str(), O_RDONLY | O_DIRECT);
  if (fd < 0) return 3;  // no uswap memory yet: allowed
  close(static_cast<int>(fd));
  const int mfd = memfd_create("uswap-region-test", MFD_CLOEXEC);
  if (mfd < 0 || ftruncate(mfd, 1 << 20) != 0) return 4;
  void* region = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (region == MAP_FAILED) return 4;
  errno = 0;
  if (syscall(SYS_openat, AT_FDCWD, file.c_str(), O_RDONLY | O_DIRECT) != -1 || errno != EINVAL)
    return 5;
  io_uring_params params{};
  const long ring = syscall(SYS_io_uring_setup, 4, &params);
  if (ring >= 0) {
    iovec iov{static_cast<char*>(region) + 4096, 8192};
    errno = 0;
    if (syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1) != -1 ||
        errno != EOPNOTSUPP)
      return 6;
    // Memory that is not uswap memory: the kernel decides (it may refuse
    // for reasons of its own, never with EOPNOTSUPP).
    alignas(4096) static char plain[4096];
    iovec other{plain, sizeof(plain)};
    if (syscall(SYS_io_uring_register, ring, IORING_REGISTER_BUFFERS, &other, 1) == -1 &&
        errno == EOPNOTSUPP)
      return 7;
  }
  return 0;
}

class PinGuardProcessTest : public ::testing::TestWithParam<int> {};

TEST_P(PinGuardProcessTest, TheFilterAndSupervisorRefuseOnlyOnUswapMemory) {
  const int uid = GetParam();
  if (uid >= 0 && getuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  if (uid < 0 && getuid() != 0) GTEST_SKIP() << "as root only (unprivileged: the other case)";
  char path[] = "/var/tmp/pin_guard_test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0644), 0);
  std::vector<char> page(4096, 'x');
  ASSERT_EQ(write(fd, page.data(), page.size()), 4096);
  close(fd);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(GuardedChild(uid, path));
  int status = -1;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  unlink(path);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the first failed check (GuardedChild)";
}

INSTANTIATE_TEST_SUITE_P(Caller, PinGuardProcessTest, ::testing::Values(-1, 65534),
                         [](const auto& info) {
                           return info.param < 0 ? std::string("Root")
                                                 : std::string("Unprivileged");
                         });

}  // namespace
}  // namespace uswap
