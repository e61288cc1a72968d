// ViT (ViTForImageClassification): patch projection, class token, learned positions, pre-LN
// blocks, classifier on the final-normed class token. nn.Linear weights are [out, in].
#include "core/torch_api.h"

#include "core/error.h"
#include "models/arch/arch.h"
#include "models/arch/config_json.h"

namespace cs::models {

namespace {

TransformerConfig parseConfig(const nlohmann::json& j) {
  TransformerConfig c;
  c.family = "vit";
  c.modelType = "vit";
  c.nLayers = requirePositive(j, "num_hidden_layers", 4096);
  c.dModel = requirePositive(j, "hidden_size");
  const int heads = requirePositive(j, "num_attention_heads", 4096);
  if (c.dModel % heads != 0) {
    throw ConfigError("config.json: hidden_size is not divisible by num_attention_heads");
  }
  c.dHead = c.dModel / heads;
  c.setUniform(heads, heads, requirePositive(j, "intermediate_size"));
  c.imageSize = requirePositive(j, "image_size", 1 << 14);
  c.patchSize = requirePositive(j, "patch_size", 1 << 14);
  c.nChannels = optionalPositive(j, "num_channels", 3, 64);
  if (c.imageSize % c.patchSize != 0) {
    throw ConfigError("config.json: image_size " + std::to_string(c.imageSize) +
                      " is not a multiple of patch_size " + std::to_string(c.patchSize));
  }
  c.nCtx = c.nPatches() + 1;
  c.input = InputKind::Patches;
  c.head = HeadKind::Classifier;
  c.causal = false;
  c.norm = NormKind::LayerNorm;
  c.normEps = optionalNumber(j, "layer_norm_eps", 1e-12);
  c.positions = PositionKind::Learned;
  const auto act = optionalString(j, "hidden_act", "gelu");
  if (act == "gelu")
    c.activation = Activation::Gelu;
  else if (act == "gelu_new" || act == "gelu_pytorch_tanh")
    c.activation = Activation::GeluTanh;
  else if (act == "relu")
    c.activation = Activation::Relu;
  else
    throw ConfigError("config.json: hidden_act \"" + act +
                      "\" is not supported for vit (gelu, gelu_new, relu)");
  c.qkvBias = optionalBool(j, "qkv_bias", true);
  c.attnOutBias = c.mlpBias = c.unembedBias = true;
  // Classes: id2label when present, else num_labels, else HF's default of 2.
  const auto labels = j.find("id2label");
  if (labels != j.end() && labels->is_object() && !labels->empty()) {
    c.nClasses = static_cast<int>(labels->size());
    c.classLabels.assign(c.nClasses, "");
    for (const auto& [key, value] : labels->items()) {
      std::size_t used = 0;
      int index = -1;
      try {
        index = std::stoi(key, &used);
      } catch (const std::exception&) {
      }
      if (used != key.size() || index < 0 || index >= c.nClasses || !value.is_string()) {
        throw ConfigError("config.json: id2label must map 0.." + std::to_string(c.nClasses - 1) +
                          " to names; bad entry \"" + key + "\"");
      }
      c.classLabels[index] = value.get<std::string>();
    }
  } else {
    c.nClasses = optionalPositive(j, "num_labels", 2);
  }
  return c;
}

std::string layerPrefix(int l) { return "vit.encoder.layer." + std::to_string(l) + "."; }

std::vector<HfTensorSpec> tensorSpecs(const TransformerConfig& c) {
  const int64_t D = c.dModel;
  std::vector<HfTensorSpec> s{
      {"vit.embeddings.cls_token", {1, 1, D}},
      {"vit.embeddings.position_embeddings", {1, c.nPatches() + 1, D}},
      {"vit.embeddings.patch_embeddings.projection.weight",
       {D, c.nChannels, c.patchSize, c.patchSize}},
      {"vit.embeddings.patch_embeddings.projection.bias", {D}, InitKind::Bias},
  };
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    const int64_t HE = static_cast<int64_t>(c.nHeads[l]) * c.dHead, F = c.dMlp[l];
    s.push_back({p + "layernorm_before.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "layernorm_before.bias", {D}, InitKind::Bias});
    for (const char* n : {"query", "key", "value"}) {
      s.push_back({p + "attention.attention." + n + ".weight", {HE, D}});
      if (c.qkvBias) s.push_back({p + "attention.attention." + n + ".bias", {HE}, InitKind::Bias});
    }
    s.push_back({p + "attention.output.dense.weight", {D, HE}});
    s.push_back({p + "attention.output.dense.bias", {D}, InitKind::Bias});
    s.push_back({p + "layernorm_after.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "layernorm_after.bias", {D}, InitKind::Bias});
    s.push_back({p + "intermediate.dense.weight", {F, D}});
    s.push_back({p + "intermediate.dense.bias", {F}, InitKind::Bias});
    s.push_back({p + "output.dense.weight", {D, F}});
    s.push_back({p + "output.dense.bias", {D}, InitKind::Bias});
  }
  s.push_back({"vit.layernorm.weight", {D}, InitKind::NormWeight});
  s.push_back({"vit.layernorm.bias", {D}, InitKind::Bias});
  s.push_back({"classifier.weight", {c.nClasses, D}});
  s.push_back({"classifier.bias", {c.nClasses}, InitKind::Bias});
  return s;
}

TransformerWeights mapWeights(const TransformerConfig& c, const TensorGetter& get) {
  TransformerWeights w;
  w.classToken = get("vit.embeddings.cls_token").view({c.dModel});
  w.W_pos = get("vit.embeddings.position_embeddings").view({c.nPatches() + 1, c.dModel});
  w.W_patch = get("vit.embeddings.patch_embeddings.projection.weight");
  w.b_patch = get("vit.embeddings.patch_embeddings.projection.bias");
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    const auto a = p + "attention.attention.";
    BlockWeights b;
    b.ln1 = {get(p + "layernorm_before.weight"), get(p + "layernorm_before.bias")};
    b.attn.nHeads = b.attn.nKvHeads = c.nHeads[l];
    b.attn.dHead = c.dHead;
    b.attn.W_QKV = at::cat({get(a + "query.weight").t(), get(a + "key.weight").t(),
                            get(a + "value.weight").t()},
                           1)
                       .contiguous();
    if (c.qkvBias)
      b.attn.b_QKV = at::cat({get(a + "query.bias"), get(a + "key.bias"), get(a + "value.bias")});
    b.attn.W_O = get(p + "attention.output.dense.weight")
                     .t()
                     .contiguous()
                     .view({c.nHeads[l], c.dHead, c.dModel});
    b.attn.b_O = get(p + "attention.output.dense.bias");
    b.ln2 = {get(p + "layernorm_after.weight"), get(p + "layernorm_after.bias")};
    b.mlp.W_in = get(p + "intermediate.dense.weight").t().contiguous();
    b.mlp.b_in = get(p + "intermediate.dense.bias");
    b.mlp.W_out = get(p + "output.dense.weight").t().contiguous();
    b.mlp.b_out = get(p + "output.dense.bias");
    w.blocks.push_back(std::move(b));
  }
  w.lnFinal = {get("vit.layernorm.weight"), get("vit.layernorm.bias")};
  w.W_U = get("classifier.weight").t();
  w.b_U = get("classifier.bias");
  return w;
}

nlohmann::json configJson(const TransformerConfig& c) {
  nlohmann::json labels = nlohmann::json::object();
  for (int i = 0; i < c.nClasses; ++i) {
    labels[std::to_string(i)] =
        i < static_cast<int>(c.classLabels.size()) && !c.classLabels[i].empty()
            ? c.classLabels[i]
            : "LABEL_" + std::to_string(i);
  }
  return {{"model_type", "vit"},
          {"architectures", {"ViTForImageClassification"}},
          {"num_hidden_layers", c.nLayers},
          {"hidden_size", c.dModel},
          {"num_attention_heads", c.nHeads.empty() ? 0 : c.nHeads[0]},
          {"intermediate_size", c.dMlp.empty() ? 0 : c.dMlp[0]},
          {"image_size", c.imageSize},
          {"patch_size", c.patchSize},
          {"num_channels", c.nChannels},
          {"layer_norm_eps", c.normEps},
          {"hidden_act", c.activation == Activation::Gelu ? "gelu" : "gelu_new"},
          {"qkv_bias", c.qkvBias},
          {"id2label", labels},
          {"torch_dtype", "float32"}};
}

std::string normalizeName(const std::string& name) { return name; }

bool ignorable(const std::string& name) {
  // ViTModel's pooler is unused by the classification head.
  return name.rfind("vit.pooler.", 0) == 0;
}

}  // namespace

const ArchDefinition& vitArch() {
  static const ArchDefinition arch{"vit",      {"vit"},    parseConfig,   tensorSpecs,
                                   mapWeights, configJson, normalizeName, ignorable};
  return arch;
}

}  // namespace cs::models
