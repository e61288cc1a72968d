// Placeholder: the analyze subcommands of this file are being written.
#include <CLI/CLI.hpp>

#include "app/cli/analyze_commands.h"

namespace cs::cli {

void addAnalyzeDivergenceCommands(CLI::App& /*analyze*/, const GlobalOptions& /*options*/) {}

}  // namespace cs::cli
