// uswap's version. The one place it is written: CMake reads these lines
// for project(VERSION), the SONAME (libuswap.so.MAJOR.MINOR), the CMake
// package version and uswap.pc.
//
// Before 1.0, a new MINOR release may change the API and ABI; a PATCH
// release changes neither.
#pragma once

#define USWAP_VERSION_MAJOR 0
#define USWAP_VERSION_MINOR 2
#define USWAP_VERSION_PATCH 0

namespace uswap {

// The version of the library the program runs with, "MAJOR.MINOR.PATCH"
// (compare with the USWAP_VERSION_* it was compiled against). Thread-safe;
// never fails.
const char* Version();

}  // namespace uswap
