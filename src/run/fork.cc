// AnonSpace::Fork: fork(2) for a process whose anonymous memory is in a
// uswap region (issue 9). Kernel twin: kernel/fork.c copy_process ->
// dup_mm -> dup_mmap -> copy_page_range.
//
// The kernel shares the parent's pages with the child copy-on-write and,
// for pages on swap, takes a second reference to their slot
// (swap_duplicate). A uswap region cannot be shared that way: its view is
// a memfd mapped MAP_SHARED and watched by the parent's userfaultfd, and
// its frames, slots and threads belong to the parent's Space (the child
// gets none of them: MADV_DONTFORK, see uswap/space.h). So the child gets
// a Space of its own, with the region mapped again at the same address,
// and the parent copies into it every page that is populated — resident,
// on swap, compressed or same-filled — through a socket:
//
//   parent                                   child
//   lock the bookkeeping (mu_), plan:
//   populated pages, protections
//   fork() ---------------------------------> (single thread, mu_ held)
//                                            drop the parent's engine,
//                                            open_space(): close its fds,
//                                            own swap area, new Space;
//                                            region at the same address
//   <---------------------------------------- "ready" (or why not)
//   send(region pages) ---------------------> recv() into the region
//     (faults: the parent's handlers)          (faults: the child's)
//                                            protections, DONTFORK, no mlock
//   <---------------------------------------- "done" (or why not)
//   unlock, return pid                       unlock, return 0
//
// Both sides page through their own budget meanwhile, so a 1 GiB process
// under a 256 MiB budget forks with 256 MiB of RAM per process: the
// parent's reads page its swap back in, the child's writes page out to its
// own area. The cost is the kernel's dup_mmap plus a copy of the populated
// memory; the child needs no page of the parent's afterwards, so either
// may exit first.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "api/space_impl.h"
#include "base/unique_fd.h"
#include "io/page_buffer.h"
#include "run/anon_space.h"
#include "run/proc_maps.h"

namespace uswap {
namespace {

constexpr size_t kChunk = 1u << 20;  // bytes per send/recv call

// All of [p, p + n) to the socket (no SIGPIPE: a peer gone is an error).
Status SendAll(int fd, const void* p, size_t n) {
  const auto* c = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t m = ::send(fd, c, n, MSG_NOSIGNAL);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0) return Status::FromErrno("send (fork copy)", errno);
    c += m;
    n -= static_cast<size_t>(m);
  }
  return Status::OK();
}

