// Random checkpoints in the Hugging Face layout, for benchmarks and tests that need a model of
// a given shape: the same folder format the loader reads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "models/transformer.h"
#include "models/transformer_config.h"

namespace cs::models {

/// Writes config.json and model.safetensors (float32) for `config` into `folder` (created if
/// needed). config.family picks the layout ("gpt2", "llama", "vit"). Matrices ~ N(0, std),
/// biases ~ N(0, std/2), norm weights 1 + N(0, std/2): deterministic for a seed.
void writeRandomCheckpoint(const TransformerConfig& config, const std::filesystem::path& folder,
                           std::uint64_t seed = 0, double std = 0.02);

/// The same random weights as writeRandomCheckpoint, built in memory (no files).
std::unique_ptr<Transformer> randomTransformer(const TransformerConfig& config,
                                               std::uint64_t seed = 0, double std = 0.02);

/// Sizes of a model to generate; zero means "the family's usual value".
struct ModelShape {
  std::string family = "gpt2";  ///< "gpt2", "llama" or "vit"
  int nLayers = 2;
  int dModel = 64;
  int nHeads = 4;
  int nKvHeads = 0;   ///< llama only; 0: same as nHeads
  int dMlp = 0;       ///< 0: 4 x dModel
  int dVocab = 128;   ///< language models
  int nClasses = 10;  ///< vit
  int nCtx = 64;      ///< language models: positions
  int imageSize = 32;
  int patchSize = 8;
  int nChannels = 3;
};

/// The configuration a checkpoint of this shape has, read through the family's own config
/// parser so it is exactly what loading the written folder gives.
TransformerConfig configForShape(const ModelShape& shape);

}  // namespace cs::models
