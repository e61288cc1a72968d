// SHA-256 digests of files and texts, for recording exactly which weights produced a result.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/progress.h"

namespace cs {

/// Lower-case hex SHA-256 of the files' bytes concatenated in the given order. IoError naming a
/// file that cannot be read; Cancelled through `progress`.
std::string sha256OfFiles(const std::vector<std::filesystem::path>& files, Progress& progress);

/// Lower-case hex SHA-256 of `bytes` (e.g. a canonical JSON text).
std::string sha256OfBytes(std::string_view bytes);

}  // namespace cs
