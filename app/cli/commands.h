// Subcommand registration: each adds itself to the app and runs when chosen.
#pragma once

#include "app/cli/cli_common.h"

namespace cs::cli {

void addAnalyzeCommand(CLI::App& app, const GlobalOptions& options);
void addDemoCommand(CLI::App& app, const GlobalOptions& options);
void addInfoCommand(CLI::App& app, const GlobalOptions& options);
void addRunCommand(CLI::App& app, const GlobalOptions& options);
void addMakeRandomCommand(CLI::App& app, const GlobalOptions& options);
void addEvalCommand(CLI::App& app, const GlobalOptions& options);
void addTokenizeCommand(CLI::App& app, const GlobalOptions& options);
void addRecordCommand(CLI::App& app, const GlobalOptions& options);
void addInspectCommand(CLI::App& app, const GlobalOptions& options);
void addMaskCommand(CLI::App& app, const GlobalOptions& options);
void addPatchCommand(CLI::App& app, const GlobalOptions& options);
void addPruneCommand(CLI::App& app, const GlobalOptions& options);
void addBenchLatencyCommand(CLI::App& app, const GlobalOptions& options);
void addTrainCommand(CLI::App& app, const GlobalOptions& options);

}  // namespace cs::cli
