// `analyze`: the group of analysis subcommands (app/cli/analyze_commands.h).
#include <CLI/CLI.hpp>

#include "app/cli/analyze_commands.h"
#include "app/cli/commands.h"

namespace cs::cli {

void addAnalyzeCommand(CLI::App& app, const GlobalOptions& options) {
  auto* analyze = app.add_subcommand(
      "analyze", "interpretability analyses (docs/analyses.md); `analyze NAME --help` for one");
  analyze->require_subcommand(1);
  addAnalyzeSimilarityCommands(*analyze, options);
  addAnalyzeDecompositionCommands(*analyze, options);
  addAnalyzePatchingCommands(*analyze, options);
  addAnalyzeDivergenceCommands(*analyze, options);
  addAnalyzeMemoryHeadsCommands(*analyze, options);
  addAnalyzeIntegratedGradientsCommands(*analyze, options);
}

}  // namespace cs::cli
