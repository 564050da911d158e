// uswap: command-line entry point; dispatches to one subcommand per file.
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "uswap/version.h"

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
    {"run", uswap::cli::RunMain, "run a program with its memory under a RAM budget and uswap swap"},
    {"sim", uswap::cli::SimMain, "replay a page trace through the reclaim policies and OPT"},
    {"stat", uswap::cli::StatMain, "print a running Space's counters every interval, like vmstat"},
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: uswap COMMAND [ARGS...]\n       uswap help COMMAND\n"
               "       uswap --version\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
  std::fprintf(out,
               "\n'uswap help COMMAND' (or 'uswap COMMAND --help') describes a command.\n"
               "Exit status: 0 on success, 1 on an error (one line on stderr names it), 2 on "
               "bad usage.\n");
}

const Command* Find(const char* name) {
  for (const Command& c : kCommands)
    if (!std::strcmp(name, c.name)) return &c;
  std::fprintf(stderr, "uswap: unknown command '%s' (try 'uswap --help')\n", name);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return 2;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-V")) {
    // The library's version: the CLI is linked with it.
    std::printf("uswap %s\n", uswap::Version());
    return 0;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      (!std::strcmp(argv[1], "help") && argc == 2)) {
    Usage(stdout);
    return 0;
  }
  if (!std::strcmp(argv[1], "help")) {  // help COMMAND: that command's --help
    if (argc != 3) {
      Usage(stderr);
      return 2;
    }
    const Command* c = Find(argv[2]);
    if (!c) return 2;
    char help[] = "--help";
    char* args[] = {argv[2], help, nullptr};
    return c->main(2, args);
  }
  const Command* c = Find(argv[1]);
  return c ? c->main(argc - 1, argv + 1) : 2;
}
