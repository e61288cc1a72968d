// Quadrature rules over alpha in [0, 1] for integrated gradients (ALGORITHMS.md section 0), and
// the generic integrated-gradients routine of a batched scalar function. Weights sum to 1, so a
// rule applied to a constant integrand is exact.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/progress.h"

namespace cs::analysis {

enum class QuadratureRule {
  LeftRiemann,    ///< alpha_k = k/m, k = 0..m-1, w_k = 1/m (NeuronPath)
  Trapezoid,      ///< n+1 equally spaced alphas in [eps, 1-eps], eps = 1e-3/(n+1) (LIB)
  GaussLegendre,  ///< n+1 Legendre nodes mapped from [-1, 1] to [0, 1], weights halved
  Gradient,       ///< alpha = 1, w = 1: the plain gradient times (input - baseline)
};

struct QuadratureNodes {
  std::vector<double> alphas;
  std::vector<double> weights;  ///< sum to 1
};

/// The nodes of `rule` with `steps` as ALGORITHMS.md counts them: m points for left-riemann
/// (m >= 1), n+1 points for trapezoid and gauss-legendre (n >= 0); gradient ignores `steps`.
/// ConfigError for a step count the rule cannot take.
QuadratureNodes quadratureNodes(QuadratureRule rule, int steps);

/// "left-riemann", "trapezoid", "gauss-legendre", "gradient".
std::string_view ruleName(QuadratureRule rule);
std::optional<QuadratureRule> parseRule(std::string_view name);

/// F: a batch of points [K, ...] -> their K scalar values [K]; row k of the output must depend
/// on row k of the input only (a model in eval mode on a batch does).
using BatchedScalarFn = std::function<at::Tensor(const at::Tensor& points)>;

/// IG_j = (a_j - a'_j) sum_k w_k dF/da_j at a' + alpha_k (a - a'), for one input `a` and
/// baseline `a'` of the same shape [...] (no batch axis). The interpolated points are evaluated
/// `chunk` at a time (chunk >= 1), one forward and one backward pass per chunk, so memory stays
/// bounded by the chunk while the total work is one forward+backward per node. Returns the
/// attributions in float64 with the shape of `a`. Gradients are enabled inside, whatever the
/// caller's grad mode (not inside c10::InferenceMode).
at::Tensor integratedGradientsOf(const BatchedScalarFn& f, const at::Tensor& input,
                                 const at::Tensor& baseline, const QuadratureNodes& nodes,
                                 int chunk, Progress& progress = noProgress());

}  // namespace cs::analysis
