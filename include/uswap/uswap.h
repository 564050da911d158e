// uswap: the Linux swap subsystem in user space. Include this header.
#pragma once

#include "uswap/options.h"
#include "uswap/space.h"
#include "uswap/stats.h"
#include "uswap/status.h"
#include "uswap/swap_area.h"
#include "uswap/version.h"
