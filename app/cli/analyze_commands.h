// `circuitscope-cli analyze NAME MODEL_DIR ... [--save FILE.h5] [--run RUN] [--json]`: one
// sub-subcommand per analysis of docs/analyses.md, each in its own analyze_*.cpp. Every one
// prints a readable table (or one JSON object with --json) and, with --save, writes
// /results/<analysis>/<run> with its options as JSON (data/store/results_writer.h).
#pragma once

#include "app/cli/cli_common.h"

namespace cs::cli {

void addAnalyzeSimilarityCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeDecompositionCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzePatchingCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeDivergenceCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeMemoryHeadsCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeIntegratedGradientsCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeNeuronPathCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeRelevanceCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeRelevancePruningCommands(CLI::App& analyze, const GlobalOptions& options);
void addAnalyzeLibCommands(CLI::App& analyze, const GlobalOptions& options);

}  // namespace cs::cli
