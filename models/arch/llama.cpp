// The Llama family (LlamaForCausalLM, and the llama-like MistralForCausalLM and
// Qwen2ForCausalLM): RMSNorm, rotary positions, grouped-query attention, SwiGLU MLP.
// HF nn.Linear weights are [out, in]; they are transposed into the x W convention.
#include "core/torch_api.h"

#include "core/error.h"
#include "models/arch/arch.h"
#include "models/arch/config_json.h"

namespace cs::models {

namespace {

RopeConfig parseRope(const nlohmann::json& j) {
  RopeConfig rope;
  rope.theta = optionalNumber(j, "rope_theta", 10000.0);
  const auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return rope;
  if (!it->is_object()) throw ConfigError("config.json: rope_scaling must be an object or null");
  std::string type = optionalString(*it, "rope_type", "");
  if (type.empty()) type = optionalString(*it, "type", "");
  if (type == "default") return rope;
  if (type != "linear" && type != "llama3") {
    throw ConfigError("config.json: rope_scaling type \"" + type +
                      "\" is not supported (default, linear, llama3)");
  }
  rope.scaling = type;
  rope.factor = optionalNumber(*it, "factor", 1.0);
  if (rope.factor <= 0) throw ConfigError("config.json: rope_scaling factor must be positive");
  if (type == "llama3") {
    rope.lowFreqFactor = optionalNumber(*it, "low_freq_factor", 1.0);
    rope.highFreqFactor = optionalNumber(*it, "high_freq_factor", 4.0);
    rope.originalContext = optionalPositive(*it, "original_max_position_embeddings", 8192);
    if (rope.highFreqFactor <= rope.lowFreqFactor) {
      throw ConfigError("config.json: rope_scaling high_freq_factor must exceed low_freq_factor");
    }
  }
  return rope;
}

TransformerConfig parseConfig(const nlohmann::json& j) {
  TransformerConfig c;
  c.family = "llama";
  c.modelType = optionalString(j, "model_type", "llama");
  c.nLayers = requirePositive(j, "num_hidden_layers", 4096);
  c.dModel = requirePositive(j, "hidden_size");
  const int heads = requirePositive(j, "num_attention_heads", 4096);
  const int kvHeads = optionalPositive(j, "num_key_value_heads", heads, 4096);
  if (heads % kvHeads != 0) {
    throw ConfigError("config.json: num_attention_heads " + std::to_string(heads) +
                      " is not a multiple of num_key_value_heads " + std::to_string(kvHeads));
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.dHead = requirePositive(j, "head_dim");
  } else if (c.dModel % heads == 0) {
    c.dHead = c.dModel / heads;
  } else {
    throw ConfigError(
        "config.json: hidden_size is not divisible by num_attention_heads and no head_dim is "
        "given");
  }
  c.setUniform(heads, kvHeads, requirePositive(j, "intermediate_size"));
  c.nCtx = optionalPositive(j, "max_position_embeddings", 2048);
  c.dVocab = requirePositive(j, "vocab_size");
  c.norm = NormKind::RmsNorm;
  c.normEps = optionalNumber(j, "rms_norm_eps", 1e-6);
  c.positions = PositionKind::Rotary;
  c.rope = parseRope(j);
  const auto act = optionalString(j, "hidden_act", "silu");
  if (act != "silu" && act != "swish") {
    throw ConfigError("config.json: hidden_act \"" + act + "\" is not supported for " +
                      c.modelType + " (silu)");
  }
  c.activation = Activation::Silu;
  c.gatedMlp = true;
  // Qwen2 always has q/k/v biases; Llama and Mistral only with attention_bias.
  const bool attentionBias = optionalBool(j, "attention_bias", false);
  c.qkvBias = c.modelType == "qwen2" || attentionBias;
  c.attnOutBias = c.modelType != "qwen2" && attentionBias;
  if (optionalBool(j, "mlp_bias", false)) {
    throw ConfigError("config.json: mlp_bias=true is not supported yet for " + c.modelType);
  }
  if (c.modelType == "mistral" ||
      (c.modelType == "qwen2" && optionalBool(j, "use_sliding_window", false))) {
    c.slidingWindow = optionalPositive(j, "sliding_window", 0);
  }
  c.tiedEmbeddings = optionalBool(j, "tie_word_embeddings", false);
  return c;
}

std::string layerPrefix(int l) { return "model.layers." + std::to_string(l) + "."; }

std::vector<HfTensorSpec> tensorSpecs(const TransformerConfig& c) {
  const int64_t D = c.dModel, E = c.dHead;
  std::vector<HfTensorSpec> s{{"model.embed_tokens.weight", {c.dVocab, D}}};
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    const int64_t H = c.nHeads[l], Hkv = c.nKvHeads[l], F = c.dMlp[l];
    s.push_back({p + "input_layernorm.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "self_attn.q_proj.weight", {H * E, D}});
    s.push_back({p + "self_attn.k_proj.weight", {Hkv * E, D}});
    s.push_back({p + "self_attn.v_proj.weight", {Hkv * E, D}});
    if (c.qkvBias) {
      s.push_back({p + "self_attn.q_proj.bias", {H * E}, InitKind::Bias});
      s.push_back({p + "self_attn.k_proj.bias", {Hkv * E}, InitKind::Bias});
      s.push_back({p + "self_attn.v_proj.bias", {Hkv * E}, InitKind::Bias});
    }
    s.push_back({p + "self_attn.o_proj.weight", {D, H * E}});
    if (c.attnOutBias) s.push_back({p + "self_attn.o_proj.bias", {D}, InitKind::Bias});
    s.push_back({p + "post_attention_layernorm.weight", {D}, InitKind::NormWeight});
    s.push_back({p + "mlp.gate_proj.weight", {F, D}});
    s.push_back({p + "mlp.up_proj.weight", {F, D}});
    s.push_back({p + "mlp.down_proj.weight", {D, F}});
  }
  s.push_back({"model.norm.weight", {D}, InitKind::NormWeight});
  s.push_back({"lm_head.weight", {c.dVocab, D}, InitKind::Matrix, c.tiedEmbeddings});
  return s;
}

TransformerWeights mapWeights(const TransformerConfig& c, const TensorGetter& get) {
  TransformerWeights w;
  w.W_E = get("model.embed_tokens.weight");
  for (int l = 0; l < c.nLayers; ++l) {
    const auto p = layerPrefix(l);
    BlockWeights b;
    b.ln1.weight = get(p + "input_layernorm.weight");
    b.attn.nHeads = c.nHeads[l];
    b.attn.nKvHeads = c.nKvHeads[l];
    b.attn.dHead = c.dHead;
    b.attn.W_QKV =
        at::cat({get(p + "self_attn.q_proj.weight").t(), get(p + "self_attn.k_proj.weight").t(),
                 get(p + "self_attn.v_proj.weight").t()},
                1)
            .contiguous();
    if (c.qkvBias) {
      b.attn.b_QKV = at::cat({get(p + "self_attn.q_proj.bias"), get(p + "self_attn.k_proj.bias"),
                              get(p + "self_attn.v_proj.bias")});
    }
    b.attn.W_O =
        get(p + "self_attn.o_proj.weight").t().contiguous().view({c.nHeads[l], c.dHead, c.dModel});
    if (c.attnOutBias) b.attn.b_O = get(p + "self_attn.o_proj.bias");
    b.ln2.weight = get(p + "post_attention_layernorm.weight");
    b.mlp.W_gate = get(p + "mlp.gate_proj.weight").t().contiguous();
    b.mlp.W_in = get(p + "mlp.up_proj.weight").t().contiguous();
    b.mlp.W_out = get(p + "mlp.down_proj.weight").t().contiguous();
    w.blocks.push_back(std::move(b));
  }
  w.lnFinal.weight = get("model.norm.weight");
  w.W_U = c.tiedEmbeddings ? w.W_E.t() : get("lm_head.weight").t();
  return w;
}

nlohmann::json configJson(const TransformerConfig& c) {
  const std::string type = c.modelType.empty() ? "llama" : c.modelType;
  nlohmann::json j{{"model_type", type},
                   {"architectures",
                    {type == "qwen2"     ? "Qwen2ForCausalLM"
                     : type == "mistral" ? "MistralForCausalLM"
                                         : "LlamaForCausalLM"}},
                   {"num_hidden_layers", c.nLayers},
                   {"hidden_size", c.dModel},
                   {"num_attention_heads", c.nHeads.empty() ? 0 : c.nHeads[0]},
                   {"num_key_value_heads", c.nKvHeads.empty() ? 0 : c.nKvHeads[0]},
                   {"head_dim", c.dHead},
                   {"intermediate_size", c.dMlp.empty() ? 0 : c.dMlp[0]},
                   {"max_position_embeddings", c.nCtx},
                   {"vocab_size", c.dVocab},
                   {"rms_norm_eps", c.normEps},
                   {"rope_theta", c.rope.theta},
                   {"rope_scaling", nullptr},
                   {"hidden_act", "silu"},
                   {"tie_word_embeddings", c.tiedEmbeddings},
                   {"torch_dtype", "float32"}};
  if (type != "qwen2") j["attention_bias"] = c.qkvBias;
  return j;
}

std::string normalizeName(const std::string& name) { return name; }

bool ignorable(const std::string& name) {
  // Rotary frequency buffers some older checkpoints saved.
  const std::string suffix = "rotary_emb.inv_freq";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const ArchDefinition& llamaArch() {
  static const ArchDefinition arch{"llama",       {"llama", "mistral", "qwen2"},
                                   parseConfig,   tensorSpecs,
                                   mapWeights,    configJson,
                                   normalizeName, ignorable};
  return arch;
}

}  // namespace cs::models
