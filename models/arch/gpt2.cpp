// GPT-2 (GPT2LMHeadModel). HF stores its Conv1D weights [in, out], which is already our
// x W convention; c_attn's columns are q | k | v with heads contiguous inside each.
#include "core/torch_api.h"

#include "core/error.h"
#include "models/arch/arch.h"
#include "models/arch/config_json.h"

namespace cs::models {

namespace {

Activation parseActivation(const std::string& name) {
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast")
    return Activation::GeluTanh;
  if (name == "gelu") return Activation::Gelu;
  if (name == "relu") return Activation::Relu;
  if (name == "silu" || name == "swish") return Activation::Silu;
  throw ConfigError("config.json: activation_function \"" + name +
                    "\" is not supported (gelu_new, gelu_pytorch_tanh, gelu, relu, silu)");
}

std::string activationHfName(Activation a) {
  switch (a) {
    case Activation::GeluTanh:
      return "gelu_new";
    case Activation::Gelu:
      return "gelu";
    case Activation::Relu:
      return "relu";
    case Activation::Silu:
      return "silu";
  }
  return "gelu_new";
}

TransformerConfig parseConfig(const nlohmann::json& j) {
  TransformerConfig c;
  c.family = "gpt2";
  c.modelType = "gpt2";
  c.nLayers = requirePositive(j, "n_layer", 4096);
  c.dModel = requirePositive(j, "n_embd");
  const int heads = requirePositive(j, "n_head", 4096);
  if (c.dModel % heads != 0) {
    throw ConfigError("config.json: n_embd " + std::to_string(c.dModel) +
                      " is not divisible by n_head " + std::to_string(heads));
  }
  c.dHead = c.dModel / heads;
  c.setUniform(heads, heads, optionalPositive(j, "n_inner", 4 * c.dModel));
  c.nCtx = requirePositive(j, "n_positions");
  c.dVocab = requirePositive(j, "vocab_size");
  c.norm = NormKind::LayerNorm;
  c.normEps = optionalNumber(j, "layer_norm_epsilon", 1e-5);
  c.positions = PositionKind::Learned;
  c.activation = parseActivation(optionalString(j, "activation_function", "gelu_new"));
  c.qkvBias = c.attnOutBias = c.mlpBias = true;
  if (!optionalBool(j, "scale_attn_weights", true)) {
    throw ConfigError("config.json: scale_attn_weights=false is not supported");
  }
  c.scaleAttnByInverseLayer = optionalBool(j, "scale_attn_by_inverse_layer_idx", false);
  c.tiedEmbeddings = optionalBool(j, "tie_word_embeddings", true);
  return c;
}

std::string layerPrefix(int l) { return "transformer.h." + std::to_string(l) + "."; }

std::vector<HfTensorSpec> tensorSpecs(const TransformerConfig& c) {
  const int64_t D = c.dModel;
  std::vector<HfTensorSpec> s{
      {"transformer.wte.weight", {c.dVocab, D}},
      {"transformer.wpe.weight", {c.nCtx, D}},
  };
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    const int64_t F = c.dMlp[l];
    s.push_back({p + "ln_1.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "ln_1.bias", {D}, InitKind::Bias});
    s.push_back({p + "attn.c_attn.weight", {D, 3 * D}});
    s.push_back({p + "attn.c_attn.bias", {3 * D}, InitKind::Bias});
    s.push_back({p + "attn.c_proj.weight", {D, D}});
    s.push_back({p + "attn.c_proj.bias", {D}, InitKind::Bias});
    s.push_back({p + "ln_2.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "ln_2.bias", {D}, InitKind::Bias});
    s.push_back({p + "mlp.c_fc.weight", {D, F}});
    s.push_back({p + "mlp.c_fc.bias", {F}, InitKind::Bias});
    s.push_back({p + "mlp.c_proj.weight", {F, D}});
    s.push_back({p + "mlp.c_proj.bias", {D}, InitKind::Bias});
  }
  s.push_back({"transformer.ln_f.weight", {D}, InitKind::NormWeight});
  s.push_back({"transformer.ln_f.bias", {D}, InitKind::Bias});
  s.push_back({"lm_head.weight", {c.dVocab, D}, InitKind::Matrix, c.tiedEmbeddings});
  return s;
}

TransformerWeights mapWeights(const TransformerConfig& c, const TensorGetter& get) {
  TransformerWeights w;
  w.W_E = get("transformer.wte.weight");
  w.W_pos = get("transformer.wpe.weight");
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    BlockWeights b;
    b.ln1 = {get(p + "ln_1.weight"), get(p + "ln_1.bias")};
    b.attn.nHeads = b.attn.nKvHeads = c.nHeads[l];
    b.attn.dHead = c.dHead;
    b.attn.W_QKV = get(p + "attn.c_attn.weight");
    b.attn.b_QKV = get(p + "attn.c_attn.bias");
    b.attn.W_O = get(p + "attn.c_proj.weight").view({c.nHeads[l], c.dHead, c.dModel});
    b.attn.b_O = get(p + "attn.c_proj.bias");
    b.ln2 = {get(p + "ln_2.weight"), get(p + "ln_2.bias")};
    b.mlp.W_in = get(p + "mlp.c_fc.weight");
    b.mlp.b_in = get(p + "mlp.c_fc.bias");
    b.mlp.W_out = get(p + "mlp.c_proj.weight");
    b.mlp.b_out = get(p + "mlp.c_proj.bias");
    w.blocks.push_back(std::move(b));
  }
  w.lnFinal = {get("transformer.ln_f.weight"), get("transformer.ln_f.bias")};
  // Tied: HF uses wte for the head even when lm_head.weight is stored.
  w.W_U = c.tiedEmbeddings ? w.W_E.t() : get("lm_head.weight").t();
  return w;
}

nlohmann::json configJson(const TransformerConfig& c) {
  return {{"model_type", "gpt2"},
          {"architectures", {"GPT2LMHeadModel"}},
          {"n_layer", c.nLayers},
          {"n_embd", c.dModel},
          {"n_head", c.nHeads.empty() ? 0 : c.nHeads[0]},
          {"n_inner", c.dMlp.empty() ? 0 : c.dMlp[0]},
          {"n_positions", c.nCtx},
          {"vocab_size", c.dVocab},
          {"layer_norm_epsilon", c.normEps},
          {"activation_function", activationHfName(c.activation)},
          {"tie_word_embeddings", c.tiedEmbeddings},
          {"torch_dtype", "float32"}};
}

std::string normalizeName(const std::string& name) {
  // Checkpoints saved from GPT2Model (the original "gpt2" files) lack the "transformer." prefix.
  if (name.rfind("transformer.", 0) == 0 || name.rfind("lm_head.", 0) == 0) return name;
  return "transformer." + name;
}

bool ignorable(const std::string& name) {
  // Causal-mask buffers older transformers versions saved with the weights.
  auto endsWith = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return endsWith(".attn.bias") || endsWith(".attn.masked_bias");
}

}  // namespace

const ArchDefinition& gpt2Arch() {
  static const ArchDefinition arch{"gpt2",     {"gpt2"},   parseConfig,   tensorSpecs,
                                   mapWeights, configJson, normalizeName, ignorable};
  return arch;
}

}  // namespace cs::models
