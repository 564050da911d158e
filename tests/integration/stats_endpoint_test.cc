// Live stats (Config::stats_socket, USWAP_STATS_SOCKET, `uswap stat`): a
// running Space publishes its counters on a UNIX socket that only its user
// and root can read; `uswap stat` prints exactly what Space::stats() says;
// the socket goes away with the Space, and a fork() child leaves it alone.
#include "api/stats_endpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "regress_util.h"

namespace uswap::testing {
namespace {

struct Output {
  int status = -1;
  std::string out;
};

// Runs a shell command line; stdout (and stderr, with 2>&1 in `cmd`).
Output Shell(const std::string& cmd) {
  Output o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int st = ::pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return o;
}

std::string Cli() { return USWAP_CLI_PATH; }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

class StatsEndpointTest : public EngineFixture {
 protected:
  // space_: a Space whose pages went to swap and back, at rest.
  bool OpenBusySpace(const std::string& socket) {
    Config cfg = SmallConfig(256, NewSwapFile("a.swap", 4096));
    cfg.stats_socket = socket;
    space_ = OpenSpace(cfg);
    if (!space_) return false;
    auto r = space_->Map(1024 * kPage);
    if (!r.ok()) return false;
    region_ = std::move(*r);
    uint8_t* base = static_cast<uint8_t*>(region_->data());
    FillPages(base, 0, 1024, 1);
    EXPECT_EQ(CheckPages(base, 0, 512, 1), 0u);
    return SettleReclaim(*space_);
  }
  std::unique_ptr<Space> space_;
  std::unique_ptr<Region> region_;  // destroyed before space_
};

TEST_F(StatsEndpointTest, StatJsonIsTheSpacesStats) {
  const std::string sock = dir_.File("stats.sock");
  ASSERT_TRUE(OpenBusySpace(sock));
  Space* space = space_.get();
  EXPECT_EQ(ImplOf(*space)->stats_socket(), sock);
  struct stat st;
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const std::string before = space->stats().ToJson();
  Output o = Shell(Cli() + " stat --json --count 1 " + sock);
  const std::string after = space->stats().ToJson();
  ASSERT_EQ(o.status, 0) << o.out;
  ASSERT_EQ(before, after) << "the Space was not at rest";
  EXPECT_EQ(o.out, before + "\n");
  EXPECT_GT(space->stats().pswpout, 0u);

  o = Shell(Cli() + " stat --prometheus --count 1 " + sock);
  ASSERT_EQ(o.status, 0) << o.out;
  EXPECT_NE(o.out.find("uswap_pswpout_total " + std::to_string(space->stats().pswpout) + "\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("uswap_swap_area_inuse_pages{path=\"" + dir_.File("a.swap") + "\"} "),
            std::string::npos)
      << o.out;

  // vmstat lines: a header, the totals, then a line of deltas (0 at rest).
  o = Shell(Cli() + " stat --interval 0.05 --count 2 " + sock);
  ASSERT_EQ(o.status, 0) << o.out;
  const size_t l1 = o.out.find('\n'), l2 = o.out.find('\n', l1 + 1);
  ASSERT_NE(l2, std::string::npos) << o.out;
  const std::string totals = o.out.substr(l1 + 1, l2 - l1 - 1);
  const std::string delta = o.out.substr(l2 + 1);
  EXPECT_EQ(std::stoull(totals), space->stats().pgfault) << o.out;
  EXPECT_EQ(delta.find_first_not_of(" 0"),
            delta.find(std::to_string(space->stats().resident_pages)))
      << "counters moved at rest: " << o.out;

  region_.reset();
  space_.reset();
  EXPECT_FALSE(Exists(sock)) << "the socket outlived its Space";
  o = Shell(Cli() + " stat --count 1 " + sock + " 2>&1");
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_NE(o.out.find("uswap stat: " + sock + ": "), std::string::npos) << o.out;
}

// A path that is taken (a file of the caller's, a live socket) fails
// Open naming it, and what is there stays.
TEST_F(StatsEndpointTest, TakenPathFailsAndIsLeftAlone) {
  const std::string file = dir_.File("precious");
  ASSERT_EQ(Shell("echo keep > " + file).status, 0);
  Config cfg = SmallConfig(256, NewSwapFile("e.swap", 1024));
  cfg.stats_socket = file;
  auto s = Space::Open(cfg);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().ToString();
  EXPECT_EQ(Shell("cat " + file).out, "keep\n") << "the caller's file was clobbered";

  const std::string sock = dir_.File("live.sock");
  ASSERT_TRUE(OpenBusySpace(sock));
  Config cfg2 = SmallConfig(256, NewSwapFile("f.swap", 1024));
  cfg2.stats_socket = sock;
  auto second = Space::Open(cfg2);
  EXPECT_FALSE(second.ok());
  EXPECT_TRUE(ReadStatsEndpoint(sock, "json").ok()) << "the live socket was removed";
}

// Another user is turned away twice over: the socket (0600, in a 0700
// directory) refuses the connection, and a socket opened to everyone still
// answers nobody but its user and root (SO_PEERCRED).
TEST_F(StatsEndpointTest, AnotherUserCannotRead) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a command as nobody (CI runs as root)";
  ASSERT_EQ(Shell("command -v setpriv").status, 0) << "setpriv (util-linux) is missing";
  // nobody runs a copy of the CLI from the scratch dir (opened to others
  // for that): the build tree may not be readable for nobody.
  const std::string cli = dir_.File("uswap-cli");
  ASSERT_EQ(Shell("cp " + Cli() + " " + cli + " && chmod 0755 " + dir_.path() + " " + cli).status,
            0);
  const std::string sock = dir_.File("stats.sock");
  ASSERT_TRUE(OpenBusySpace(sock));
  const std::string as_nobody = "setpriv --reuid=nobody --regid=nogroup --clear-groups " + cli;

  Output o = Shell(as_nobody + " stat --json --count 1 " + sock + " 2>&1");
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_NE(o.out.find("Permission denied"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("pgfault"), std::string::npos) << "nobody read the counters: " << o.out;

  ASSERT_EQ(::chmod(sock.c_str(), 0666), 0);
  o = Shell(as_nobody + " stat --json --count 1 " + sock + " 2>&1");
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_NE(o.out.find("only its owner and root"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("pgfault"), std::string::npos) << "nobody read the counters: " << o.out;

  o = Shell(cli + " stat --json --count 1 " + sock);  // root still can
  EXPECT_EQ(o.status, 0) << o.out;
  ::chmod(dir_.path().c_str(), 0700);
}

// "auto": $XDG_RUNTIME_DIR/uswap/PID.sock in a 0700 directory, PID.1.sock
// for a second Space, `uswap stat PID` finds it; a directory open to
// others is refused; a fork() child's destructors leave the socket alone.
TEST_F(StatsEndpointTest, AutoPathPerProcessAndFork) {
  ASSERT_EQ(::setenv("XDG_RUNTIME_DIR", dir_.path().c_str(), 1), 0);
  const std::string pid = std::to_string(::getpid());
  const std::string first = dir_.File("uswap/" + pid + ".sock");
  {
    Config cfg = SmallConfig(256, NewSwapFile("b.swap", 1024));
    cfg.stats_socket = "auto";
    auto a = OpenSpace(cfg);
    ASSERT_TRUE(a);
    EXPECT_EQ(ImplOf(*a)->stats_socket(), first);
    struct stat st;
    ASSERT_EQ(::stat(dir_.File("uswap").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    Config cfg2 = SmallConfig(256, NewSwapFile("c.swap", 1024));
    cfg2.stats_socket = "auto";
    auto b = OpenSpace(cfg2);
    ASSERT_TRUE(b);
    EXPECT_EQ(ImplOf(*b)->stats_socket(), dir_.File("uswap/" + pid + ".1.sock"));

    Output o =
        Shell("XDG_RUNTIME_DIR=" + dir_.path() + " " + Cli() + " stat --json --count 1 " + pid);
    EXPECT_EQ(o.status, 0) << o.out;
    EXPECT_EQ(o.out, a->stats().ToJson() + "\n");

    // A child that destroys its copies (and exits) leaves the parent's
    // socket in place and serving.
    const pid_t child = ::fork();
    if (child == 0) {
      b.reset();
      a.reset();
      ::_exit(0);
    }
    int wst = 0;
    ASSERT_EQ(::waitpid(child, &wst, 0), child);
    EXPECT_TRUE(Exists(first));
    EXPECT_TRUE(ReadStatsEndpoint(first, "json").ok());
  }
  EXPECT_FALSE(Exists(first));

  ASSERT_EQ(::chmod(dir_.File("uswap").c_str(), 0755), 0);
  Config cfg = SmallConfig(256, NewSwapFile("d.swap", 1024));
  cfg.stats_socket = "auto";
  auto refused = Space::Open(cfg);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsBusy()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find(dir_.File("uswap")), std::string::npos);
  ::unsetenv("XDG_RUNTIME_DIR");
}

}  // namespace
}  // namespace uswap::testing
