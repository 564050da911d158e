#include "io/uring_store.h"

#include <liburing.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/check.h"
#include "base/supervisor_pass.h"

namespace uswap {

namespace {

// A completion may be -EAGAIN/-EINTR a few times (resources, signals); past
// this many tries the request fails with that errno rather than spin.
constexpr unsigned kMaxRetries = 16;
// Largest transfer one SQE carries: its length field is 32 bits and the
// kernel caps a read/write at MAX_RW_COUNT anyway; longer runs continue in
// chunks like short transfers.
constexpr uint64_t kMaxChunk = uint64_t{1} << 30;

bool IsTransient(int err) { return err == EAGAIN || err == EINTR || err == EBUSY || err == ENOMEM; }

}  // namespace

// ---------------------------------------------------------------------------
// Ring: one io_uring plus the per-batch scratch state of the thread that has
// it checked out. Not thread-safe: one user at a time, by construction.

class UringStore::Ring {
 public:
  Ring() = default;
  ~Ring() {
    if (ready_) io_uring_queue_exit(&ring_);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Returns 0 or a negative errno from io_uring_setup or the mapping.
  int Setup(unsigned depth) {
    // COOP_TASKRUN: completions are run when we enter the kernel to wait,
    // not by interrupting us; the thread always waits for its own batch.
    int ret = Init(depth, IORING_SETUP_COOP_TASKRUN);
    if (ret == -EINVAL) ret = Init(depth, 0);  // kernel < 5.19
    if (ret < 0) return ret;
    ready_ = true;
    depth_ = ring_.sq.ring_entries;
    return 0;
  }

  // Runs the batch to completion; sets every ios[i].error. Returns false
  // when the ring itself failed and must not be reused.
  bool Run(int fd, size_t page_size, std::span<BlockIo> ios);

 private:
  struct Progress {
    uint64_t done = 0;     // bytes transferred so far
    unsigned retries = 0;  // transient failures so far
    bool finished = false;
  };

  void Prepare(io_uring_sqe* sqe, int fd, size_t page_size, const BlockIo& io, size_t index);
  // Consumes every posted completion; returns how many.
  unsigned Reap(size_t page_size, std::span<BlockIo> ios, bool may_retry);
  void Complete(size_t page_size, std::span<BlockIo> ios, size_t i, int res, bool may_retry);

  // io_uring_queue_init's work, with our own io_uring_setup: a new ring
  // may be made on the fault path, and under `uswap run` the call must
  // pass the pin guard's filter (base/supervisor_pass.h), which liburing's
  // own system call would not.
  int Init(unsigned depth, unsigned flags) {
    io_uring_params p{};
    p.flags = flags;
    const int fd =
        static_cast<int>(syscall(SYS_io_uring_setup, depth, &p, 0, 0, 0, kSupervisorPass));
    if (fd < 0) return -errno;
    if (int ret = io_uring_queue_mmap(fd, &p, &ring_); ret < 0) {
      ::close(fd);
      return ret;
    }
    // What io_uring_queue_init adds to the mapping (liburing 2.3): SQ
    // slots mapped one to one onto SQEs, and the kernel's features.
    for (unsigned i = 0; i < ring_.sq.ring_entries; i++) ring_.sq.array[i] = i;
    ring_.features = p.features;
    return 0;
  }

  io_uring ring_{};
  bool ready_ = false;
  unsigned depth_ = 0;
  std::vector<Progress> progress_;  // per request of the current batch
  std::vector<size_t> pending_;     // requests to (re)submit, by index
};

void UringStore::Ring::Prepare(io_uring_sqe* sqe, int fd, size_t page_size, const BlockIo& io,
                               size_t index) {
  const uint64_t done = progress_[index].done;
  const uint64_t total = uint64_t{io.nr} * page_size;
  const auto len = static_cast<unsigned>(std::min(total - done, kMaxChunk));
  char* buf = static_cast<char*>(io.buf) + done;
  const uint64_t offset = io.slot * page_size + done;
  if (io.op == BlockIo::Op::kRead) {
    io_uring_prep_read(sqe, fd, buf, len, offset);
  } else {
    io_uring_prep_write(sqe, fd, buf, len, offset);
  }
  io_uring_sqe_set_data64(sqe, index);
}

void UringStore::Ring::Complete(size_t page_size, std::span<BlockIo> ios, size_t i, int res,
                                bool may_retry) {
  BlockIo& io = ios[i];
  Progress& p = progress_[i];
  if (res < 0) {
    const int err = -res;
    if (may_retry && (err == EAGAIN || err == EINTR) && ++p.retries <= kMaxRetries) {
      pending_.push_back(i);
      return;
    }
    // After a partial transfer, a refused continuation (an unaligned
    // O_DIRECT offset at end of file) is still a short transfer.
    io.error = (p.done > 0 && err == EINVAL) ? EIO : err;
  } else if (res == 0) {
    io.error = EIO;  // end of file: the area is shorter than its header says
  } else {
    p.done += static_cast<uint64_t>(res);
    if (p.done < uint64_t{io.nr} * page_size) {
      if (may_retry) {
        pending_.push_back(i);  // short transfer: continue with the rest
        return;
      }
      io.error = EIO;
    } else {
      io.error = 0;
    }
  }
  p.finished = true;
}

unsigned UringStore::Ring::Reap(size_t page_size, std::span<BlockIo> ios, bool may_retry) {
  unsigned head;
  unsigned count = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    Complete(page_size, ios, static_cast<size_t>(io_uring_cqe_get_data64(cqe)), cqe->res,
             may_retry);
    ++count;
  }
  io_uring_cq_advance(&ring_, count);
  return count;
}

bool UringStore::Ring::Run(int fd, size_t page_size, std::span<BlockIo> ios) {
  progress_.assign(ios.size(), Progress{});
  pending_.clear();
  size_t next = 0;         // first request never submitted
  unsigned inflight = 0;   // SQEs prepared and not yet completed
  unsigned transient = 0;  // consecutive transient failures of io_uring_enter
  int fatal = 0;           // the ring failed with this errno: drain, then give up

  for (;;) {
    // Keep up to depth_ requests in flight (never more: the CQ, twice the
    // SQ, then cannot overflow). Continuations go first.
    while (fatal == 0 && inflight < depth_ && (!pending_.empty() || next < ios.size())) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;  // SQ still holds unconsumed entries
      size_t i;
      if (!pending_.empty()) {
        i = pending_.back();
        pending_.pop_back();
      } else {
        i = next++;
      }
      Prepare(sqe, fd, page_size, ios[i], i);
      ++inflight;
    }
    if (inflight == 0) break;

    // Entries still in the SQ never reached the kernel; only the rest can
    // complete.
    const unsigned in_kernel = inflight - io_uring_sq_ready(&ring_);
    int ret;
    if (fatal == 0) {
      ret = io_uring_submit_and_wait(&ring_, 1);
    } else if (in_kernel > 0) {
      io_uring_cqe* cqe;
      ret = io_uring_wait_cqe(&ring_, &cqe);
    } else {
      break;
    }
    if (ret < 0) {
      const int err = -ret;
      if (fatal != 0) {
        // Requests in the kernel still point at the caller's buffers; we
        // cannot return while they may complete later.
        USWAP_CHECK_MSG(err == EINTR, "io_uring_wait_cqe failed while draining a broken ring");
        continue;
      }
      if (err == EINTR) continue;
      if (IsTransient(err) && ++transient <= kMaxRetries) {
        // Out of kernel resources, or CQ overflow (EBUSY): let something
        // complete before submitting again.
        if (in_kernel > 0) {
          io_uring_cqe* cqe;
          ret = io_uring_wait_cqe(&ring_, &cqe);
          if (ret < 0 && ret != -EINTR) fatal = -ret;
        } else {
          ::usleep(100 * transient);
        }
      } else {
        fatal = err;
        continue;
      }
    } else {
      transient = 0;
    }
    inflight -= Reap(page_size, ios, fatal == 0);
  }

