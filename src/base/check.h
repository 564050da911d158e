// Broken invariants: USWAP_CHECK logs the condition and a backtrace, then
// aborts. For programming errors only; expected failures are Status values.
// cf. the kernel's VM_BUG_ON_PAGE().
//
// Three levels of invariant checks, as mimalloc's mi_assert*:
//   USWAP_CHECK(c)          always on (cheap, guards memory safety)
//   USWAP_DCHECK(c)         debug builds (NDEBUG unset)
//   USWAP_EXPENSIVE_CHECK(c) only with -DUSWAP_DEBUG_FULL=ON (may scan whole maps)
#pragma once

namespace uswap::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* msg);
}  // namespace uswap::internal

#define USWAP_CHECK(cond)                                                 \
  do {                                                                    \
    if (__builtin_expect(!(cond), 0))                                     \
      ::uswap::internal::CheckFailed(__FILE__, __LINE__, #cond, nullptr); \
  } while (0)
#define USWAP_CHECK_MSG(cond, msg)                                    \
  do {                                                                \
    if (__builtin_expect(!(cond), 0))                                 \
      ::uswap::internal::CheckFailed(__FILE__, __LINE__, #cond, msg); \
  } while (0)

#ifndef NDEBUG
#define USWAP_DCHECK(cond) USWAP_CHECK(cond)
#else
#define USWAP_DCHECK(cond) \
  do {                     \
  } while (0)
#endif

#ifdef USWAP_DEBUG_FULL
#define USWAP_EXPENSIVE_CHECK(cond) USWAP_CHECK(cond)
#else
#define USWAP_EXPENSIVE_CHECK(cond) \
  do {                              \
  } while (0)
#endif
