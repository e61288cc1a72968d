// Mask files: readMaskFile on the fuzz input, then the check against a small GPT-2 shaped model
// (2 layers, 4 heads, 256 MLP neurons, no digests) that loadMaskFile does. A document that
// parses must also survive the way back: saved by saveMaskFile and read again, it must give
// the same masks, model fingerprint and description.
#include <nlohmann/json.hpp>

#include "data/store/store_layout.h"
#include "fuzz_support.h"
#include "models/mask_file.h"
#include "models/random_checkpoint.h"

namespace {

struct Model {
  cs::models::TransformerConfig config;
  cs::models::ModelFingerprint fingerprint;
};

const Model& model() {
  static const Model m = [] {
    cs::models::ModelShape shape;  // gpt2, 2 layers, d_model 64, 4 heads, d_mlp 256
    Model out;
    out.config = cs::models::configForShape(shape);
    out.fingerprint = cs::models::fingerprintOf(out.config, cs::data::ModelIdentity{});
    return out;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& m = model();
  const auto dir = cs::fuzz::scratchDir();
  cs::fuzz::writeFile(dir / "mask.json", cs::fuzz::asText(data, size));
  return cs::fuzz::runOne([&] {
    const auto document = cs::models::readMaskFile(dir / "mask.json");
    for (const auto& entry : document.masks.entries()) {
      (void)cs::models::maskHookName(entry);
      (void)cs::models::hfModulePath(document.model.family, entry);
    }
    try {
      cs::models::saveMaskFile(dir / "again.json", document.masks, document.model,
                               document.description);
      const auto again = cs::models::readMaskFile(dir / "again.json");
      if (!(again.masks == document.masks) || !(again.model == document.model) ||
          again.description != document.description)
        cs::fuzz::fail("a mask read, saved and read again is not the same mask");
    } catch (const cs::Error& e) {
      cs::fuzz::fail(std::string("a mask that was read cannot be saved and read back: ") +
                     e.what());
    }
    cs::models::checkMaskFitsModel(document, m.fingerprint, m.config, "mask.json");
  });
}
