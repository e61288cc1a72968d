// Quadrature nodes and the chunked integrated-gradients loop. Gauss-Legendre nodes come from
// Newton's method on the Legendre polynomial, which converges to double precision in a few
// steps from the Chebyshev-like first guess.
#include "analysis/quadrature.h"

#include "core/torch_api.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::analysis {

namespace {

// n points and weights of Gauss-Legendre on [-1, 1], ascending.
QuadratureNodes legendreOnMinusOneOne(int n) {
  QuadratureNodes q;
  q.alphas.resize(static_cast<std::size_t>(n));
  q.weights.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double x = std::cos(std::numbers::pi * (i + 0.75) / (n + 0.5));
    // P_n(x) and P_{n-1}(x) by the three-term recurrence, and P_n'(x).
    auto legendre = [n](double at, double& derivative) {
      double p = 1.0, previous = 0.0;
      for (int j = 1; j <= n; ++j) {
        const double next = ((2.0 * j - 1.0) * at * p - (j - 1.0) * previous) / j;
        previous = p;
        p = next;
      }
      derivative = n * (at * p - previous) / (at * at - 1.0);
      return p;
    };
    double derivative = 1.0;
    for (int iteration = 0; iteration < 100; ++iteration) {
      const double step = legendre(x, derivative) / derivative;
      x -= step;
      if (std::abs(step) < 1e-16) break;
    }
    legendre(x, derivative);  // the weight needs P_n' at the converged node
    // Node i counts down from +1; store ascending.
    const auto k = static_cast<std::size_t>(n - 1 - i);
    q.alphas[k] = x;
    q.weights[k] = 2.0 / ((1.0 - x * x) * derivative * derivative);
  }
  return q;
}

}  // namespace

QuadratureNodes quadratureNodes(QuadratureRule rule, int steps) {
  QuadratureNodes q;
  switch (rule) {
    case QuadratureRule::LeftRiemann: {
      if (steps < 1) throw ConfigError("left-riemann takes at least 1 step (m >= 1)");
      for (int k = 0; k < steps; ++k) {
        q.alphas.push_back(static_cast<double>(k) / steps);
        q.weights.push_back(1.0 / steps);
      }
      return q;
    }
    case QuadratureRule::Trapezoid: {
      if (steps < 0) throw ConfigError("trapezoid takes n >= 0 intervals (n + 1 points)");
      if (steps == 0) return {{0.5}, {1.0}};
      const double eps = 1e-3 / (steps + 1);
      for (int k = 0; k <= steps; ++k) {
        q.alphas.push_back(eps + (1.0 - 2.0 * eps) * k / steps);
        q.weights.push_back(k == 0 || k == steps ? 0.5 / steps : 1.0 / steps);
      }
      return q;
    }
    case QuadratureRule::GaussLegendre: {
      if (steps < 0) throw ConfigError("gauss-legendre takes n >= 0 (n + 1 nodes)");
      q = legendreOnMinusOneOne(steps + 1);
      for (std::size_t k = 0; k < q.alphas.size(); ++k) {
        q.alphas[k] = 0.5 * (q.alphas[k] + 1.0);
        q.weights[k] *= 0.5;
      }
      return q;
    }
    case QuadratureRule::Gradient:
      return {{1.0}, {1.0}};
  }
  throw ConfigError("unknown quadrature rule");
}

std::string_view ruleName(QuadratureRule rule) {
  switch (rule) {
    case QuadratureRule::LeftRiemann:
      return "left-riemann";
    case QuadratureRule::Trapezoid:
      return "trapezoid";
    case QuadratureRule::GaussLegendre:
      return "gauss-legendre";
    case QuadratureRule::Gradient:
      return "gradient";
  }
  return "?";
}

std::optional<QuadratureRule> parseRule(std::string_view name) {
  for (auto rule : {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid,
                    QuadratureRule::GaussLegendre, QuadratureRule::Gradient}) {
    if (ruleName(rule) == name) return rule;
  }
  return std::nullopt;
}

at::Tensor integratedGradientsOf(const BatchedScalarFn& f, const at::Tensor& input,
                                 const at::Tensor& baseline, const QuadratureNodes& nodes,
                                 int chunk, Progress& progress) {
  if (input.sizes() != baseline.sizes()) {
    throw ShapeError("integrated gradients: the input " + shapeText(input.sizes()) +
                     " and the baseline " + shapeText(baseline.sizes()) + " differ in shape");
  }
  if (chunk < 1) throw ConfigError("integrated gradients: the chunk must hold at least 1 point");
  if (nodes.alphas.empty() || nodes.alphas.size() != nodes.weights.size()) {
    throw ConfigError("integrated gradients: the quadrature rule has no nodes");
  }
  if (c10::InferenceMode::is_enabled()) {
    throw ConfigError(
        "integrated gradients need gradients, and this runs inside an inference-mode scope; "
        "call it outside c10::InferenceMode");
  }
  torch::AutoGradMode gradients(true);
  const auto start = baseline.detach();
  const auto delta = input.detach() - start;  // [...]
  auto accumulated = at::zeros(input.sizes(), input.options().dtype(at::kDouble));
  const auto K = static_cast<int64_t>(nodes.alphas.size());
  std::vector<int64_t> column(static_cast<std::size_t>(input.dim() + 1), 1);
  column[0] = -1;  // [count, 1, ...]: one alpha per row
  for (int64_t begin = 0; begin < K; begin += chunk) {
    progress.check();
    const int64_t count = std::min<int64_t>(chunk, K - begin);
    const std::vector<double> alphas(nodes.alphas.begin() + begin,
                                     nodes.alphas.begin() + begin + count);
    const std::vector<double> weights(nodes.weights.begin() + begin,
                                      nodes.weights.begin() + begin + count);
    const auto alpha =
        at::tensor(alphas, input.options().dtype(at::kDouble)).to(input.scalar_type()).view(column);
    auto points = (start.unsqueeze(0) + alpha * delta.unsqueeze(0)).detach().requires_grad_(true);
    const auto values = f(points);  // [count]
    if (values.dim() != 1 || values.size(0) != count) {
      throw ShapeError("integrated gradients: the function gave " + shapeText(values.sizes()) +
                       " for " + std::to_string(count) + " points; it must give one scalar each");
    }
    // Rows are independent, so the gradient of the sum is every row's own gradient.
    const auto grads = torch::autograd::grad({values.sum()}, {points})[0];  // [count, ...]
    const auto w = at::tensor(weights, accumulated.options()).view(column);
    accumulated += (grads.to(at::kDouble) * w).sum(0);
    progress.setFraction(static_cast<double>(begin + count) / static_cast<double>(K));
  }
  return accumulated * delta.to(at::kDouble);
}

}  // namespace cs::analysis
