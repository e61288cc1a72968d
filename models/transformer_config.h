// The configuration of the one Transformer that covers GPT-2, the Llama family, ViT and the
// built-in toys. Per-layer head counts and MLP widths may differ (compacted models).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cs::models {

/// None: no normalisation (identity, no weights), e.g. the modular-addition model.
enum class NormKind { LayerNorm, RmsNorm, None };
enum class PositionKind { Learned, Rotary, None };
enum class Activation { Gelu, GeluTanh, Relu, Silu };
enum class InputKind { Tokens, Patches };
enum class HeadKind { LanguageModel, Classifier };

struct RopeConfig {
  double theta = 10000.0;
  /// "" (none), "linear" or "llama3"; anything else is refused when the config is read.
  std::string scaling;
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  std::int64_t originalContext = 8192;

  bool operator==(const RopeConfig&) const = default;
};

struct TransformerConfig {
  std::string family;     ///< "gpt2", "llama", "vit", "toy"
  std::string modelType;  ///< config.json's model_type, e.g. "qwen2"
  int nLayers = 0;
  int dModel = 0;
  int dHead = 0;
  std::vector<int> nHeads;    ///< per layer
  std::vector<int> nKvHeads;  ///< per layer; == nHeads without grouped-query attention
  std::vector<int> dMlp;      ///< per layer
  /// Per layer, the key/value head each query head reads. Empty (or an empty layer) means the
  /// even grouping: query head h reads h / (H / Hkv). Compacted grouped-query models need it.
  std::vector<std::vector<int>> kvHeadOfQuery;
  /// Per layer, sublayers that are skipped (dropped): the residual passes through unchanged.
  /// Empty means none. Masks set these at run time; compacted models store them.
  std::vector<bool> attnSkipped;
  std::vector<bool> mlpSkipped;
  int nCtx = 0;      ///< largest position (learned/rotary tables)
  int dVocab = 0;    ///< language models
  int nClasses = 0;  ///< classifiers
  std::vector<std::string> classLabels;

  NormKind norm = NormKind::LayerNorm;
  double normEps = 1e-5;
  PositionKind positions = PositionKind::Learned;
  RopeConfig rope;
  Activation activation = Activation::GeluTanh;
  bool gatedMlp = false;  ///< SwiGLU-style: act(x W_gate) * (x W_in)
  bool qkvBias = false;
  bool attnOutBias = false;
  bool mlpBias = false;
  bool causal = true;
  int slidingWindow = 0;                 ///< 0: none; else keys at most this far back are visible
  bool scaleAttnByInverseLayer = false;  ///< GPT-2 option: scores also / (layer + 1)
  bool tiedEmbeddings = false;
  bool unembedBias = false;

  InputKind input = InputKind::Tokens;
  int imageSize = 0;
  int patchSize = 0;
  int nChannels = 0;
  /// Image models: a learned class token goes first and the classifier reads it. Without one
  /// the classifier reads the mean over the patch positions (a one-patch model is then an MLP).
  bool classToken = true;
  HeadKind head = HeadKind::LanguageModel;

  int nPatches() const {
    return patchSize > 0 ? (imageSize / patchSize) * (imageSize / patchSize) : 0;
  }
  /// Positions of an image model's input: the patches and the class token, if any.
  int nImageTokens() const { return nPatches() + (classToken ? 1 : 0); }
  /// Whether the norms carry weights (LayerNorm, RMSNorm) or are absent (None).
  bool hasNormWeights() const { return norm != NormKind::None; }
  /// Width of the output: vocabulary or classes.
  int dOutput() const { return head == HeadKind::Classifier ? nClasses : dVocab; }
  bool skipsAttention(int layer) const { return !attnSkipped.empty() && attnSkipped[layer]; }
  bool skipsMlp(int layer) const { return !mlpSkipped.empty() && mlpSkipped[layer]; }
  /// The key/value head query head `head` of `layer` reads.
  int kvHeadOf(int layer, int head) const;
  /// Sets every per-layer vector to the same value (nLayers must be set).
  void setUniform(int heads, int kvHeads, int mlpWidth);
  /// Throws ConfigError if sizes are missing or inconsistent.
  void validate() const;

  bool operator==(const TransformerConfig&) const = default;
};

std::string activationName(Activation activation);

}  // namespace cs::models
