// circuitscope's own checkpoint format (model_type "circuitscope", models/native_checkpoint.h):
// config.json spells out every TransformerConfig field in snake_case, so per-layer head counts,
// MLP widths, key/value head maps and skipped sublayers survive; the tensors carry the names of
// TransformerWeights::namedTensors(). The config is untrusted: every field is type- and
// range-checked here, with messages naming the key.
#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "data/json_document.h"
#include "models/arch/arch.h"
#include "models/arch/config_json.h"

namespace cs::models {

namespace {

constexpr int kFormatVersion = 1;
constexpr int kMaxLayers = 4096;
constexpr int kMaxHeads = 4096;
constexpr int kMaxWidth = 1 << 24;
constexpr std::size_t kMaxNameLength = 256;

using Json = nlohmann::json;

// --- reading -------------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& key, const std::string& what, const Json& value) {
  throw ConfigError("config.json: \"" + key + "\" " + what + ", got " +
                    data::describeJsonValue(value));
}

// `name` is the key as messages spell it ("rope.theta" for a nested key).
const Json& required(const Json& j, const std::string& key, const std::string& name = {}) {
  const auto it = j.find(key);
  if (it == j.end()) {
    throw ConfigError("config.json: required field \"" + (name.empty() ? key : name) +
                      "\" is missing; circuitscope checkpoints spell out every field");
  }
  return *it;
}

int intIn(const Json& v, const std::string& key, int lo, int hi) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
    fail(key, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", v);
  }
  return static_cast<int>(v.get<std::int64_t>());
}

int requireInt(const Json& j, const std::string& key, int lo, int hi) {
  return intIn(required(j, key), key, lo, hi);
}

bool requireBool(const Json& j, const std::string& key) {
  const auto& v = required(j, key);
  if (!v.is_boolean()) fail(key, "must be true or false", v);
  return v.get<bool>();
}

double positiveNumber(const Json& v, const std::string& name) {
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0) {
    fail(name, "must be a positive number", v);
  }
  return v.get<double>();
}

double requirePositiveNumber(const Json& j, const std::string& key,
                             const std::string& prefix = {}) {
  return positiveNumber(required(j, key, prefix + key), prefix + key);
}

std::string stringValue(const Json& v, const std::string& key, bool allowEmpty = true) {
  if (!v.is_string() || v.get_ref<const std::string&>().size() > kMaxNameLength ||
      (!allowEmpty && v.get_ref<const std::string&>().empty())) {
    fail(key,
         std::string("must be a ") + (allowEmpty ? "" : "non-empty ") + "string of at most " +
             std::to_string(kMaxNameLength) + " characters",
         v);
  }
  return v.get<std::string>();
}

// The enum value whose name (in `choices`) the field holds.
template <typename Enum>
Enum requireChoice(const Json& j, const std::string& key,
                   const std::vector<std::pair<Enum, std::string>>& choices) {
  const auto& v = required(j, key);
  std::string list;
  for (const auto& [value, name] : choices) {
    if (v.is_string() && v.get_ref<const std::string&>() == name) return value;
    list += (list.empty() ? "" : ", ") + name;
  }
  fail(key, "must be one of " + list, v);
}

const Json& requireArray(const Json& j, const std::string& key) {
  const auto& v = required(j, key);
  if (!v.is_array()) fail(key, "must be an array", v);
  return v;
}

// A per-layer array of integers in [lo, hi], one entry per layer.
std::vector<int> perLayerInts(const Json& j, const std::string& key, int nLayers, int lo, int hi) {
  const auto& v = requireArray(j, key);
  if (static_cast<int>(v.size()) != nLayers) {
    throw ConfigError("config.json: \"" + key + "\" must have one entry per layer (" +
                      std::to_string(nLayers) + "), got " + std::to_string(v.size()));
  }
  std::vector<int> out;
  for (std::size_t l = 0; l < v.size(); ++l) {
    out.push_back(intIn(v[l], key + "[" + std::to_string(l) + "]", lo, hi));
  }
  return out;
}

