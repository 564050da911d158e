// Clang thread-safety annotations (no-ops elsewhere), as LevelDB's
// port/thread_annotations.h. The clang build with -Wthread-safety checks
// them (scripts/run-tests.sh runs it with -Werror).
#pragma once

#if defined(__clang__)
#define USWAP_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define USWAP_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) USWAP_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY USWAP_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) USWAP_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) USWAP_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) USWAP_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) USWAP_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) USWAP_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) USWAP_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) USWAP_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) USWAP_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) USWAP_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) USWAP_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define RELEASE_GENERIC(...) USWAP_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) USWAP_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) USWAP_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) USWAP_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) USWAP_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) USWAP_THREAD_ANNOTATION(assert_shared_capability(x))
#define RETURN_CAPABILITY(x) USWAP_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS USWAP_THREAD_ANNOTATION(no_thread_safety_analysis)
