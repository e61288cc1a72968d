// The cross-cutting test fixture of ALGORITHMS.md section 10: tiny random pre-LN models in
// float64, small enough that every analysis runs on them in well under a second.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>

#include "models/transformer.h"

namespace cs::test {

struct TinyVariant {
  bool zeroBiases = false;     ///< every bias and every norm beta zero (conservation tests)
  bool attentionFree = false;  ///< attention sublayers skipped: an MLP-only residual stream
  double weightStd = 0.5;      ///< large enough that the model is far from linear
};

/// ViT: image 8x8, 3 channels, patch 4 (4 patches + CLS, T = 5), d = 8, H = 2, d_ff = 16,
/// L = 2, C = 3, exact GELU, LayerNorm; float64 on the CPU. Deterministic for a seed.
std::unique_ptr<models::Transformer> tinyVit(std::uint64_t seed = 0, TinyVariant variant = {});

/// GPT-2-style language model with the same sizes: vocabulary 16, 16 positions, float64.
/// family "llama" gives RMSNorm, rotary positions and a gated SiLU MLP instead.
std::unique_ptr<models::Transformer> tinyLm(std::uint64_t seed = 0, const char* family = "gpt2",
                                            TinyVariant variant = {});

/// n random images for tinyVit: [n, 3, 8, 8] float64, N(0, 1).
/// A float64 one-block language model whose attention and MLP are skipped and which has no
/// norms: from resid_pre 0 the output is [h, 1] times [W_U; b_U] (d_model 6, 2 heads, random
/// b_U), the linear section of the Local Interaction Basis tests.
std::unique_ptr<models::Transformer> linearSectionModel(int vocab, std::uint64_t seed);

at::Tensor tinyImages(std::int64_t n, std::uint64_t seed = 0);

/// n random token rows of length `length` for tinyLm: [n, length] int64 in [0, 16).
at::Tensor tinyTokens(std::int64_t n, std::int64_t length, std::uint64_t seed = 0);

}  // namespace cs::test