// Per-layer flags: [] or one boolean per layer. None set gives an empty vector, the form a
// freshly loaded model has.
std::vector<bool> perLayerFlags(const Json& j, const std::string& key, int nLayers) {
  const auto& v = requireArray(j, key);
  if (!v.empty() && static_cast<int>(v.size()) != nLayers) {
    throw ConfigError("config.json: \"" + key + "\" must be [] or have one entry per layer (" +
                      std::to_string(nLayers) + "), got " + std::to_string(v.size()));
  }
  std::vector<bool> out;
  for (std::size_t l = 0; l < v.size(); ++l) {
    if (!v[l].is_boolean())
      fail(key + "[" + std::to_string(l) + "]", "must be true or false", v[l]);
    out.push_back(v[l].get<bool>());
  }
  if (std::find(out.begin(), out.end(), true) == out.end()) out.clear();
  return out;
}

// [] (even grouping everywhere) or one array per layer: [] (even grouping) or the key/value
// head of each query head.
std::vector<std::vector<int>> kvHeadMaps(const Json& j, const TransformerConfig& c) {
  const std::string key = "kv_head_of_query";
  const auto& v = requireArray(j, key);
  if (!v.empty() && static_cast<int>(v.size()) != c.nLayers) {
    throw ConfigError("config.json: \"" + key + "\" must be [] or have one entry per layer (" +
                      std::to_string(c.nLayers) + "), got " + std::to_string(v.size()));
  }
  std::vector<std::vector<int>> maps;
  for (int l = 0; l < static_cast<int>(v.size()); ++l) {
    const auto layerKey = key + "[" + std::to_string(l) + "]";
    const auto& layer = v[l];
    if (!layer.is_array()) fail(layerKey, "must be an array", layer);
    if (!layer.empty() && static_cast<int>(layer.size()) != c.nHeads[l]) {
      throw ConfigError("config.json: \"" + layerKey +
                        "\" must be [] or have one entry per query head (" +
                        std::to_string(c.nHeads[l]) + "), got " + std::to_string(layer.size()));
    }
    if (!layer.empty() && c.nKvHeads[l] == 0) {
      throw ConfigError("config.json: \"" + layerKey + "\" maps query heads to key/value heads, " +
                        "but \"n_kv_heads[" + std::to_string(l) + "]\" is 0");
    }
    std::vector<int> map;
    for (std::size_t h = 0; h < layer.size(); ++h) {
      map.push_back(
          intIn(layer[h], layerKey + "[" + std::to_string(h) + "]", 0, c.nKvHeads[l] - 1));
    }
    maps.push_back(std::move(map));
  }
  return maps;
}

RopeConfig parseRope(const Json& j) {
  const auto& r = required(j, "rope");
  if (!r.is_object()) fail("rope", "must be an object", r);
  const std::string p = "rope.";
  RopeConfig rope;
  rope.theta = requirePositiveNumber(r, "theta", p);
  const auto& scaling = required(r, "scaling", p + "scaling");
  rope.scaling = stringValue(scaling, p + "scaling");
  if (rope.scaling != "" && rope.scaling != "linear" && rope.scaling != "llama3") {
    fail(p + "scaling", "must be \"\", \"linear\" or \"llama3\"", scaling);
  }
  rope.factor = requirePositiveNumber(r, "factor", p);
  rope.lowFreqFactor = requirePositiveNumber(r, "low_freq_factor", p);
  rope.highFreqFactor = requirePositiveNumber(r, "high_freq_factor", p);
  rope.originalContext = intIn(required(r, "original_context", p + "original_context"),
                               p + "original_context", 1, kMaxWidth);
  if (rope.scaling == "llama3" && rope.highFreqFactor <= rope.lowFreqFactor) {
    throw ConfigError("config.json: \"rope.high_freq_factor\" must exceed low_freq_factor");
  }
  return rope;
}

const std::vector<std::pair<NormKind, std::string>> kNorms{
    {NormKind::LayerNorm, "layer_norm"}, {NormKind::RmsNorm, "rms_norm"}, {NormKind::None, "none"}};
const std::vector<std::pair<PositionKind, std::string>> kPositions{
    {PositionKind::Learned, "learned"},
    {PositionKind::Rotary, "rotary"},
    {PositionKind::None, "none"}};
const std::vector<std::pair<Activation, std::string>> kActivations{
    {Activation::Gelu, "gelu"},
    {Activation::GeluTanh, "gelu_tanh"},
    {Activation::Relu, "relu"},
    {Activation::Silu, "silu"}};
const std::vector<std::pair<InputKind, std::string>> kInputs{{InputKind::Tokens, "tokens"},
                                                             {InputKind::Patches, "patches"}};
const std::vector<std::pair<HeadKind, std::string>> kHeads{
    {HeadKind::LanguageModel, "language_model"}, {HeadKind::Classifier, "classifier"}};

