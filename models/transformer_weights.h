// The Transformer's weights in the canonical per-head layout (DESIGN.md). Products are written
// x W (weights [in, out]). Q, K and V are stored fused, [D, (H + 2 Hkv) E], so one GEMM computes
// them; W_Q()/W_K()/W_V() are per-head views [heads, D, E] of that storage, so a head is one
// index everywhere and edits through the views change the model.
// Legend: D model width, H query heads, Hkv key/value heads, E head width, F MLP width,
// V vocabulary (or classes), P positions, C channels, S patch side.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace cs::models {

struct NormWeights {
  at::Tensor weight;  // [D]
  at::Tensor bias;    // [D], undefined for RMSNorm
};

struct AttentionWeights {
  int nHeads = 0;
  int nKvHeads = 0;
  int dHead = 0;
  at::Tensor W_QKV;  // [D, (H + 2 Hkv) E]
  at::Tensor b_QKV;  // [(H + 2 Hkv) E] or undefined
  at::Tensor W_O;    // [H, E, D]
  at::Tensor b_O;    // [D] or undefined

  at::Tensor W_Q() const;  // [H, D, E] view
  at::Tensor W_K() const;  // [Hkv, D, E] view
  at::Tensor W_V() const;  // [Hkv, D, E] view
  at::Tensor b_Q() const;  // [H, E] view (undefined without biases)
  at::Tensor b_K() const;  // [Hkv, E]
  at::Tensor b_V() const;  // [Hkv, E]
};

struct MlpWeights {
  at::Tensor W_in;    // [D, F] (the "up" projection when gated)
  at::Tensor b_in;    // [F] or undefined
  at::Tensor W_gate;  // [D, F], gated MLPs only
  at::Tensor W_out;   // [F, D]
  at::Tensor b_out;   // [D] or undefined
};

struct BlockWeights {
  NormWeights ln1;
  AttentionWeights attn;
  NormWeights ln2;
  MlpWeights mlp;
};

struct TransformerWeights {
  at::Tensor W_E;         // [V, D] token embeddings (language models)
  at::Tensor W_pos;       // [P, D] learned positions (GPT-2, ViT incl. class token)
  at::Tensor W_patch;     // [D, C, S, S] patch projection (ViT)
  at::Tensor b_patch;     // [D]
  at::Tensor classToken;  // [D]
  std::vector<BlockWeights> blocks;
  NormWeights lnFinal;
  at::Tensor W_U;  // [D, V]; a transposed view of W_E when embeddings are tied
  at::Tensor b_U;  // [V] or undefined

  /// Every stored tensor with a stable name (tied W_U omitted), e.g. "blocks.0.attn.W_QKV".
  std::vector<std::pair<std::string, at::Tensor>> namedTensors() const;
  /// Number of parameters (tied matrices counted once).
  std::int64_t parameterCount() const;
};

}  // namespace cs::models
