#include "uswap/version.h"

namespace uswap {

#define USWAP_STR2(x) #x
#define USWAP_STR(x) USWAP_STR2(x)

const char* Version() {
  return USWAP_STR(USWAP_VERSION_MAJOR) "." USWAP_STR(USWAP_VERSION_MINOR) "." USWAP_STR(
      USWAP_VERSION_PATCH);
}

}  // namespace uswap