template <typename Enum>
std::string nameOf(const std::vector<std::pair<Enum, std::string>>& choices, Enum value) {
  for (const auto& [v, name] : choices) {
    if (v == value) return name;
  }
  return "?";
}

TransformerConfig parseConfig(const Json& j) {
  const auto& version = required(j, "format_version");
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1) {
    fail("format_version", "must be a positive integer", version);
  }
  if (version.get<std::int64_t>() > kFormatVersion) {
    throw ConfigError("config.json: \"format_version\" " + version.dump() +
                      " is newer than this circuitscope reads (" + std::to_string(kFormatVersion) +
                      "); update circuitscope");
  }
  TransformerConfig c;
  c.family = stringValue(required(j, "family"), "family", /*allowEmpty=*/false);
  c.modelType = stringValue(required(j, "source_model_type"), "source_model_type");
  c.nLayers = requirePositive(j, "n_layers", kMaxLayers);
  c.dModel = requirePositive(j, "d_model", kMaxWidth);
  c.dHead = requirePositive(j, "d_head", kMaxWidth);
  c.nHeads = perLayerInts(j, "n_heads", c.nLayers, 0, kMaxHeads);
  c.nKvHeads = perLayerInts(j, "n_kv_heads", c.nLayers, 0, kMaxHeads);
  c.dMlp = perLayerInts(j, "d_mlp", c.nLayers, 0, kMaxWidth);
  c.kvHeadOfQuery = kvHeadMaps(j, c);
  for (int l = 0; l < c.nLayers; ++l) {
    const bool mapped = !c.kvHeadOfQuery.empty() && !c.kvHeadOfQuery[l].empty();
    const int H = c.nHeads[l], Hkv = c.nKvHeads[l];
    if (!mapped && (Hkv > 0 ? H % Hkv != 0 : H != 0)) {
      throw ConfigError("config.json: \"n_kv_heads[" + std::to_string(l) + "]\": " +
                        std::to_string(Hkv) + " key/value heads cannot serve " + std::to_string(H) +
                        " query heads evenly, and \"kv_head_of_query\" gives no map for layer " +
                        std::to_string(l));
    }
  }
  c.attnSkipped = perLayerFlags(j, "attn_skipped", c.nLayers);
  c.mlpSkipped = perLayerFlags(j, "mlp_skipped", c.nLayers);
  c.nCtx = requireInt(j, "n_ctx", 0, kMaxWidth);
  c.dVocab = requireInt(j, "d_vocab", 0, kMaxWidth);
  c.nClasses = requireInt(j, "n_classes", 0, kMaxWidth);
  const auto& labels = requireArray(j, "class_labels");
  if (!labels.empty() && static_cast<int>(labels.size()) != c.nClasses) {
    throw ConfigError("config.json: \"class_labels\" must be [] or have one entry per class (" +
                      std::to_string(c.nClasses) + "), got " + std::to_string(labels.size()));
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    c.classLabels.push_back(stringValue(labels[i], "class_labels[" + std::to_string(i) + "]"));
  }

  c.norm = requireChoice(j, "norm", kNorms);
  c.normEps = requirePositiveNumber(j, "norm_eps");
  c.positions = requireChoice(j, "positions", kPositions);
  c.rope = parseRope(j);
  c.activation = requireChoice(j, "activation", kActivations);
  c.gatedMlp = requireBool(j, "gated_mlp");
  c.qkvBias = requireBool(j, "qkv_bias");
  c.attnOutBias = requireBool(j, "attn_out_bias");
  c.mlpBias = requireBool(j, "mlp_bias");
  c.causal = requireBool(j, "causal");
  c.slidingWindow = requireInt(j, "sliding_window", 0, kMaxWidth);
  c.scaleAttnByInverseLayer = requireBool(j, "scale_attn_by_inverse_layer");
  c.tiedEmbeddings = requireBool(j, "tied_embeddings");
  c.unembedBias = requireBool(j, "unembed_bias");

  c.input = requireChoice(j, "input", kInputs);
  c.imageSize = requireInt(j, "image_size", 0, 1 << 14);
  c.patchSize = requireInt(j, "patch_size", 0, 1 << 14);
  c.nChannels = requireInt(j, "n_channels", 0, 64);
  // Added after format version 1 was first written: absent means a class token, as before.
  if (j.contains("class_token")) c.classToken = requireBool(j, "class_token");
  c.head = requireChoice(j, "head", kHeads);

  // What validate() does not cover but the tensor layout needs.
  if (c.input == InputKind::Tokens && c.dVocab == 0) {
    throw ConfigError("config.json: \"d_vocab\" must be positive for a model that reads tokens");
  }
  if (!c.classToken && c.input != InputKind::Patches) {
    throw ConfigError(
        "config.json: \"class_token\" false needs an image model (input \"patches\")");
  }
  if (c.tiedEmbeddings && (c.input != InputKind::Tokens || c.head != HeadKind::LanguageModel)) {
    throw ConfigError(
        "config.json: \"tied_embeddings\" needs a language model that reads tokens (input "
        "\"tokens\", head \"language_model\")");
  }
  return c;
}

