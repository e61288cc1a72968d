// Named fault points for crash-safety tests. A run started with
// CIRCUITSCOPE_FAULT=<point>:<n> kills its own process with SIGKILL the n-th time it passes
// <point>, exactly as a power cut or `kill -9` would; <point>:<n>:stop sends SIGSTOP instead,
// so a test can look at a file mid-run and then let the process continue; <point>:<n>:throw
// throws an IoError there, as a failing disk or library would. <point>:skip switches off the
// safety check of that name (faultSkips), so a test can reach the failure it guards against.
// Unset (always, outside tests) a fault point costs one comparison.
#pragma once

#include <string_view>

namespace cs {

/// Passes the named point; see the header comment for when this does not return.
void faultPoint(std::string_view name);

/// True when CIRCUITSCOPE_FAULT is "<name>:skip".
bool faultSkips(std::string_view name);

}  // namespace cs
