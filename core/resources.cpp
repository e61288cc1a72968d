// Resource lookup: environment first, then the source tree recorded at configure time.
#include "core/resources.h"

#include <cstdlib>

#include "core/error.h"
#include "core/resource_dir.h"

namespace cs {

std::filesystem::path resourcePath(const std::string& relative) {
  std::string looked;
  if (const char* env = std::getenv(kResourcesEnv); env != nullptr && *env != '\0') {
    const auto candidate = std::filesystem::path(env) / relative;
    if (std::filesystem::exists(candidate)) return candidate;
    looked = candidate.string() + " (from " + kResourcesEnv + "), ";
  }
  const auto candidate = std::filesystem::path(kSourceResourceDir) / relative;
  if (std::filesystem::exists(candidate)) return candidate;
  throw IoError("resource " + relative + " not found (looked in " + looked + candidate.string() +
                "); set " + kResourcesEnv + " to circuitscope's resources folder");
}

}  // namespace cs
