// Integrated gradients (ALGORITHMS.md section 0) of one logit, or a logit difference, with
// respect to a model's input: the token embeddings of a language model (ModelInput.embeddings,
// positions added by the model as usual) or the pixels of an image model. The quadrature points
// between baseline and input run as batches of `chunk` rows, one forward and one backward pass
// per batch, so m points cost about m single-example forward+backward passes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "analysis/quadrature.h"
#include "analysis/results/integrated_gradients_result.h"
#include "core/progress.h"
#include "models/transformer.h"

namespace cs::analysis {

enum class IgBaselineKind {
  Zero,    ///< zero embeddings, or an all-zero (normalised) image
  Token,   ///< language models: every position holds the embedding of `token`
  Black,   ///< image models: every pixel black, i.e. `blackLevel` per channel
  Mean,    ///< image models: each channel filled with the input image's mean
  Custom,  ///< the tensor `custom`, shaped like the input ([1, T, D] or [1, C, H, W])
};

struct IgBaseline {
  IgBaselineKind kind = IgBaselineKind::Zero;
  std::int64_t token = 0;
  /// Per channel, the normalised value of a raw black pixel ((0 - mean) / std of the model's
  /// preprocessing); empty: 0 in every channel (images scaled to [0, 1] without centring).
  std::vector<double> blackLevel;
  at::Tensor custom;
};

/// F = logit[answer] - logit[foil] (foil < 0: logit[answer]) at `position` (-1: the last;
/// classifiers have one output row and ignore it). answer < 0: the input's top prediction.
struct IgTarget {
  std::int64_t answer = -1;
  std::int64_t foil = -1;
  std::int64_t position = -1;
};

struct IntegratedGradientsOptions {
  QuadratureRule rule = QuadratureRule::GaussLegendre;
  int steps = 31;  ///< m for left-riemann, n (n + 1 points) for trapezoid and gauss-legendre
  int chunk = 16;  ///< points per batched forward+backward pass
  IgBaseline baseline;
  IgTarget target;
};

/// One example: [1, T] tokens (embedded with the model's W_E), [1, T, D] embeddings, or
/// [1, C, H, W] pixels. ShapeError for a batch or a custom baseline of another shape,
/// ConfigError for a target, position or baseline the model cannot take.
IntegratedGradientsResult analyseIntegratedGradients(models::Transformer& model,
                                                     const models::ModelInput& input,
                                                     const IntegratedGradientsOptions& options = {},
                                                     Progress& progress = noProgress());

}  // namespace cs::analysis
