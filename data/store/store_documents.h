// Named text documents (JSON masks, notes) kept inside an existing HDF5 file, usually an
// activation store: /<group>/<name> is a scalar variable-length UTF-8 string dataset. A store that
// a circuitscope process is recording is never opened for writing (the recorder's file lock).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace cs::data {

/// Largest document readStoreDocument accepts; a bigger one is a FormatError.
inline constexpr std::size_t kMaxStoreDocumentBytes = std::size_t{64} << 20;

/// Writes `text` as /<group>/<name> of the HDF5 file at `storePath`, which must exist; the group
/// is created when missing. Group and name are one path component each of letters, digits,
/// '.', '_' and '-' (ConfigError otherwise). An existing document of that name is replaced when
/// `replace` is true, else ConfigError. IoError when the file is being recorded (or otherwise
/// held for writing) by a circuitscope process, or HDF5 cannot open it for writing; FormatError
/// when it is not HDF5. The file is flushed before returning.
void writeStoreDocument(const std::filesystem::path& storePath, const std::string& group,
                        const std::string& name, const std::string& text, bool replace = false);

/// The text of /<group>/<name>. Works on a store that is still being recorded. ConfigError
/// naming the documents there when it is absent; FormatError when the object is not a single
/// string or is larger than kMaxStoreDocumentBytes.
std::string readStoreDocument(const std::filesystem::path& storePath, const std::string& group,
                              const std::string& name);

/// Names of the documents in /<group>, sorted; empty when the group does not exist.
std::vector<std::string> listStoreDocuments(const std::filesystem::path& storePath,
                                            const std::string& group);

}  // namespace cs::data
