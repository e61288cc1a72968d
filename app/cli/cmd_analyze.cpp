// `analyze`: the group of analysis subcommands (app/cli/analyze_commands.h).
#include <CLI/CLI.hpp>

#include "app/cli/analyze_commands.h"
#include "app/cli/commands.h"
#include "core/error.h"

namespace cs::cli {

void addAnalyzeCommand(CLI::App& app, const GlobalOptions& options) {
  auto* analyze = app.add_subcommand(
      "analyze", "interpretability analyses (docs/analyses.md); `analyze NAME --help` for one");
  analyze->require_subcommand(0, 1);
  addAnalyzeSimilarityCommands(*analyze, options);
  addAnalyzeDecompositionCommands(*analyze, options);
  addAnalyzePatchingCommands(*analyze, options);
  addAnalyzeDivergenceCommands(*analyze, options);
  addAnalyzeMemoryHeadsCommands(*analyze, options);
  addAnalyzeIntegratedGradientsCommands(*analyze, options);
  addAnalyzeNeuronPathCommands(*analyze, options);
  addAnalyzeRelevanceCommands(*analyze, options);
  addAnalyzeRelevancePruningCommands(*analyze, options);
  addAnalyzeLibCommands(*analyze, options);
  analyze->callback([analyze] {
    if (!analyze->get_subcommands().empty()) return;
    std::string names;
    for (const auto* sub : analyze->get_subcommands([](const CLI::App*) { return true; })) {
      names += "\n  " + sub->get_name() + "  " + sub->get_description();
    }
    throw ConfigError("choose an analysis (analyze NAME --help for its options):" + names);
  });
}

}  // namespace cs::cli
