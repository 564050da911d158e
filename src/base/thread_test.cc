// StartThread's signal mask (thread.h): asynchronous signals blocked, the
// synchronous ones open so that a fault in a uswap thread reaches the
// process's handlers (a sanitizer's report) instead of a silent kill.
#include "base/thread.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace uswap {
namespace {

TEST(StartThreadTest, BlocksAsynchronousSignalsOnlyAndNamesTheThread) {
  sigset_t mask;
  sigemptyset(&mask);
  char name[16] = {};
  std::thread t = StartThread("uswap-test-thread-long", [&] {
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);  // reads the current mask
    // The name is set by the creator after the start: wait for it.
    for (int i = 0; i < 1000 && std::string(name) != "uswap-test-thre"; i++) {
      pthread_getname_np(pthread_self(), name, sizeof(name));
      if (std::string(name) != "uswap-test-thre") usleep(1000);
    }
  });
  t.join();
  for (int sig : {SIGINT, SIGTERM, SIGCHLD, SIGUSR1, SIGRTMIN})
    EXPECT_EQ(sigismember(&mask, sig), 1) << strsignal(sig);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP})
    EXPECT_EQ(sigismember(&mask, sig), 0) << strsignal(sig);
  EXPECT_STREQ(name, "uswap-test-thre");  // 15 characters: the kernel's limit
  // The creator's own mask is left as it was.
  sigset_t mine;
  pthread_sigmask(SIG_BLOCK, nullptr, &mine);
  EXPECT_EQ(sigismember(&mine, SIGINT), 0);
}

}  // namespace
}  // namespace uswap
