// What the influential neuron path (ALGORITHMS.md section 1) reports: the path found layer by
// layer, the per-layer candidate scores it was chosen from, its joint attribution score next to
// that of the activation-argmax path, and what removing or enhancing either path does to the
// target probability. Plain struct (std + Eigen) for the viewers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

/// One FFN neuron: index `neuron` of blocks.{layer}.mlp.hook_post at the scored position.
struct NeuronRef {
  int layer = 0;
  std::int64_t neuron = 0;
  bool operator==(const NeuronRef&) const = default;
};

/// Joint attribution of a neuron set S: every neuron of S scaled together from 0 to its clean
/// value along the left-Riemann points alpha_k = k/m, the other neurons of S's layers held at
/// their clean values (at the scored position), every other layer running normally.
struct JointAttribution {
  std::vector<NeuronRef> neurons;   ///< S, grouped by layer in ascending layer order
  std::vector<double> activations;  ///< clean a_{l,p}, one per neuron
  /// (1/m) sum_k dF/da_{l,p} at alpha_k, one per neuron: the neuron's mean gradient on the path.
  std::vector<double> meanGradients;
  /// Paper form: sum over S of a_{l,p} * meanGradient_{l,p} (per-neuron IG products).
  double paperScore = 0.0;
  /// Reference-code form: (sum over S of meanGradient) * (sum over S of a_{l,p}), i.e. summed
  /// gradients times summed step sizes, cross terms included.
  double referenceScore = 0.0;
  double score = 0.0;  ///< the one the options chose (paperScore by default)
  /// F with S at its clean values (alpha = 1): the clean F, since the overwrite then changes
  /// nothing.
  double valueAtInput = 0.0;
  /// F with every neuron of S at 0 and the rest of its layers clean (alpha = 0). By
  /// completeness paperScore tends to valueAtInput - valueAtBaseline as m grows.
  double valueAtBaseline = 0.0;
};

/// The target probability p_c when the neurons of a path are edited in every layer at once at
/// the scored position: the live activation set to 0 ("removed") or multiplied by the enhance
/// factor ("enhanced"); later layers see the edits of earlier ones.
struct NeuronManipulation {
  double clean = 0.0;
  double removed = 0.0;
  double enhanced = 0.0;
};

struct NeuronPathResult {
  std::string scoring;      ///< "paper" or "reference"
  std::string target;       ///< e.g. "p[3] at the class token", "logit[7] at position 5"
  std::int64_t answer = 0;  ///< the class (or next token) c whose F is scored
  std::int64_t position =
      0;          ///< the position whose neurons form the path (ViT: 0, the class token)
  int steps = 0;  ///< m, left-Riemann points per attribution
  int chunk = 0;  ///< points per batched forward+backward pass
  int topK = 1;   ///< neurons kept per layer

  std::vector<int> layers;  ///< the path's layers, ascending (all layers by default)
  /// Per path layer, the topK chosen neurons, best first: path[i][0] is the path neuron of
  /// layers[i].
  std::vector<std::vector<std::int64_t>> path;
  /// Per path layer, the candidate scores s(n) it was chosen from ([layers, max d_ff]; NaN past
  /// a narrower layer's width): every candidate of the layer scaled together, the neurons chosen
  /// in earlier path layers scaled with them (ALGORITHMS.md section 1, step 2c).
  Eigen::MatrixXd candidateScores;
  /// Clean activations at the scored position, [layers, max d_ff] (NaN past a layer's width).
  Eigen::MatrixXd activations;
  JointAttribution pathScore;  ///< JAS of the whole path (all layers, only path neurons scaled)

  /// Baseline path: the topK largest clean activations per path layer, best first.
  std::vector<std::vector<std::int64_t>> activationPath;
  JointAttribution activationPathScore;

  NeuronManipulation pathEffect;            ///< p_c with the path removed or enhanced
  NeuronManipulation activationPathEffect;  ///< the same for the activation path
  double enhanceFactor = 2.0;

  int forwardBackwardPasses = 0;  ///< batched chunks of points (each one forward + backward)
  int forwardPasses = 0;          ///< plain forward passes (clean pass, manipulations)
};

}  // namespace cs::analysis
