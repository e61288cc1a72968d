// circuitscope's own checkpoint folder: config.json with model_type "circuitscope" holding every
// TransformerConfig field (per-layer head counts, MLP widths, key/value head maps and skipped
// sublayers, which Hugging Face configs cannot express) and model.safetensors in the canonical
// layout's names. The loader reads it like any Hugging Face folder (models/arch/native.cpp).
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>

#include "models/transformer.h"

namespace cs::models {

/// Writes config.json and model.safetensors (float32 unless the model is float64/16) into
/// `folder`, created if needed; files are written atomically. `provenance` (e.g. the source
/// model and the mask) is stored in config.json under "circuitscope_provenance" when not null.
void saveNativeCheckpoint(const Transformer& model, const std::filesystem::path& folder,
                          const nlohmann::json* provenance = nullptr);

}  // namespace cs::models
