// Built-in models by name: "builtin:induction" is the folder resources/models/induction wherever
// circuitscope finds its resources (core/resources.h). Anything that takes a model folder
// passes the user's text through resolveModelFolder first.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cs::models {

inline constexpr const char* kBuiltinPrefix = "builtin:";

/// The names of the shipped models (folders under resources/models with a config.json),
/// sorted; empty when the resources hold none.
std::vector<std::string> builtinModelNames();

/// "builtin:NAME" -> the shipped model's folder; any other text is returned as the path it
/// names. ConfigError listing the available names for an unknown NAME.
std::filesystem::path resolveModelFolder(const std::string& folderOrBuiltin);

}  // namespace cs::models
