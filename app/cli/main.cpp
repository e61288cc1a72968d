// circuitscope-cli: the headless entry point. Errors print one line on stderr and exit 1;
// nothing reaches the user as a crash or a stack trace.
#include "core/torch_api.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli/commands.h"
#include "core/error.h"
#include "core/error_message.h"
#include "core/threads.h"

int main(int argc, char** argv) {
  CLI::App app{"circuitscope: look inside neural networks, prune and patch them"};
  app.require_subcommand(1);
  cs::cli::GlobalOptions options;
  app.add_option("--threads", options.threads,
                 "compute threads (default: $CIRCUITSCOPE_THREADS, else the number of cores)")
      ->check(CLI::PositiveNumber);
  app.add_option("--device", options.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--dtype", options.dtype, "float32, float64, float16 or bfloat16")
      ->capture_default_str();
  app.add_flag("-q,--quiet", options.quiet, "no progress output");
  app.add_flag("--check-numerics", options.checkNumerics,
               "run and eval: stop at the first hook point that produces NaN or Inf, naming it");
  cs::cli::addAnalyzeCommand(app, options);
  cs::cli::addDemoCommand(app, options);
  cs::cli::addInfoCommand(app, options);
  cs::cli::addRunCommand(app, options);
  cs::cli::addMakeRandomCommand(app, options);
  cs::cli::addEvalCommand(app, options);
  cs::cli::addTokenizeCommand(app, options);
  cs::cli::addRecordCommand(app, options);
  cs::cli::addInspectCommand(app, options);
  cs::cli::addMaskCommand(app, options);
  cs::cli::addPatchCommand(app, options);
  cs::cli::addPruneCommand(app, options);
  cs::cli::addBenchLatencyCommand(app, options);
  cs::cli::addTrainCommand(app, options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "circuitscope-cli: error: " << e.what() << " (run with --help)\n";
    return 1;
  } catch (const cs::Cancelled&) {
    return 130;  // the command has said what was kept
  } catch (...) {
    // Our errors, libtorch's and failed allocations are the user's to act on (exit 1); anything
    // else is a bug of ours (exit 2).
    const auto d = cs::describeException(std::current_exception());
    const bool bug = d.kind == cs::ExceptionDescription::Kind::Unexpected;
    std::cerr << "circuitscope-cli: " << (bug ? "internal error: " : "error: ") << d.message
              << "\n";
    return bug ? 2 : 1;
  }
  return 0;
}
