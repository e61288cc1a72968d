// The small numeric pieces of a transformer block: norms, activations, rotary embeddings and
// the x W + b product in the [in, out] weight convention.
#pragma once

#include <ATen/core/Tensor.h>

#include "models/transformer_config.h"
#include "models/transformer_weights.h"

namespace cs::models {

/// x [..., in] W [in, out] (+ b [out]) -> [..., out], as one GEMM.
at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b = {});

/// LayerNorm or RMSNorm over the last axis (RMSNorm is computed in float32 as Llama does);
/// NormKind::None returns x itself.
at::Tensor applyNorm(const at::Tensor& x, const NormWeights& w, NormKind kind, double eps);

at::Tensor applyActivation(const at::Tensor& x, Activation activation);

/// Inverse frequencies [E/2] of rotary embeddings, with the configured scaling.
at::Tensor rotaryInverseFrequencies(const RopeConfig& rope, int dHead);

/// Rotates x [B, T, H, E] by the angles positions [B, T] x invFreq [E/2], using the
/// "rotate half" pairing (dimension i with i + E/2).
at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

/// cos and sin tables [B, T, 1, E] for positions [B, T].
std::pair<at::Tensor, at::Tensor> rotaryTables(const at::Tensor& positions,
                                               const at::Tensor& invFreq, at::ScalarType dtype);

}  // namespace cs::models
