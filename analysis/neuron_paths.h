// Influential neuron paths (ALGORITHMS.md section 1; Discovering Influential Neuron Path in
// Vision Transformers, ICLR 2025, reference code foundation-model-research/NeuronPath): for one
// input, one FFN neuron per layer (or K), chosen greedily layer by layer so that the joint
// integrated-gradient attribution of the neurons chosen so far to the target F is largest.
//
// Neurons are the values of blocks.L.mlp.hook_post at one position: the class token of a ViT,
// as in the paper. Language models are an extension of this implementation: the last (real)
// token, or a chosen position, takes the class token's place, and F is the prediction there.
// Activations are read and overwritten through hooks only; the model is not changed.
#pragma once

#include <cstdint>
#include <vector>

#include "analysis/results/neuron_path_result.h"
#include "core/progress.h"
#include "models/transformer.h"

namespace cs::analysis {

enum class NeuronPathScoring {
  Paper,      ///< s(n) = sum over the set of a * mean gradient (per-neuron IG products)
  Reference,  ///< (sum of mean gradients) * (sum of activations), as the reference code does
};

enum class NeuronPathTarget {
  Probability,  ///< F = softmax(logits)[c], the paper's target
  Logit,        ///< F = logits[c]: not squashed when the prediction is saturated
};

struct NeuronPathOptions {
  int steps = 20;  ///< m, left-Riemann points alpha_k = k/m, k = 0..m-1
  int chunk = 20;  ///< points per batched forward+backward pass; bounds memory, not the result
  NeuronPathScoring scoring = NeuronPathScoring::Paper;
  NeuronPathTarget targetKind = NeuronPathTarget::Probability;
  int topK = 1;  ///< neurons kept per layer, 1 <= K <= the narrowest path layer's d_ff
  /// The path's layers (ascending, distinct); empty: every layer. Layers outside the path run
  /// normally and are not held at their clean values.
  std::vector<int> layers;
  std::int64_t target = -1;    ///< c: class or next token; -1: the input's top prediction
  std::int64_t position = -1;  ///< language models: scored position, -1 the last real token
  double enhanceFactor = 2.0;  ///< the "enhance" manipulation multiplies path neurons by this
};

/// The section-1 analysis of one example ([1, T] tokens, [1, T, D] embeddings or [1, C, H, W]
/// pixels): layer-progressive path, its JAS, the activation-argmax baseline path and its JAS, and
/// the remove/enhance manipulation of both. Cost: (path layers + 2) x ceil(m / chunk)
/// forward+backward passes of up to `chunk` rows, plus two forward passes. ConfigError for bad
/// options or a model without MLPs in a path layer; ShapeError for a batch; cs::Cancelled when
/// the progress is cancelled (checked once per chunk).
NeuronPathResult findNeuronPath(models::Transformer& model, const models::ModelInput& input,
                                const NeuronPathOptions& options = {},
                                Progress& progress = noProgress());

/// The joint attribution of any neuron set (options: steps, chunk, scoring, target kind, target,
/// position). The set's layers are the ones held at their clean values.
JointAttribution jointAttribution(models::Transformer& model, const models::ModelInput& input,
                                  const std::vector<NeuronRef>& neurons,
                                  const NeuronPathOptions& options = {},
                                  Progress& progress = noProgress());

/// p_c (always the probability, whatever options.targetKind) clean, with the neurons set to 0,
/// and with them multiplied by options.enhanceFactor. One forward pass of three rows.
NeuronManipulation manipulateNeurons(models::Transformer& model, const models::ModelInput& input,
                                     const std::vector<NeuronRef>& neurons,
                                     const NeuronPathOptions& options = {});

}  // namespace cs::analysis
