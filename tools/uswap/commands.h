// The uswap CLI's subcommands: one file per subcommand, each exporting one
// entry point `int <Name>Main(int argc, char** argv)` (argv[0] is the
// subcommand name). Each returns the process exit code: 0 on success,
// 1 on an error (one line on stderr naming the problem), 2 on bad usage.
#pragma once

namespace uswap::cli {

int MkswapMain(int argc, char** argv);   // mkswap.cc
int InspectMain(int argc, char** argv);  // inspect.cc
int LabelMain(int argc, char** argv);    // label.cc
int BenchMain(int argc, char** argv);    // bench.cc
int DemoMain(int argc, char** argv);     // demo.cc
int StatMain(int argc, char** argv);     // stat.cc
int SimMain(int argc, char** argv);      // sim.cc
int RunMain(int argc, char** argv);      // run.cc

}  // namespace uswap::cli
