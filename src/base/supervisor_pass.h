// kSupervisorPass: what uswap's own system calls carry in their sixth
// argument (unused by every one of them) where a seccomp filter sends the
// program's calls of the same kind to a supervisor (`uswap run`'s pin
// guard, run/pin_guard.h): the filter lets these through at once. They
// must not wait for the supervisor, which may itself be waiting on uswap:
// it reads the calling program's memory, and bringing that memory in can
// take the very calls marked here (an O_DIRECT open of a swap area, a new
// io_uring for swap I/O).
#pragma once

#include <cstdint>

namespace uswap {

inline constexpr uint64_t kSupervisorPass = 0x7573776170706173ull;  // "uswappas"

}  // namespace uswap
