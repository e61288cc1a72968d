// Built-in model lookup under the resources folder.
#include "models/loaders/builtin_models.h"

#include <algorithm>

#include "core/error.h"
#include "core/resources.h"

namespace cs::models {

namespace fs = std::filesystem;

namespace {
constexpr const char* kModelsFolder = "models";

std::string joinedNames() {
  std::string names;
  for (const auto& n : builtinModelNames()) names += (names.empty() ? "" : ", ") + n;
  return names.empty() ? "none are installed" : "available: " + names;
}
}  // namespace

std::vector<std::string> builtinModelNames() {
  fs::path root;
  try {
    root = resourcePath(kModelsFolder);
  } catch (const IoError&) {
    return {};
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory(ec) && fs::is_regular_file(entry.path() / "config.json", ec)) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

fs::path resolveModelFolder(const std::string& text) {
  const std::string prefix = kBuiltinPrefix;
  if (text.rfind(prefix, 0) != 0) return fs::path(text);
  const auto name = text.substr(prefix.size());
  const auto known = builtinModelNames();
  // No resources at all: resourcePath's IoError says where it looked.
  if (known.empty()) (void)resourcePath(kModelsFolder);
  if (std::find(known.begin(), known.end(), name) == known.end()) {
    throw ConfigError("there is no built-in model '" + name + "' (" + joinedNames() +
                      "); write builtin:NAME");
  }
  return resourcePath(std::string(kModelsFolder) + "/" + name);
}

}  // namespace cs::models
