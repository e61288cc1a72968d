// The model between node layers of the Local Interaction Basis (ALGORITHMS.md section 9), in
// bias-folded coordinates: a residual-stream node layer is [h, c] with a constant coordinate c
// (1 on real data) that every bias multiplies, so that a section is a function of the folded
// activations alone and scaling them (integrated gradients) scales the biases too. Norms ignore
// c; the MLP's bias reaches its output through an extra hidden unit act(r c) with act(r) = 1.
// Everything runs in float64 on a copy of the weights.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/transformer.h"

namespace cs::analysis {

/// A node layer: blocks.L.hook_resid_pre / hook_resid_mid / hook_resid_post, or the output
/// (the logits at the scored position).
struct NodeLayer {
  hooks::HookKind kind = hooks::HookKind::ResidPre;
  int layer = 0;  ///< -1 for the output
  bool operator==(const NodeLayer&) const = default;
};

/// "blocks.0.hook_resid_pre", ..., "output". ConfigError for other names.
NodeLayer parseNodeLayer(const std::string& name, int nLayers);
std::string nodeLayerName(const NodeLayer& node);

/// The pre-activation r with act(r) = 1 (ReLU 1, erf-GELU 1.144451, tanh-GELU 1.144630, SiLU
/// 1.278465), found by Newton's method.
double activationRoot(models::Activation activation);

class FoldedSections {
 public:
  /// `outputPosition`: language models' scored position (-1: the last); classifiers read the
  /// class token (or the patch mean) as the model does.
  explicit FoldedSections(const models::Transformer& model, std::int64_t outputPosition = -1);

  /// Position of a node layer along the stream: 2l before block l's attention, 2l + 1 before its
  /// MLP, 2L after the last block, 2L + 1 the output. ConfigError for a layer out of range.
  int streamIndex(const NodeLayer& node) const;
  int outputIndex() const { return 2 * m_nLayers + 1; }
  /// Width of a node layer: d + 1 on the residual stream, the output's width at the end.
  std::int64_t width(int streamIndex) const;

  /// [h, 1] for the residual stream before block 0 of `input` (one forward pass of the model
  /// up to there, float64): [N, P, d + 1]. ShapeError for padded input (LIB needs fixed length).
  at::Tensor embed(models::Transformer& model, const models::ModelInput& input) const;

  /// Runs the sections from stream index `from` to `to` (from <= to) on u [N, P, width(from)].
  /// The output node layer is [N, P_out, V] (P_out = 1).
  at::Tensor run(int from, int to, const at::Tensor& u) const;
  /// True when the section holds no attention step: each position maps on its own.
  bool positionwise(int from, int to) const;

 private:
  at::Tensor attention(int layer, const at::Tensor& u) const;
  at::Tensor mlp(int layer, const at::Tensor& u) const;
  at::Tensor unembed(const at::Tensor& u) const;
  at::Tensor norm(const at::Tensor& h, const at::Tensor& c, const models::NormWeights& w) const;

  models::TransformerConfig m_config;
  models::TransformerWeights m_w;  // float64 copies
  int m_nLayers = 0;
  std::int64_t m_outputPosition = -1;
  double m_root = 1.0;
  at::Tensor m_invFreq;
};

}  // namespace cs::analysis
