// Clang thread-safety annotations (no-ops elsewhere), as LevelDB's
// port/thread_annotations.h. A clang build with -Wthread-safety checks them.
#pragma once

#if defined(__clang__)
#define USWAP_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define USWAP_THREAD_ANNOTATION(x)
#endif

#define GUARDED_BY(x) USWAP_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) USWAP_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) USWAP_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) USWAP_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS USWAP_THREAD_ANNOTATION(no_thread_safety_analysis)