  if (fatal == 0) return true;
  // Everything not finished never ran, or ran in part: fail it. Entries
  // left in the SQ die with the ring.
  for (size_t i = 0; i < ios.size(); ++i) {
    if (!progress_[i].finished) ios[i].error = fatal;
  }
  return false;
}

// ---------------------------------------------------------------------------
// UringStore

Result<std::unique_ptr<UringStore>> UringStore::Open(const std::string& path, size_t page_size,
                                                     uint64_t nr_slots,
                                                     const BlockStoreOptions& options) {
  if (options.queue_depth == 0 || options.queue_depth > 4096) {
    return Status::InvalidArgument("uring: queue depth " + std::to_string(options.queue_depth) +
                                   " is not in [1, 4096]");
  }
  USWAP_ASSIGN_OR_RETURN(PageFile file, OpenPageFile(path, options.direct_io));
  auto ring = std::make_unique<Ring>();
  if (int ret = ring->Setup(options.queue_depth); ret < 0) {
    return Status::NotSupported(std::string("uring: io_uring_queue_init: ") + std::strerror(-ret) +
                                " (kernel or sandbox refuses io_uring; use the 'file' store)");
  }
  return std::unique_ptr<UringStore>(
      new UringStore(std::move(file), page_size, nr_slots, options.queue_depth, std::move(ring)));
}

