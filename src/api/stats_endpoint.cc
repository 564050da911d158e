#include "api/stats_endpoint.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "base/thread.h"

namespace uswap {

namespace {

constexpr int kClientTimeoutMs = 1000;

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path))
    return Status::InvalidArgument("stats socket path '" + path + "' is empty or longer than " +
                                   std::to_string(sizeof(a.sun_path) - 1) + " bytes");
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// The socket directory, made 0700 if missing; refused when it is not a
// directory of ours closed to everyone else.
Status MakePrivateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::FromErrno("stats socket directory " + dir, errno);
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) return Status::FromErrno("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077))
    return Status::Busy("stats socket directory " + dir +
                        " is not a directory owned by this user with mode 0700; refusing to "
                        "publish counters there");
  return Status::OK();
}

// A stale socket (its process is gone: connect is refused) may be
// replaced; a live one may not.
bool IsStale(const std::string& path) {
  Result<sockaddr_un> a = Address(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!a.ok() || !fd.valid()) return false;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*a), sizeof(*a)) != 0 &&
         errno == ECONNREFUSED;
}

// 0, or the errno of the send(2) that failed.
int WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t w = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(w);
  }
  return 0;
}

}  // namespace

std::string StatsSocketDir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
    return std::string(xdg) + "/uswap";
  if (::geteuid() == 0) return "/run/uswap";
  return "/tmp/uswap-" + std::to_string(::geteuid());
}

std::string StatsSocketPath(pid_t pid) {
  return StatsSocketDir() + "/" + std::to_string(pid) + ".sock";
}

Result<std::unique_ptr<StatsEndpoint>> StatsEndpoint::Start(const std::string& where,
                                                            std::function<Stats()> snapshot) {
  std::unique_ptr<StatsEndpoint> e(new StatsEndpoint());
  e->snapshot_ = std::move(snapshot);
  e->listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!e->listen_fd_.valid()) return Status::FromErrno("stats socket", errno);
  // Made 0600 right after bind (umask is process-wide: no changing it in
  // a library). In the 0700 directory nobody else can reach it meanwhile;
  // at a path of the caller's choosing, SO_PEERCRED (Answer) still turns
  // other users away.
  auto bind_at = [&](const std::string& path) -> int {
    Result<sockaddr_un> a = Address(path);
    if (!a.ok()) return EINVAL;
    if (::bind(e->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*a), sizeof(*a)) != 0)
      return errno;
    e->bound_ = true;  // from here on the socket file is ours to remove
    if (::chmod(path.c_str(), 0600) != 0) return errno;
    return 0;
  };
  int err = 0;
  if (where == "auto") {
    const std::string dir = StatsSocketDir();
    USWAP_RETURN_IF_ERROR(MakePrivateDir(dir));
    const std::string base = dir + "/" + std::to_string(::getpid());
    for (int n = 0; n < 64; n++) {
      e->path_ = n == 0 ? base + ".sock" : base + "." + std::to_string(n) + ".sock";
      err = bind_at(e->path_);
      if (err == EADDRINUSE && IsStale(e->path_)) {  // a dead process's, same pid
        ::unlink(e->path_.c_str());
        err = bind_at(e->path_);
      }
      if (err != EADDRINUSE) break;
    }
  } else {
    e->path_ = where;
    err = bind_at(where);
  }
  if (err) return Status::FromErrno("stats socket " + e->path_, err);
  // Failures from here on: the destructor removes the socket we made.
  if (::listen(e->listen_fd_.get(), 8) != 0)
    return Status::FromErrno("listen on stats socket " + e->path_, errno);
  e->stop_fd_.Reset(::eventfd(0, EFD_CLOEXEC));
  if (!e->stop_fd_.valid()) return Status::FromErrno("eventfd", errno);
  e->thread_ = StartThread("uswap-stats", [p = e.get()] { p->Serve(); });
  return e;
}

StatsEndpoint::~StatsEndpoint() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof(one));
    thread_.join();
  }
  // Only a socket this endpoint bound: a failed bind (the path was taken:
  // a live socket, a file of the caller's) leaves what is there alone.
  if (bound_) ::unlink(path_.c_str());
}

void StatsEndpoint::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log(LogLevel::kError, "stats endpoint %s: poll: %s; no longer serving", path_.c_str(),
          std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client.valid()) Answer(client.get());
  }
}

void StatsEndpoint::Answer(int client) {
  // Only our user (or root) may read the counters, whatever the socket's
  // and directory's modes say.
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      (cred.uid != ::geteuid() && cred.uid != 0))
    return;
  const timeval tv{kClientTimeoutMs / 1000, (kClientTimeoutMs % 1000) * 1000};
  (void)::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  char req[32] = {};
  size_t got = 0;
  while (got < sizeof(req) - 1 && !std::memchr(req, '\n', got)) {
    pollfd p{client, POLLIN, 0};
    if (::poll(&p, 1, kClientTimeoutMs) <= 0) return;  // a silent client is dropped
    ssize_t r = ::recv(client, req + got, sizeof(req) - 1 - got, 0);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  const std::string format(req, strcspn(req, "\r\n"));
  const Stats s = snapshot_();
  std::string out;
  if (format == "json")
    out = s.ToJson() + "\n";
  else if (format == "prometheus")
    out = s.ToPrometheus();
  else if (format == "text")
    out = s.ToText();
  else
    out = "error: unknown format '" + format + "' (text, json or prometheus)\n";
  (void)WriteAll(client, out);
}

Result<std::string> ReadStatsEndpoint(const std::string& path, const std::string& format) {
  USWAP_ASSIGN_OR_RETURN(sockaddr_un a, Address(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0)
    return Status::FromErrno("connect to " + path, errno);
  // A server that turned us away may have closed before the request went
  // out (EPIPE): the read below then says so.
  if (int err = WriteAll(fd.get(), format + "\n"); err && err != EPIPE && err != ECONNRESET)
    return Status::FromErrno("send to " + path, err);
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, 5 * kClientTimeoutMs);
    if (rc == 0) return Status::IOError("no answer from " + path + " within 5 s");
    if (rc < 0 && errno == EINTR) continue;
    ssize_t r = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ECONNRESET) break;  // turned away: no answer
    if (r < 0) return Status::FromErrno("read from " + path, errno);
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  if (out.empty())
    return Status::IOError(path +
                           " closed the connection without an answer (another user's "
                           "Space? only its owner and root may read its counters)");
  if (out.rfind("error: ", 0) == 0) return Status::InvalidArgument(out.substr(7));
  return out;
}

}  // namespace uswap
