// Which checkpoint a result came from: family, config.json text and a digest of the weights,
// stored with recordings so that a store is only ever continued by the model that began it.
#pragma once

#include <filesystem>

#include "core/progress.h"
#include "data/store/store_layout.h"

namespace cs::models {

/// Identity of a Hugging Face model folder. weightsSha256 is the SHA-256 of its .safetensors
/// files' bytes concatenated in file-name order (for one model.safetensors: what sha256sum
/// prints). Reads every weight byte once; reports progress and can be cancelled.
data::ModelIdentity identifyModelFolder(const std::filesystem::path& folder,
                                        Progress& progress = noProgress());

}  // namespace cs::models
