// Resource lookup: environment first, then an installed copy beside the executable, then the
// source tree recorded at configure time.
#include "core/resources.h"

#include <cstdlib>
#include <system_error>
#include <vector>

#include "core/error.h"
#include "core/resource_dir.h"

namespace cs {

namespace {
namespace fs = std::filesystem;

// Where an installed circuitscope keeps its resources, relative to the running executable:
// PREFIX/bin/circuitscope-cli -> PREFIX/share/circuitscope/resources (the install rule in
// app/cli/CMakeLists.txt), or a resources folder next to it (an unpacked archive).
std::vector<fs::path> installedResourceDirs() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return {};
  const auto bin = exe.parent_path();
  return {bin.parent_path() / "share" / "circuitscope" / "resources", bin / "resources"};
}
}  // namespace

fs::path resourcePath(const std::string& relative) {
  std::string looked;
  if (const char* env = std::getenv(kResourcesEnv); env != nullptr && *env != '\0') {
    const auto candidate = fs::path(env) / relative;
    if (fs::exists(candidate)) return candidate;
    looked = candidate.string() + " (from " + kResourcesEnv + "), ";
  }
  for (const auto& dir : installedResourceDirs()) {
    const auto candidate = dir / relative;
    if (fs::exists(candidate)) return candidate;
    looked += candidate.string() + ", ";
  }
  const auto candidate = fs::path(kSourceResourceDir) / relative;
  if (fs::exists(candidate)) return candidate;
  throw IoError("resource " + relative + " not found (looked in " + looked + candidate.string() +
                "); set " + kResourcesEnv + " to circuitscope's resources folder");
}

}  // namespace cs
