// CLI runner for end-to-end tests.
#include "support/cli_runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "support/test_support.h"

namespace cs::test {

std::string fixtureModelDir(const std::string& name) { return dataPath("hf/" + name).string(); }

nlohmann::json stdoutJson(const CliResult& result) {
  EXPECT_EQ(result.exitCode, 0) << result.err;
  try {
    return nlohmann::json::parse(result.out);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << result.out;
    return nlohmann::json::object();
  }
}

// Single quotes survive everything /bin/sh would otherwise expand (globs in --hooks, ';' in
// --ids); an embedded quote is closed, escaped and reopened.
std::string shellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

CliResult runCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, const std::string& shellPrefix) {
  TempDir scratch;
  const auto errPath = scratch / "stderr.txt";
  std::string command = shellPrefix;
  for (const auto& [name, value] : env) {
    command += name;
    command += '=';
    command += shellQuote(value);
    command += ' ';
  }
  // `exec` so that a signal ends the CLI itself and the shell does not report it differently.
  command += "exec " + shellQuote(kCliPath) + " --threads 1";
  // Appended piece by piece: GCC 12 warns (falsely) about `" " + std::string&&`.
  for (const auto& a : args) {
    command += ' ';
    command += shellQuote(a);
  }
  command += " 2>";
  command += shellQuote(errPath.string());

  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed for: " << command;
    return result;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) {
    result.exitCode = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exitCode = 128 + WTERMSIG(status);
  }
  std::ifstream in(errPath, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  result.err = s.str();
  return result;
}

}  // namespace cs::test