Status RecvAll(int fd, void* to, size_t len) {
  auto* p = static_cast<uint8_t*>(to);
  while (len > 0) {
    ssize_t n = ::recv(fd, p, std::min(len, kChunk), MSG_WAITALL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("recv (fork copy)", errno);
    if (n == 0) return Status::IOError("fork copy: the other process went away");
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// A string (an error's text, the child's codec): length, then bytes.
Status SendString(int fd, const std::string& text) {
  const uint32_t len = static_cast<uint32_t>(text.size());
  USWAP_RETURN_IF_ERROR(SendAll(fd, &len, sizeof(len)));
  return SendAll(fd, text.data(), len);
}
Result<std::string> RecvString(int fd, uint32_t max_len) {
  uint32_t len = 0;
  USWAP_RETURN_IF_ERROR(RecvAll(fd, &len, sizeof(len)));
  if (len > max_len)
    return Status::Corruption("fork copy: a string of " + std::to_string(len) + " bytes");
  std::string text(len, '\0');
  USWAP_RETURN_IF_ERROR(RecvAll(fd, text.data(), len));
  return text;
}

// The status messages between child and parent: 'K', or 'E' and the
// error's text (a string, as above).
void SendStatus(int fd, const Status& s) {
  if (!SendAll(fd, s.ok() ? "K" : "E", 1).ok() || s.ok()) return;
  (void)SendString(fd, s.ToString());
}

Status RecvStatus(int fd, const char* who) {
  char tag = 0;
  Status s = RecvAll(fd, &tag, 1);
  if (!s.ok()) return Status::IOError(std::string("the fork child exited ") + who);
  if (tag == 'K') return Status::OK();
  USWAP_ASSIGN_OR_RETURN(std::string text, RecvString(fd, UINT32_MAX));
  return Status::IOError(text);
}

// [b, b + n) of the program's own memory to the socket. A range the
// program made unreadable (PROT_NONE, write-only) fails with EFAULT in
// send(); it is read through /proc/self/mem instead, which ignores
// protections as a debugger's access does (FOLL_FORCE).
Status SendFromMemory(int fd, uintptr_t b, size_t n, UniqueFd* mem, std::vector<uint8_t>* bounce) {
  for (const uintptr_t e = b + n; b < e;) {
    const size_t want = e - b;
    ssize_t sent = ::send(fd, reinterpret_cast<void*>(b), want, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno == EFAULT) {
      if (!mem->valid()) {
        mem->Reset(::open("/proc/self/mem", O_RDONLY | O_CLOEXEC));
        if (!mem->valid()) return Status::FromErrno("open(/proc/self/mem)", errno);
        bounce->resize(kChunk);
      }
      ssize_t got = ::pread(mem->get(), bounce->data(), want, static_cast<off_t>(b));
      if (got != static_cast<ssize_t>(want))
        return Status::FromErrno("pread(/proc/self/mem) of unreadable memory",
                                 got < 0 ? errno : EIO);
      USWAP_RETURN_IF_ERROR(SendAll(fd, bounce->data(), want));
      b += want;
      continue;
    }
    if (sent < 0) return Status::FromErrno("send (fork copy)", errno);
    b += static_cast<size_t>(sent);
  }
  return Status::OK();
}

using CompressedPages = MemoryNode::CompressedPages;

// Sends [b, e) of the region (at `base`) to the child, chunk by chunk
// (kChunk bytes, or the range's rest). A chunk is: the number of its pages
// sent compressed (uint32), their records (CompressedPages::Page: index in
// the chunk, object length, checksum), the objects, then the chunk's other
// pages in order. The pages are read by the engine without faulting
// anything in (RegionImpl::CopyPages): a swapped page comes from its slot
// into a buffer, never into the parent's budget, so the copy does not make
// the parent evict what it sends next; with `objects` (the child's
// compressed tier has the same codec) a page in the compressed tier goes
// as its object, neither decompressed here nor compressed again there.
// Without checksums (CopyPages cannot tell a reused slot) the range is
// sent from the parent's own memory, faulting its pages back.
Status SendRange(int fd, RegionImpl* region, uintptr_t base, uintptr_t b, uintptr_t e,
                 UniqueFd* mem, std::vector<uint8_t>* bounce, PageBuffer* pages,
                 CompressedPages* objects) {
  constexpr size_t kPageBytes = 4096;
  bool faulting = false;
  while (b < e) {
    const size_t want = std::min<uintptr_t>(e - b, kChunk);
    uint32_t nobj = 0;
    if (!faulting) {
      if (pages->size() < kChunk) *pages = PageBuffer(kChunk);
      if (objects) objects->clear();
      Status st = region->CopyPages(b - base, want, pages->data(), objects);
      if (st.IsNotSupported()) {
        faulting = true;
        continue;
      }
      USWAP_RETURN_IF_ERROR(st);
      if (objects) nobj = static_cast<uint32_t>(objects->pages.size());
    }
    USWAP_RETURN_IF_ERROR(SendAll(fd, &nobj, sizeof(nobj)));
    if (faulting) {
      USWAP_RETURN_IF_ERROR(SendFromMemory(fd, b, want, mem, bounce));
      b += want;
      continue;
    }
    if (nobj) {
      USWAP_RETURN_IF_ERROR(
          SendAll(fd, objects->pages.data(), nobj * sizeof(CompressedPages::Page)));
      USWAP_RETURN_IF_ERROR(SendAll(fd, objects->bytes.data(), objects->bytes.size()));
    }
    // The other pages: the runs between compressed ones.
    size_t from = 0;
    for (size_t k = 0; k <= nobj; k++) {
      const size_t to = k < nobj ? objects->pages[k].index : want / kPageBytes;
      if (to > from)
        USWAP_RETURN_IF_ERROR(
            SendAll(fd, pages->data() + from * kPageBytes, (to - from) * kPageBytes));
      from = to + 1;
    }
    b += want;
  }
  return Status::OK();
}

void Reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Status AnonSpace::PlanForkLocked(ForkPlan* plan) {
  std::vector<std::pair<size_t, size_t>> populated;
  uint64_t poisoned = 0;
  USWAP_RETURN_IF_ERROR(ImplOf(*region_)->PopulatedRanges(&populated, &poisoned));
  if (poisoned > 0)
    return Status::IOError(std::to_string(poisoned) +
                           " pages of uswap memory could not be read back from swap (they raise "
                           "SIGBUS); a child cannot be given a copy of them");
  // Not copied: the kernel's mappings inside the region (the child inherits
  // them), DONTFORK ranges (absent) and WIPEONFORK ranges (zero).
  RangeSet skip;
  for (const AddrRange& r : dontfork_.Intersect(begin_, end_)) skip.Add(r.begin, r.end);
  for (const AddrRange& r : wipeonfork_.Intersect(begin_, end_)) skip.Add(r.begin, r.end);
  for (const AddrRange& r : foreign_.Intersect(begin_, end_)) skip.Add(r.begin, r.end);
  for (const auto& [offset, len] : populated)
    for (const AddrRange& r : skip.Gaps(begin_ + offset, begin_ + offset + len))
      plan->copy.push_back(r);
  // The program's mprotect()s of region memory are not in the bookkeeping
  // (mprotect is the kernel's): the child repeats what the maps say.
  USWAP_ASSIGN_OR_RETURN(std::vector<ProcMapping> vmas, ReadProcMaps(begin_, end_));
  for (const ProcMapping& v : vmas) {
    if (v.prot == (PROT_READ | PROT_WRITE)) continue;
    for (const AddrRange& r : foreign_.Gaps(v.range.begin, v.range.end))
      plan->protect.push_back({r, v.prot});
  }
  plan->dontfork = dontfork_.Intersect(begin_, end_);
  return Status::OK();
}

Status AnonSpace::ReopenInChildLocked(const SpaceOpener& open_space) {
  // The parent's engine is not this process's (uswap/space.h: a child may
  // destroy its copies; that touches nothing of the parent's).
  region_.reset();
  space_.reset();
  // The region's view was not inherited (MADV_DONTFORK); what the child has
  // in its range are the kernel's mappings the program made there
  // (foreign). Reserve the holes so that nothing the new Space maps lands
  // there, and move the kernel's mappings aside (the child has one thread
  // until the Space starts its own, so nothing races with this).
  USWAP_ASSIGN_OR_RETURN(std::vector<ProcMapping> inherited, ReadProcMaps(begin_, end_));
  auto reserve = [](uintptr_t b, uintptr_t e) -> Status {
    if (b >= e) return Status::OK();
    void* p = ::mmap(reinterpret_cast<void*>(b), e - b, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return Status::FromErrno("mmap (reserving the region's range)", errno);
    return Status::OK();
  };
  uintptr_t at = begin_;
  for (const ProcMapping& v : inherited) {
    USWAP_RETURN_IF_ERROR(reserve(at, v.range.begin));
    at = v.range.end;
  }
  USWAP_RETURN_IF_ERROR(reserve(at, end_));
  std::vector<std::pair<ProcMapping, uintptr_t>> moved;  // (where it was, where it is now)
  for (const ProcMapping& v : inherited) {
    void* p = ::mremap(reinterpret_cast<void*>(v.range.begin), v.range.size(), v.range.size(),
                       MREMAP_MAYMOVE);
    if (p == MAP_FAILED) return Status::FromErrno("mremap (moving a mapping aside)", errno);
    moved.push_back({v, reinterpret_cast<uintptr_t>(p)});
    USWAP_RETURN_IF_ERROR(reserve(v.range.begin, v.range.end));
  }
  USWAP_ASSIGN_OR_RETURN(space_, open_space());
  USWAP_ASSIGN_OR_RETURN(region_,
                         ImplOf(*space_)->Map(end_ - begin_, reinterpret_cast<void*>(begin_)));
  for (const auto& [v, now] : moved) {
    void* p = ::mremap(reinterpret_cast<void*>(now), v.range.size(), v.range.size(),
                       MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(v.range.begin));
    if (p == MAP_FAILED) return Status::FromErrno("mremap (putting a mapping back)", errno);
  }
  return Status::OK();
}

Status AnonSpace::ReceiveLocked(int fd, const ForkPlan& plan) {
  constexpr size_t kPageBytes = 4096;
  std::vector<uint8_t> buf(kChunk), objects;
  std::vector<CompressedPages::Page> records;
  RegionImpl* region = ImplOf(*region_);
  for (const AddrRange& r : plan.copy) {
    for (uintptr_t at = r.begin; at < r.end;) {
      // One chunk as SendRange sends it.
      const size_t n = std::min<uintptr_t>(r.end - at, kChunk), npages = n / kPageBytes;
      uint32_t nobj = 0;
      USWAP_RETURN_IF_ERROR(RecvAll(fd, &nobj, sizeof(nobj)));
      if (nobj > npages) return Status::Corruption("fork copy: a chunk of more objects than pages");
      records.resize(nobj);
      USWAP_RETURN_IF_ERROR(RecvAll(fd, records.data(), nobj * sizeof(CompressedPages::Page)));
      size_t total = 0;
      for (uint32_t k = 0; k < nobj; k++) {
        if (records[k].index >= npages || (k && records[k].index <= records[k - 1].index) ||
            records[k].len == 0 || records[k].len > kPageBytes)
          return Status::Corruption("fork copy: a bad compressed page record");
        total += records[k].len;
      }
      objects.resize(total);
      USWAP_RETURN_IF_ERROR(RecvAll(fd, objects.data(), total));
      USWAP_RETURN_IF_ERROR(RecvAll(fd, buf.data(), (npages - nobj) * kPageBytes));
      const uint8_t *object = objects.data(), *page = buf.data();
      for (size_t i = 0, k = 0; i < npages; i++) {
        const size_t off = at + i * kPageBytes - begin_;
        if (k < nobj && records[k].index == i) {
          USWAP_RETURN_IF_ERROR(region->AddObject(off, object, records[k].len, records[k].sum));
          object += records[k++].len;
        } else {
          // Same-filled pages (zero above all) take no frame: AddPage's contract.
          USWAP_RETURN_IF_ERROR(region->AddPage(off, page));
          page += kPageBytes;
        }
      }
      at += n;
    }
  }
  return Status::OK();
}

Status AnonSpace::FinishChildLocked(const ForkPlan& plan) {
  for (const auto& [r, prot] : plan.protect)
    if (::mprotect(reinterpret_cast<void*>(r.begin), r.size(), prot) != 0)
      return Status::FromErrno("mprotect (the parent's protection)", errno);
  // mlock and mlockall are not inherited by a child (fork(2)): nothing is
  // locked in the new region.
  lock_future_ = false;
  // DONTFORK ranges are absent in the child: unmapped there.
  for (const AddrRange& r : plan.dontfork) {
    for (const AddrRange& f : foreign_.Gaps(r.begin, r.end)) {
      if (f.begin >= map_begin_) free_.Add(f.begin, f.end);
      if (::mprotect(reinterpret_cast<void*>(f.begin), f.size(), PROT_NONE) != 0)
        return Status::FromErrno("mprotect (a MADV_DONTFORK range)", errno);
    }
    dontfork_.Remove(r.begin, r.end);
  }
  return Status::OK();
}

pid_t AnonSpace::Fork(pid_t (*real_fork)(), const SpaceOpener& open_space, std::string* why) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    const int err = errno;
    *why = "socketpair: " + std::string(std::strerror(err));
    errno = err;
    return -1;
  }
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  // Held until the copy is done, in both processes: the bookkeeping and the
  // plan must agree (dup_mmap holds the parent's mmap_lock for writing).
  MutexLock l(&mu_);
  ForkPlan plan;
  if (Status s = PlanForkLocked(&plan); !s.ok()) {
    *why = s.ToString();
    errno = ENOMEM;
    return -1;
  }
  const pid_t pid = real_fork();
  if (pid < 0) {
    const int err = errno;
    *why = "fork: " + std::string(std::strerror(err));
    errno = err;
    return -1;
  }
  if (pid == 0) {
    parent_end.Reset();
    const int fd = child_end.get();
    Status s = ReopenInChildLocked(open_space);
    SendStatus(fd, s);
    if (!s.ok()) ::_exit(125);
    // Which compressed objects this child can take as they are.
    if (!SendString(fd, ImplOf(*region_)->ObjectCodec()).ok()) ::_exit(125);
    s = ReceiveLocked(fd, plan);
    if (!s.ok()) {
      // Say why, then take the rest of the copy unread until the parent has
      // sent it all and read this: a socket closed with unread data resets
      // the connection, and the parent would never see the reason.
      SendStatus(fd, s);
      char sink[4096];
      while (::recv(fd, sink, sizeof(sink), 0) > 0) {
      }
      ::_exit(125);
    }
    s = FinishChildLocked(plan);
    // Only now may threads start: a new thread reads libc's state (the
    // locale, the TLS of loaded modules), which is in the region.
    if (s.ok()) s = ImplOf(*space_)->StartThreads();
    SendStatus(fd, s);
    if (!s.ok()) ::_exit(125);
    return 0;
  }
  child_end.Reset();
  const int fd = parent_end.get();
  Status s = RecvStatus(fd, "before it had its own uswap memory");
  Result<std::string> codec = s.ok() ? RecvString(fd, 4096) : Result<std::string>(s);
  if (!codec.ok()) s = codec.status();
  if (s.ok()) {
    UniqueFd mem;
    std::vector<uint8_t> bounce;
    PageBuffer pages;
    CompressedPages objects;
    const bool compressed = !codec->empty() && *codec == ImplOf(*region_)->ObjectCodec();
    Status sent;
    for (size_t i = 0; sent.ok() && i < plan.copy.size(); i++)
      sent = SendRange(fd, ImplOf(*region_), begin_, plan.copy[i].begin, plan.copy[i].end, &mem,
                       &bounce, &pages, compressed ? &objects : nullptr);
    // The child's verdict: after a failed send, its reason if it gave one.
    s = RecvStatus(fd, "while it received its copy of the memory");
    if (s.ok()) s = sent;
  }
  if (!s.ok()) {
    ::kill(pid, SIGKILL);
    Reap(pid);
    *why = s.ToString();
    errno = ENOMEM;
    return -1;
  }
  return pid;
}

}  // namespace uswap