// --- writing -------------------------------------------------------------------------------

Json configJson(const TransformerConfig& c) {
  Json labels = Json::array();
  for (const auto& label : c.classLabels) labels.push_back(label);
  Json maps = Json::array();
  for (const auto& map : c.kvHeadOfQuery) maps.push_back(map);
  // Skip flags are always written per layer, as the config holds them after compaction.
  auto flags = [&c](const std::vector<bool>& f) {
    Json out = Json::array();
    for (int l = 0; l < c.nLayers; ++l) out.push_back(!f.empty() && f[l]);
    return out;
  };
  return {{"model_type", "circuitscope"},
          {"format_version", kFormatVersion},
          {"architectures", {"CircuitscopeTransformer"}},
          {"family", c.family},
          {"source_model_type", c.modelType},
          {"n_layers", c.nLayers},
          {"d_model", c.dModel},
          {"d_head", c.dHead},
          {"n_heads", c.nHeads},
          {"n_kv_heads", c.nKvHeads},
          {"d_mlp", c.dMlp},
          {"kv_head_of_query", maps},
          {"attn_skipped", flags(c.attnSkipped)},
          {"mlp_skipped", flags(c.mlpSkipped)},
          {"n_ctx", c.nCtx},
          {"d_vocab", c.dVocab},
          {"n_classes", c.nClasses},
          {"class_labels", labels},
          {"norm", nameOf(kNorms, c.norm)},
          {"norm_eps", c.normEps},
          {"positions", nameOf(kPositions, c.positions)},
          {"rope",
           {{"theta", c.rope.theta},
            {"scaling", c.rope.scaling},
            {"factor", c.rope.factor},
            {"low_freq_factor", c.rope.lowFreqFactor},
            {"high_freq_factor", c.rope.highFreqFactor},
            {"original_context", c.rope.originalContext}}},
          {"activation", nameOf(kActivations, c.activation)},
          {"gated_mlp", c.gatedMlp},
          {"qkv_bias", c.qkvBias},
          {"attn_out_bias", c.attnOutBias},
          {"mlp_bias", c.mlpBias},
          {"causal", c.causal},
          {"sliding_window", c.slidingWindow},
          {"scale_attn_by_inverse_layer", c.scaleAttnByInverseLayer},
          {"tied_embeddings", c.tiedEmbeddings},
          {"unembed_bias", c.unembedBias},
          {"input", nameOf(kInputs, c.input)},
          {"image_size", c.imageSize},
          {"patch_size", c.patchSize},
          {"n_channels", c.nChannels},
          {"class_token", c.classToken},
          {"head", nameOf(kHeads, c.head)}};
}

// --- tensors -------------------------------------------------------------------------------

