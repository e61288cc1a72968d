// Files written whole or not at all: the bytes go to "<path>.tmp", which is renamed into place
// only after every byte was written and flushed, so a crash or a full disk never leaves a
// half-written checkpoint, mask or config behind.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace cs::data {

/// Calls `write` on a binary stream to the temporary file, then renames it to `path`. IoError
/// (the temporary file removed) when creating, writing or renaming fails.
void writeFileAtomically(const std::filesystem::path& path,
                         const std::function<void(std::ostream&)>& write);

void writeTextFileAtomically(const std::filesystem::path& path, const std::string& text);

}  // namespace cs::data
