// uswap: command-line entry point; dispatches to one subcommand per file.
#include <cstdio>
#include <cstring>

#include "commands.h"

namespace {

struct Command {
  const char* name;
  int (*main)(int, char**);
  const char* help;
};

const Command kCommands[] = {
    // COMMANDS-TABLE (one line per subcommand; keep sorted by name)
    {"bench", uswap::cli::BenchMain, "compare uswap, kernel swap and RAM on one workload"},
    {"demo", uswap::cli::DemoMain, "run a region larger than its RAM budget and show the counters"},
    {"inspect", uswap::cli::InspectMain, "show a swap area's header and whether it is valid"},
    {"label", uswap::cli::LabelMain, "show or change a swap area's label and UUID"},
    {"mkswap", uswap::cli::MkswapMain, "set up a swap area on a file or block device"},
};

void Usage(FILE* out) {
  std::fprintf(out, "usage: uswap COMMAND [ARGS...]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
  std::fprintf(out, "\n'uswap COMMAND --help' describes a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    Usage(stdout);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (!std::strcmp(argv[1], c.name)) return c.main(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "uswap: unknown command '%s' (try 'uswap --help')\n", argv[1]);
  return 2;
}
