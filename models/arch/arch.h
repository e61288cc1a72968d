// What the loader needs to know about one Hugging Face architecture family: how to read its
// config.json, which tensors its checkpoint holds, and how they map to the canonical layout.
// One file per family (gpt2.cpp, llama.cpp, vit.cpp, native.cpp); arch_registry.cpp dispatches.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/transformer_config.h"
#include "models/transformer_weights.h"

namespace cs::models {

enum class InitKind { Matrix, Bias, NormWeight };

/// One tensor of a Hugging Face checkpoint: its name there and its shape.
struct HfTensorSpec {
  std::string name;
  std::vector<std::int64_t> shape;
  InitKind init = InitKind::Matrix;
  bool optional = false;  ///< may be absent (a tied lm_head.weight)
};

/// Returns the named checkpoint tensor as an owned, contiguous tensor in the load dtype.
/// Its shape has already been checked against the spec.
using TensorGetter = std::function<at::Tensor(const std::string& name)>;

struct ArchDefinition {
  std::string family;                   ///< "gpt2", "llama", "vit"
  std::vector<std::string> modelTypes;  ///< config.json model_type values it reads
  std::function<TransformerConfig(const nlohmann::json&)> parseConfig;
  std::function<std::vector<HfTensorSpec>(const TransformerConfig&)> tensorSpecs;
  std::function<TransformerWeights(const TransformerConfig&, const TensorGetter&)> mapWeights;
  /// The config.json a checkpoint of this config carries (used by make-random).
  std::function<nlohmann::json(const TransformerConfig&)> configJson;
  /// Maps a stored name to the spec's spelling (e.g. GPT-2 files without "transformer.").
  std::function<std::string(const std::string&)> normalizeName;
  /// Stored tensors that are not weights (buffers, unused poolers); skipped, not errors.
  std::function<bool(const std::string&)> ignorable;
};

const ArchDefinition& gpt2Arch();
const ArchDefinition& llamaArch();
const ArchDefinition& vitArch();
/// circuitscope's own format (model_type "circuitscope"), e.g. compacted models; see
/// models/native_checkpoint.h.
const ArchDefinition& nativeArch();

/// The definition that reads this model_type; ConfigError listing the supported ones if none.
const ArchDefinition& archForModelType(const std::string& modelType);
/// The definition for a family name ("gpt2", "llama", "vit").
const ArchDefinition& archForFamily(const std::string& family);
/// "gpt2, llama, mistral, qwen2, vit"
std::string supportedModelTypes();

}  // namespace cs::models
