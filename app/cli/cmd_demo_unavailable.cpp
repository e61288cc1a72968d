// `demo` in a build without the viewers library (e.g. the CUDA preset, which has no Qt): the
// command exists and says what it needs, so scripts get a clear error rather than "unknown".
#include <CLI/CLI.hpp>

#include "app/cli/commands.h"
#include "core/error.h"

namespace cs::cli {

void addDemoCommand(CLI::App& app, const GlobalOptions&) {
  auto* cmd = app.add_subcommand("demo", "offline demo (needs a build with the Qt viewers)");
  cmd->allow_extras();
  cmd->callback([] {
    throw ConfigError(
        "this circuitscope-cli was built without the viewers library (Qt), which draws the "
        "demo's figures; configure with -DCS_BUILD_VIEWERS=ON");
  });
}

}  // namespace cs::cli
