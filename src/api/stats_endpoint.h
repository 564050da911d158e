// StatsEndpoint: a running Space's counters, readable from outside the
// process (`uswap stat`), opt-in (Config::stats_socket or the environment
// variable USWAP_STATS_SOCKET). cf. /proc/vmstat, read by vmstat(8).
//
// A UNIX stream socket, owner-only: it lives in a directory of mode 0700
// ($XDG_RUNTIME_DIR/uswap, else /run/uswap for root, else
// /tmp/uswap-UID), is itself 0600, and the server also checks each
// client's credentials (SO_PEERCRED: same uid, or root). Removed when the
// Space closes. Protocol: the client sends one line naming a format
// ("text", "json" or "prometheus") and reads the snapshot until EOF.
//
// The server is one thread that sleeps in poll(2) between requests;
// serving a request takes one Space::stats() snapshot.
//
// Thread-safety: Start/~StatsEndpoint from the Space's owner; the
// snapshot function is called on the endpoint's thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/unique_fd.h"
#include "uswap/stats.h"
#include "uswap/status.h"

namespace uswap {

class StatsEndpoint {
 public:
  // `where`: "auto" (the per-user directory, file PID.sock, or PID.N.sock
  // for a second Space of the process) or a socket path. Fails naming the
  // path when the directory is unsafe (not ours, or open to others) or the
  // socket cannot be made.
  static Result<std::unique_ptr<StatsEndpoint>> Start(const std::string& where,
                                                      std::function<Stats()> snapshot);
  ~StatsEndpoint();  // stops the thread, removes the socket
  StatsEndpoint(const StatsEndpoint&) = delete;
  StatsEndpoint& operator=(const StatsEndpoint&) = delete;

  const std::string& path() const { return path_; }

 private:
  StatsEndpoint() = default;
  void Serve();
  void Answer(int client);

  std::string path_;
  bool bound_ = false;  // path_ is a socket this endpoint made
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // eventfd: written once by the destructor
  std::function<Stats()> snapshot_;
  std::thread thread_;
};

// The directory of the "auto" sockets for the calling user (not created).
std::string StatsSocketDir();
// Where `uswap stat PID` looks: StatsSocketDir()/PID.sock.
std::string StatsSocketPath(pid_t pid);
// One snapshot from the endpoint at `path` in `format` ("text", "json",
// "prometheus"). IOError naming the path (and "permission denied" when
// another user's) on failure.
Result<std::string> ReadStatsEndpoint(const std::string& path, const std::string& format);

}  // namespace uswap
