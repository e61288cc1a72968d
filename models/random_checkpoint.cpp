// Random Hugging Face-layout checkpoints, built from the same tensor specs the loader checks.
#include "models/random_checkpoint.h"

#include "core/torch_api.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "data/safetensors.h"
#include "models/arch/arch.h"

namespace cs::models {

namespace fs = std::filesystem;

namespace {
// Random tensors for every non-optional checkpoint tensor of the config, in spec order.
std::vector<std::pair<std::string, at::Tensor>> randomTensors(const ArchDefinition& arch,
                                                              const TransformerConfig& config,
                                                              std::uint64_t seed, double std) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& spec : arch.tensorSpecs(config)) {
    if (spec.optional) continue;
    at::Tensor t = at::empty(spec.shape, at::kFloat);
    switch (spec.init) {
      case InitKind::Matrix:
        t.normal_(0.0, std, generator);
        break;
      case InitKind::Bias:
        t.normal_(0.0, std / 2, generator);
        break;
      case InitKind::NormWeight:
        t.normal_(1.0, std / 2, generator);
        break;
    }
    tensors.emplace_back(spec.name, t);
  }
  return tensors;
}
}  // namespace

void writeRandomCheckpoint(const TransformerConfig& config, const fs::path& folder,
                           std::uint64_t seed, double std) {
  config.validate();
  const auto& arch = archForFamily(config.family);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw IoError("cannot create " + folder.string() + ": " + ec.message());
  data::writeSafetensors(folder / "model.safetensors", randomTensors(arch, config, seed, std),
                         {{"format", "pt"}});
  const auto configPath = folder / "config.json";
  std::ofstream out(configPath);
  out << arch.configJson(config).dump(2) << "\n";
  if (!out) throw IoError("cannot write " + configPath.string());
}

std::unique_ptr<Transformer> randomTransformer(const TransformerConfig& config, std::uint64_t seed,
                                               double std) {
  config.validate();
  const auto& arch = archForFamily(config.family);
  std::map<std::string, at::Tensor> byName;
  for (auto& [name, t] : randomTensors(arch, config, seed, std)) byName.emplace(name, std::move(t));
  const TensorGetter get = [&byName](const std::string& name) { return byName.at(name); };
  return std::make_unique<Transformer>(config, arch.mapWeights(config, get));
}

TransformerConfig configForShape(const ModelShape& s) {
  const auto& arch = archForFamily(s.family);
  const int dMlp = s.dMlp > 0 ? s.dMlp : 4 * s.dModel;
  nlohmann::json j;
  if (s.family == "gpt2") {
    j = {{"model_type", "gpt2"},  {"n_layer", s.nLayers}, {"n_embd", s.dModel},
         {"n_head", s.nHeads},    {"n_inner", dMlp},      {"n_positions", s.nCtx},
         {"vocab_size", s.dVocab}};
  } else if (s.family == "llama") {
    j = {{"model_type", "llama"},
         {"num_hidden_layers", s.nLayers},
         {"hidden_size", s.dModel},
         {"num_attention_heads", s.nHeads},
         {"num_key_value_heads", s.nKvHeads > 0 ? s.nKvHeads : s.nHeads},
         {"intermediate_size", dMlp},
         {"max_position_embeddings", s.nCtx},
         {"vocab_size", s.dVocab},
         {"rms_norm_eps", 1e-5}};
  } else {
    j = {{"model_type", "vit"},       {"num_hidden_layers", s.nLayers},
         {"hidden_size", s.dModel},   {"num_attention_heads", s.nHeads},
         {"intermediate_size", dMlp}, {"image_size", s.imageSize},
         {"patch_size", s.patchSize}, {"num_channels", s.nChannels},
         {"num_labels", s.nClasses}};
  }
  auto config = arch.parseConfig(j);
  config.validate();
  return config;
}

}  // namespace cs::models