// The names and shapes TransformerWeights::namedTensors() gives for a model of this config.
std::vector<HfTensorSpec> tensorSpecs(const TransformerConfig& c) {
  const int64_t D = c.dModel, E = c.dHead;
  const bool normed = c.hasNormWeights();
  const bool ln = c.norm == NormKind::LayerNorm;
  std::vector<HfTensorSpec> s;
  if (c.input == InputKind::Tokens) s.push_back({"embed.W_E", {c.dVocab, D}});
  if (c.positions == PositionKind::Learned) {
    const int64_t P = c.input == InputKind::Patches ? c.nImageTokens() : c.nCtx;
    s.push_back({"pos_embed.W_pos", {P, D}});
  }
  if (c.input == InputKind::Patches) {
    s.push_back({"embed.W_patch", {D, c.nChannels, c.patchSize, c.patchSize}});
    s.push_back({"embed.b_patch", {D}, InitKind::Bias});
    if (c.classToken) s.push_back({"embed.class_token", {D}});
  }
  for (int l = 0; l < c.nLayers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    const int64_t H = c.nHeads[l], Hkv = c.nKvHeads[l], F = c.dMlp[l];
    if (normed) s.push_back({p + "ln1.w", {D}, InitKind::NormWeight});
    if (ln) s.push_back({p + "ln1.b", {D}, InitKind::Bias});
    s.push_back({p + "attn.W_QKV", {D, (H + 2 * Hkv) * E}});
    if (c.qkvBias) s.push_back({p + "attn.b_QKV", {(H + 2 * Hkv) * E}, InitKind::Bias});
    s.push_back({p + "attn.W_O", {H, E, D}});
    if (c.attnOutBias) s.push_back({p + "attn.b_O", {D}, InitKind::Bias});
    if (normed) s.push_back({p + "ln2.w", {D}, InitKind::NormWeight});
    if (ln) s.push_back({p + "ln2.b", {D}, InitKind::Bias});
    s.push_back({p + "mlp.W_in", {D, F}});
    if (c.mlpBias) s.push_back({p + "mlp.b_in", {F}, InitKind::Bias});
    if (c.gatedMlp) s.push_back({p + "mlp.W_gate", {D, F}});
    s.push_back({p + "mlp.W_out", {F, D}});
    if (c.mlpBias) s.push_back({p + "mlp.b_out", {D}, InitKind::Bias});
  }
  if (normed) s.push_back({"ln_final.w", {D}, InitKind::NormWeight});
  if (ln) s.push_back({"ln_final.b", {D}, InitKind::Bias});
  if (!c.tiedEmbeddings) s.push_back({"unembed.W_U", {D, c.dOutput()}});
  if (c.unembedBias) s.push_back({"unembed.b_U", {c.dOutput()}, InitKind::Bias});
  return s;
}

TransformerWeights mapWeights(const TransformerConfig& c, const TensorGetter& get) {
  const bool normed = c.hasNormWeights();
  const bool ln = c.norm == NormKind::LayerNorm;
  auto getIf = [&get](bool present, const std::string& name) {
    return present ? get(name) : at::Tensor();
  };
  TransformerWeights w;
  w.W_E = getIf(c.input == InputKind::Tokens, "embed.W_E");
  w.W_pos = getIf(c.positions == PositionKind::Learned, "pos_embed.W_pos");
  w.W_patch = getIf(c.input == InputKind::Patches, "embed.W_patch");
  w.b_patch = getIf(c.input == InputKind::Patches, "embed.b_patch");
  w.classToken = getIf(c.input == InputKind::Patches && c.classToken, "embed.class_token");
  for (int l = 0; l < c.nLayers; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockWeights b;
    b.ln1 = {getIf(normed, p + "ln1.w"), getIf(ln, p + "ln1.b")};
    b.attn.nHeads = c.nHeads[l];
    b.attn.nKvHeads = c.nKvHeads[l];
    b.attn.dHead = c.dHead;
    b.attn.W_QKV = get(p + "attn.W_QKV");
    b.attn.b_QKV = getIf(c.qkvBias, p + "attn.b_QKV");
    b.attn.W_O = get(p + "attn.W_O");
    b.attn.b_O = getIf(c.attnOutBias, p + "attn.b_O");
    b.ln2 = {getIf(normed, p + "ln2.w"), getIf(ln, p + "ln2.b")};
    b.mlp.W_in = get(p + "mlp.W_in");
    b.mlp.b_in = getIf(c.mlpBias, p + "mlp.b_in");
    b.mlp.W_gate = getIf(c.gatedMlp, p + "mlp.W_gate");
    b.mlp.W_out = get(p + "mlp.W_out");
    b.mlp.b_out = getIf(c.mlpBias, p + "mlp.b_out");
    w.blocks.push_back(std::move(b));
  }
  w.lnFinal = {getIf(normed, "ln_final.w"), getIf(ln, "ln_final.b")};
  w.W_U = c.tiedEmbeddings ? w.W_E.t() : get("unembed.W_U");
  w.b_U = getIf(c.unembedBias, "unembed.b_U");
  return w;
}

std::string normalizeName(const std::string& name) { return name; }
bool ignorable(const std::string&) { return false; }

}  // namespace

const ArchDefinition& nativeArch() {
  static const ArchDefinition arch{"circuitscope", {"circuitscope"}, parseConfig,   tensorSpecs,
                                   mapWeights,     configJson,       normalizeName, ignorable};
  return arch;
}

}  // namespace cs::models
