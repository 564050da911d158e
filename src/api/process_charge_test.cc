// ProcessCharge: private anonymous memory is counted as the kernel sees it,
// less the metadata the frame pool charges, and pages a fork child shares
// copy-on-write with its parent count in proportion (half each).
#include "api/process_charge.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

namespace uswap {
namespace {

constexpr size_t kMiB = 1 << 20;

uint64_t RssAnonBytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;
  return 0;
}

TEST(ProcessChargeTest, CountsPrivateMemoryAndSharesCopyOnWritePages) {
  ProcessCharge charge(4096);
  const uint64_t before = charge.Sample(0);
  void* p = ::mmap(nullptr, 64 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, 64 * kMiB);
  const uint64_t after = charge.Sample(0);
  EXPECT_GE(after, before + 60 * kMiB);
  // Nothing is shared yet: all of RssAnon is this process's (a sanitizer's
  // shadow memory included).
  EXPECT_NEAR(static_cast<double>(after), static_cast<double>(RssAnonBytes()), 8.0 * kMiB);
  // Metadata the frame pool charges is not counted twice.
  EXPECT_NEAR(static_cast<double>(charge.Sample(32 * kMiB)),
              static_cast<double>(after) - 32.0 * kMiB, 8.0 * kMiB);
  EXPECT_EQ(charge.Sample(uint64_t{1} << 40), 0u);

  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ProcessCharge child(4096);
    const uint64_t shared = child.Sample(0);  // the 64 MiB, half of each page
    std::memset(p, 2, 64 * kMiB);             // copy-on-write: now its own
    uint64_t own = 0;
    for (unsigned i = 0; i < ProcessCharge::kPssEvery; i++) own = child.Sample(0);
    uint64_t out[2] = {shared, own};
    (void)!::write(pipefd[1], out, sizeof(out));
    ::_exit(0);
  }
  uint64_t got[2] = {};
  ASSERT_EQ(::read(pipefd[0], got, sizeof(got)), static_cast<ssize_t>(sizeof(got)));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
  // Everything private the parent had (the 64 MiB and the rest) is shared
  // by two right after the fork: half of it is the child's.
  EXPECT_GE(got[0], after / 2 - 8 * kMiB) << "shared pages count half";
  EXPECT_LE(got[0], after / 2 + 8 * kMiB) << "shared pages count half";
  EXPECT_GE(got[1], got[0] + 24 * kMiB) << "written pages are the child's own";
  ::munmap(p, 64 * kMiB);
}

}  // namespace
}  // namespace uswap
