// Runs the built circuitscope-cli from tests: stdout and stderr kept apart, the exit code, and
// optional environment settings (e.g. CIRCUITSCOPE_FAULT for crash tests).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cs::test {

struct CliResult {
  int exitCode = -1;  // 128 + signal when the process was killed
  std::string out;
  std::string err;
};

/// Runs the CLI with `--threads 1` (a global option, so before the subcommand) and `args`.
/// `shellPrefix` runs in the same shell first and applies to the CLI, e.g. "ulimit -f 4096;"
/// for a file-size limit.
CliResult runCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 const std::string& shellPrefix = "");

/// The fixture model folder tests/data/hf/<name> as a command-line argument.
std::string fixtureModelDir(const std::string& name);

/// stdout of a successful run parsed as JSON; a failed run or non-JSON output fails the test
/// (and gives an empty object).
nlohmann::json stdoutJson(const CliResult& result);

/// `arg` quoted for /bin/sh.
std::string shellQuote(const std::string& arg);

}  // namespace cs::test
