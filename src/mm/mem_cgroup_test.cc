// MemCgroup: the shared counter's limit, requests in proportion to usage,
// waiting for room, the listener, and reaping members that died without
// leaving (a fork child killed) or whose image exec replaced by a program
// that did not join.
#include "mm/mem_cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace uswap {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLimit = 1024 * kPage;

UniqueFd NewGroup() {
  Result<UniqueFd> fd = MemCgroup::Create(kLimit, /*inheritable=*/false);
  EXPECT_TRUE(fd.ok()) << fd.status().ToString();
  return fd.ok() ? std::move(*fd) : UniqueFd();
}

TEST(MemCgroupTest, ChargesStopAtTheLimitAndLeavingUnchargesTheRest) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  auto b = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE((*a)->TryCharge(600 * kPage));
  EXPECT_FALSE((*b)->TryCharge(500 * kPage));  // 1100 pages > 1024
  EXPECT_TRUE((*b)->TryCharge(424 * kPage));
  EXPECT_EQ((*a)->free_bytes(), 0u);
  (*a)->ForceCharge(kPage);  // metadata: past the limit, counted
  MemCgroupStats s = (*a)->stats();
  EXPECT_EQ(s.usage_bytes, kLimit + kPage);
  EXPECT_EQ(s.peak_bytes, kLimit + kPage);
  EXPECT_EQ(s.members, 2u);
  EXPECT_EQ(s.failcnt, 1u);
  (*a)->Uncharge(kPage);
  a->reset();  // leaves with 600 pages charged: they go back
  EXPECT_EQ((*b)->usage(), 424 * kPage);
  EXPECT_EQ((*b)->stats().members, 1u);
}

TEST(MemCgroupTest, JoinRefusesWhatIsNotAGroup) {
  UniqueFd other(::memfd_create("not-a-budget", MFD_CLOEXEC));
  ASSERT_TRUE(other.valid());
  ASSERT_EQ(::ftruncate(other.get(), 4096), 0);
  auto g = MemCgroup::Join(other.get());
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(g.status().IsInvalidArgument()) << g.status().ToString();
  EXPECT_FALSE(MemCgroup::Create(63 * kPage, false).ok());
}

// Requests follow usage: a member holding three quarters is asked for
// three quarters; its listener runs; TakeRequest takes it once.
TEST(MemCgroupTest, RequestsAreSharedInProportionToUsage) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  auto b = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok() && b.ok());
  std::atomic<int> heard{0};
  (*a)->StartListener([&] { heard++; });
  ASSERT_TRUE((*a)->TryCharge(600 * kPage));
  ASSERT_TRUE((*b)->TryCharge(200 * kPage));
  (*b)->RequestReclaim(80 * kPage, /*force=*/true);
  for (int i = 0; i < 2000 && heard.load() == 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GT(heard.load(), 0);
  EXPECT_EQ((*a)->TakeRequest(), 60 * kPage);
  EXPECT_EQ((*a)->TakeRequest(), 0u);
  EXPECT_EQ((*b)->TakeRequest(), 20 * kPage);
  EXPECT_EQ((*b)->stats().reclaim_requests, 2u);
  (*a)->StopListener();
  (*a)->Uncharge(600 * kPage);
  (*b)->Uncharge(200 * kPage);
}

TEST(MemCgroupTest, WaitForRoomWakesOnAnUncharge) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->TryCharge(kLimit));
  EXPECT_FALSE((*a)->WaitForRoom(kPage, std::chrono::milliseconds(5)));  // nobody moves
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    (*a)->Uncharge(kPage);
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE((*a)->WaitForRoom(kPage, std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  t.join();
  (*a)->Uncharge(kLimit - kPage);
}

// A member killed without leaving keeps its charge until a forced request
// (or a Join) reaps it.
TEST(MemCgroupTest, ADeadMemberIsReaped) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto c = MemCgroup::Join(fd.get());
    if (!c.ok() || !(*c)->TryCharge(512 * kPage)) ::_exit(1);
    c->release();  // never leaves: dies with its charge
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ((*a)->usage(), 512 * kPage);
  EXPECT_EQ((*a)->stats().members, 2u);
  (*a)->RequestReclaim(kPage, /*force=*/true);
  EXPECT_EQ((*a)->usage(), 0u);
  EXPECT_EQ((*a)->stats().members, 1u);
}

// Forks a child that joins the group behind `fd`, charges `pages`, says
// so through a pipe, then runs `then(member)` (which must not return).
// Returns the child's pid once it has charged.
template <typename Then>
pid_t ForkMember(int fd, uint64_t pages, Then then) {
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto c = MemCgroup::Join(fd);
    const char byte = 1;
    if (!c.ok() || !(*c)->TryCharge(pages * kPage) || ::write(ready[1], &byte, 1) != 1) ::_exit(1);
    then(std::move(*c));
    ::_exit(126);
  }
  ::close(ready[1]);
  char byte = 0;
  const bool charged = pid > 0 && ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);
  return charged ? pid : -1;
}

TEST(MemCgroupTest, AMemberThatExecsAProgramThatDoesNotJoinIsReaped) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok());
  const pid_t pid = ForkMember(fd.get(), 256, [](std::unique_ptr<MemCgroup> c) {
    c.release();  // exec ends the image without leaving
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
  });
  ASSERT_GT(pid, 0);
  EXPECT_EQ((*a)->usage(), 256 * kPage);
  // The exec: the child's image changes when its /proc/PID/exe names sleep.
  char exe[256] = {};
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  for (int i = 0; i < 500 && std::string(exe).find("sleep") == std::string::npos; i++) {
    ::usleep(10000);
    const ssize_t n = ::readlink(link.c_str(), exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
  }
  ASSERT_NE(std::string(exe).find("sleep"), std::string::npos) << exe;
  // Still alive, same pid and start time: only the maps show it is gone.
  ASSERT_EQ(::kill(pid, 0), 0);
  auto b = MemCgroup::Join(fd.get());  // a Join checks every member's maps
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->usage(), 0u);
  EXPECT_EQ((*a)->stats().members, 2u);
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
}

TEST(MemCgroupTest, LiveMembersAreNotReapedByTheMapsCheck) {
  UniqueFd fd = NewGroup();
  auto a = MemCgroup::Join(fd.get());
  ASSERT_TRUE(a.ok());
  int done[2];
  ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
  const pid_t pid = ForkMember(fd.get(), 128, [&done](std::unique_ptr<MemCgroup> c) {
    char byte = 0;
    if (::read(done[0], &byte, 1) != 1) ::_exit(1);
    c->Uncharge(128 * kPage);  // would fail its check had the slot been reaped
    c.reset();
    ::_exit(0);
  });
  ASSERT_GT(pid, 0);
  ::close(done[0]);
  auto b = MemCgroup::Join(fd.get());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)->usage(), 128 * kPage);
  EXPECT_EQ((*a)->stats().members, 3u);
  const char byte = 1;
  ASSERT_EQ(::write(done[1], &byte, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ((*a)->usage(), 0u);
  ::close(done[1]);
}

}  // namespace
}  // namespace uswap
