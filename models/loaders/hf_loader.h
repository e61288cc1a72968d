// Loads a Hugging Face model folder (config.json + safetensors) into a Transformer.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "core/progress.h"
#include "models/transformer.h"

namespace cs::models {

struct LoadOptions {
  c10::ScalarType dtype = c10::ScalarType::Float;
  c10::Device device = c10::Device(c10::kCPU);
};

/// Reads and checks config.json (ConfigError for unknown model types, listing the supported).
TransformerConfig readHfConfig(const std::filesystem::path& folder);

/// Loads the model. Every checkpoint tensor is checked before use: missing, unexpected or
/// wrongly shaped tensors are errors naming the tensor and the expected shape. Reports progress
/// per tensor and stops (cs::Cancelled) when asked.
std::unique_ptr<Transformer> loadHfModel(const std::filesystem::path& folder,
                                         const LoadOptions& options = {},
                                         Progress& progress = noProgress());

}  // namespace cs::models
