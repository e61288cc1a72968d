// config.json: readHfConfig on a folder holding the fuzz input, as loading a Hugging Face (or
// native) model folder does, then what the loader and the mask code do next with an accepted
// config: the family's tensor list, the model fingerprint, per-layer lookups.
#include <nlohmann/json.hpp>

#include "data/store/store_layout.h"
#include "fuzz_support.h"
#include "models/arch/arch.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto dir = cs::fuzz::scratchDir();
  const auto text = cs::fuzz::asText(data, size);
  cs::fuzz::writeFile(dir / "config.json", text);
  return cs::fuzz::runOne([&] {
    const auto config = cs::models::readHfConfig(dir);
    // Accepted, so it is a JSON object naming a supported model_type.
    const auto json = nlohmann::json::parse(text);
    const auto& arch = cs::models::archForModelType(json.at("model_type").get<std::string>());
    const auto specs = arch.tensorSpecs(config);
    if (specs.empty()) cs::fuzz::fail("an accepted config has no tensors");
    for (const auto& spec : specs) {
      for (const auto d : spec.shape) {
        // Zero is legal: a compacted layer may have lost every head.
        if (d < 0) cs::fuzz::fail("tensor '" + spec.name + "' has a negative size");
      }
    }
    cs::data::ModelIdentity identity;
    identity.configJson = std::string(text);
    const auto fingerprint = cs::models::fingerprintOf(config, identity);
    if (fingerprint.nLayers != config.nLayers || fingerprint.configSha256.size() != 64)
      cs::fuzz::fail("fingerprint does not describe the config");
    // A few layers and heads: enough to touch every per-layer table without a 4096^2 loop.
    for (int layer = 0; layer < std::min(config.nLayers, 4); ++layer) {
      for (int head = 0; head < std::min(config.nHeads.at(layer), 4); ++head) {
        const int kv = config.kvHeadOf(layer, head);
        if (kv < 0 || kv >= config.nKvHeads.at(layer))
          cs::fuzz::fail("query head " + std::to_string(head) + " of layer " +
                         std::to_string(layer) + " reads key/value head " + std::to_string(kv));
      }
    }
    (void)config.nImageTokens();
    (void)config.dOutput();
  });
}
