// TransformerConfig consistency checks.
#include "models/transformer_config.h"

#include "core/error.h"

namespace cs::models {

void TransformerConfig::setUniform(int heads, int kvHeads, int mlpWidth) {
  nHeads.assign(nLayers, heads);
  nKvHeads.assign(nLayers, kvHeads);
  dMlp.assign(nLayers, mlpWidth);
}

int TransformerConfig::kvHeadOf(int layer, int head) const {
  if (!kvHeadOfQuery.empty() && !kvHeadOfQuery[layer].empty()) return kvHeadOfQuery[layer][head];
  return head / (nHeads[layer] / nKvHeads[layer]);
}

void TransformerConfig::validate() const {
  auto fail = [&](const std::string& what) {
    throw ConfigError("model configuration (" + family + "): " + what);
  };
  if (nLayers < 0 || dModel <= 0 || dHead <= 0)
    fail("n_layers, d_model and d_head must be positive");
  if (static_cast<int>(nHeads.size()) != nLayers || static_cast<int>(nKvHeads.size()) != nLayers ||
      static_cast<int>(dMlp.size()) != nLayers) {
    fail("per-layer head counts and MLP widths must have one entry per layer");
  }
  if (!kvHeadOfQuery.empty() && static_cast<int>(kvHeadOfQuery.size()) != nLayers)
    fail("kv_head_of_query must have one entry per layer");
  for (int l = 0; l < nLayers; ++l) {
    if (nHeads[l] < 0 || nKvHeads[l] < 0 || dMlp[l] < 0)
      fail("negative size in layer " + std::to_string(l));
    const bool mapped = !kvHeadOfQuery.empty() && !kvHeadOfQuery[l].empty();
    if (mapped) {
      const auto& map = kvHeadOfQuery[l];
      if (static_cast<int>(map.size()) != nHeads[l])
        fail("layer " + std::to_string(l) + ": kv_head_of_query needs one entry per query head");
      for (int kv : map) {
        if (kv < 0 || kv >= nKvHeads[l])
          fail("layer " + std::to_string(l) + ": kv_head_of_query names key/value head " +
               std::to_string(kv) + " of " + std::to_string(nKvHeads[l]));
      }
    } else if (nKvHeads[l] > 0 ? nHeads[l] % nKvHeads[l] != 0 : nHeads[l] != 0) {
      fail("layer " + std::to_string(l) + ": " + std::to_string(nHeads[l]) +
           " query heads cannot be shared evenly by " + std::to_string(nKvHeads[l]) +
           " key/value heads");
    }
  }
  if ((!attnSkipped.empty() && static_cast<int>(attnSkipped.size()) != nLayers) ||
      (!mlpSkipped.empty() && static_cast<int>(mlpSkipped.size()) != nLayers)) {
    fail("skipped-sublayer flags must have one entry per layer");
  }
  if (positions == PositionKind::Rotary && dHead % 2 != 0)
    fail("rotary positions need an even head width");
  if (head == HeadKind::LanguageModel && dVocab <= 0) fail("vocabulary size must be positive");
  if (head == HeadKind::Classifier && nClasses <= 0) fail("number of classes must be positive");
  if (input == InputKind::Patches) {
    if (patchSize <= 0 || imageSize <= 0 || nChannels <= 0 || imageSize % patchSize != 0) {
      fail("image size must be a positive multiple of the patch size");
    }
  }
  if (positions == PositionKind::Learned && nCtx <= 0) fail("learned positions need n_ctx > 0");
  if (!classToken && input != InputKind::Patches)
    fail("only image models can do without a class token");
}

std::string activationName(Activation activation) {
  switch (activation) {
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_tanh";
    case Activation::Relu:
      return "relu";
    case Activation::Silu:
      return "silu";
  }
  return "?";
}

}  // namespace cs::models