UringStore::UringStore(PageFile file, size_t page_size, uint64_t nr_slots, unsigned queue_depth,
                       std::unique_ptr<Ring> first_ring)
    : BlockStore(page_size, nr_slots),
      fd_(std::move(file.fd)),
      direct_io_(file.direct_io),
      queue_depth_(queue_depth) {
  MutexLock lock(&mu_);
  idle_rings_.push_back(std::move(first_ring));
  nr_rings_ = 1;
}

UringStore::~UringStore() {
  MutexLock lock(&mu_);
  USWAP_CHECK_MSG(idle_rings_.size() == nr_rings_, "UringStore destroyed during a Submit");
  idle_rings_.clear();  // io_uring_queue_exit: unmaps the rings, closes their fds
}

unsigned UringStore::nr_rings() const {
  MutexLock lock(&mu_);
  return nr_rings_;
}

UringStore::Checkout UringStore::CheckoutRing() {
  mu_.lock();
  bool may_grow = true;  // false once creating a ring failed; then wait for one
  for (;;) {
    if (!idle_rings_.empty()) {
      Checkout c{std::move(idle_rings_.back()), 0};
      idle_rings_.pop_back();
      mu_.unlock();
      return c;
    }
    if (nr_rings_ < kMaxRings && (may_grow || nr_rings_ == 0)) {
      ++nr_rings_;  // reserve the place, create outside the lock
      mu_.unlock();
      auto ring = std::make_unique<Ring>();
      const int ret = ring->Setup(queue_depth_);
      if (ret == 0) return Checkout{std::move(ring), 0};
      mu_.lock();
      --nr_rings_;
      // With no ring left to wait for, the batch cannot run.
      if (nr_rings_ == 0) {
        mu_.unlock();
        return Checkout{nullptr, -ret};
      }
      may_grow = false;
    }
    // A ring comes back, or the last one broke (then try to create one).
    while (!(!idle_rings_.empty() || nr_rings_ == 0 || (may_grow && nr_rings_ < kMaxRings)))
      ring_returned_.Wait();
  }
}

void UringStore::ReturnRing(std::unique_ptr<Ring> ring) {
  {
    MutexLock lock(&mu_);
    if (ring) {
      idle_rings_.push_back(std::move(ring));
    } else {
      --nr_rings_;
    }
  }
  ring_returned_.Signal();
}

void UringStore::SubmitImpl(std::span<BlockIo> ios) {
  Checkout c = CheckoutRing();
  if (!c.ring) {
    for (BlockIo& io : ios) io.error = c.error;
    return;
  }
  const bool healthy = c.ring->Run(fd_.get(), page_size(), ios);
  if (!healthy) c.ring.reset();
  ReturnRing(std::move(c.ring));
}

Status UringStore::SyncImpl() {
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno("uring: fdatasync", errno);
  return Status::OK();
}

}  // namespace uswap
