// Where the shipped resources (small weights and datasets) are found at run time.
#pragma once

#include <filesystem>
#include <string>

namespace cs {

/// Environment variable naming the resources folder; overrides the built-in locations.
inline constexpr const char* kResourcesEnv = "CIRCUITSCOPE_RESOURCES";

/// The path of a shipped resource, e.g. resourcePath("digits/digits.safetensors"): under
/// $CIRCUITSCOPE_RESOURCES, else an installed copy (PREFIX/share/circuitscope/resources beside
/// PREFIX/bin, or resources/ next to the executable), else the source tree's resources/ this
/// build came from. IoError saying where it looked when the file is in none of them.
std::filesystem::path resourcePath(const std::string& relative);

}  // namespace cs
