// Quadrature rules of ALGORITHMS.md section 0 against their known nodes and weights and their
// exactness on polynomials, and the generic integrated-gradients routine: completeness is exact
// for a linear function with any rule, exact for a quadratic one with symmetric rules, and the
// chunk size changes nothing.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <numeric>

#include "analysis/quadrature.h"
#include "core/error.h"
#include "support/message_of.h"

namespace cs::analysis {
namespace {

double weightSum(const QuadratureNodes& q) {
  return std::accumulate(q.weights.begin(), q.weights.end(), 0.0);
}

// sum_k w_k alpha_k^p: the rule's value for the integral of alpha^p over [0, 1].
double moment(const QuadratureNodes& q, int p) {
  double s = 0.0;
  for (std::size_t k = 0; k < q.alphas.size(); ++k) s += q.weights[k] * std::pow(q.alphas[k], p);
  return s;
}

TEST(Quadrature, WeightsSumToOneForEveryRuleAndSize) {
  for (auto rule : {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid,
                    QuadratureRule::GaussLegendre, QuadratureRule::Gradient}) {
    for (int steps : {1, 2, 3, 8, 31, 64}) {
      const auto q = quadratureNodes(rule, steps);
      EXPECT_EQ(q.alphas.size(), q.weights.size());
      EXPECT_NEAR(weightSum(q), 1.0, 1e-14) << ruleName(rule) << " " << steps;
      for (double a : q.alphas) {
        EXPECT_GE(a, 0.0);
        EXPECT_LE(a, 1.0);
      }
    }
  }
}

TEST(Quadrature, LeftRiemannTakesKOverM) {
  const auto q = quadratureNodes(QuadratureRule::LeftRiemann, 4);
  EXPECT_EQ(q.alphas, (std::vector<double>{0.0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(q.weights, (std::vector<double>{0.25, 0.25, 0.25, 0.25}));
  // Exact for constants only: the integral of alpha comes out as (m - 1) / (2 m).
  for (int m : {1, 5, 16}) {
    EXPECT_NEAR(moment(quadratureNodes(QuadratureRule::LeftRiemann, m), 1), (m - 1.0) / (2.0 * m),
                1e-15);
  }
}

TEST(Quadrature, TrapezoidSpansEpsilonToOneMinusEpsilon) {
  const int n = 4;
  const auto q = quadratureNodes(QuadratureRule::Trapezoid, n);
  ASSERT_EQ(q.alphas.size(), 5u);
  const double eps = 1e-3 / 5.0;
  for (int k = 0; k <= n; ++k) {
    EXPECT_NEAR(q.alphas[k], eps + (1.0 - 2.0 * eps) * k / n, 1e-16);
  }
  EXPECT_EQ(q.weights, (std::vector<double>{0.125, 0.25, 0.25, 0.25, 0.125}));
  const auto single = quadratureNodes(QuadratureRule::Trapezoid, 0);
  EXPECT_EQ(single.alphas, std::vector<double>{0.5});
  EXPECT_EQ(single.weights, std::vector<double>{1.0});
  // Symmetric about 1/2, so linear functions integrate exactly.
  for (int steps : {0, 1, 3, 10}) {
    EXPECT_NEAR(moment(quadratureNodes(QuadratureRule::Trapezoid, steps), 1), 0.5, 1e-15);
  }
}

TEST(Quadrature, GaussLegendreMatchesTheTabulatedNodes) {
  const auto one = quadratureNodes(QuadratureRule::GaussLegendre, 0);
  EXPECT_EQ(one.alphas, std::vector<double>{0.5});
  EXPECT_NEAR(one.weights[0], 1.0, 1e-15);
  const auto two = quadratureNodes(QuadratureRule::GaussLegendre, 1);
  ASSERT_EQ(two.alphas.size(), 2u);
  EXPECT_NEAR(two.alphas[0], 0.5 - 0.5 / std::sqrt(3.0), 1e-15);
  EXPECT_NEAR(two.alphas[1], 0.5 + 0.5 / std::sqrt(3.0), 1e-15);
  EXPECT_NEAR(two.weights[0], 0.5, 1e-15);
  const auto three = quadratureNodes(QuadratureRule::GaussLegendre, 2);
  ASSERT_EQ(three.alphas.size(), 3u);
  const double x = 0.5 * std::sqrt(0.6);
  EXPECT_NEAR(three.alphas[0], 0.5 - x, 1e-15);
  EXPECT_NEAR(three.alphas[1], 0.5, 1e-15);
  EXPECT_NEAR(three.alphas[2], 0.5 + x, 1e-15);
  EXPECT_NEAR(three.weights[0], 5.0 / 18.0, 1e-15);
  EXPECT_NEAR(three.weights[1], 8.0 / 18.0, 1e-15);
  EXPECT_NEAR(three.weights[2], 5.0 / 18.0, 1e-15);
}

TEST(Quadrature, GaussLegendreIsExactUpToDegreeTwoNPlusOne) {
  for (int n : {0, 1, 4, 15, 40}) {
    const auto q = quadratureNodes(QuadratureRule::GaussLegendre, n);
    const int points = n + 1;
    for (int p = 0; p <= 2 * points - 1; ++p) {
      EXPECT_NEAR(moment(q, p), 1.0 / (p + 1), 1e-13) << "n " << n << " degree " << p;
    }
    // And not beyond: the first degree past exactness is off (visibly so for few nodes).
    if (n <= 4) {
      EXPECT_GT(std::abs(moment(q, 2 * points) - 1.0 / (2 * points + 1)), 1e-16) << n;
    }
  }
}

TEST(Quadrature, GradientIsOnePointAtTheInput) {
  const auto q = quadratureNodes(QuadratureRule::Gradient, 7);
  EXPECT_EQ(q.alphas, std::vector<double>{1.0});
  EXPECT_EQ(q.weights, std::vector<double>{1.0});
}

TEST(Quadrature, NamesRoundTripAndBadSizesAreRefused) {
  for (auto rule : {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid,
                    QuadratureRule::GaussLegendre, QuadratureRule::Gradient}) {
    EXPECT_EQ(parseRule(ruleName(rule)), rule);
  }
  EXPECT_FALSE(parseRule("simpson").has_value());
  const auto message =
      test::messageOf<ConfigError>([] { quadratureNodes(QuadratureRule::LeftRiemann, 0); });
  EXPECT_NE(message.find("left-riemann"), std::string::npos) << message;
  EXPECT_NO_THROW(quadratureNodes(QuadratureRule::Trapezoid, 0));
  test::messageOf<ConfigError>([] { quadratureNodes(QuadratureRule::GaussLegendre, -1); });
}

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// A fixed random point [3, 2].
at::Tensor point(std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({3, 2}, generator, kDouble);
}

// F(x) = sum_j c_j x_j + b per row of a batch [K, 3, 2].
at::Tensor linear(const at::Tensor& points) {
  const auto c = torch::tensor({{1.5, -2.0}, {0.25, 3.0}, {-1.0, 0.5}}, kDouble);
  return (points * c).sum({1, 2}) + 0.7;
}

// F(x) = sum_j c_j x_j^2 + x_0 x_1 per row: the gradient is linear in alpha.
at::Tensor quadratic(const at::Tensor& points) {
  const auto flat = points.flatten(1);
  const auto c = torch::linspace(-1.0, 2.0, flat.size(1), kDouble);
  return (flat.pow(2) * c).sum(1) + flat.select(1, 0) * flat.select(1, 1);
}

// Smooth and far from polynomial.
at::Tensor wavy(const at::Tensor& points) {
  return torch::sin(3.0 * points.flatten(1)).sum(1) * torch::exp(points.flatten(1).select(1, 2));
}

double completenessGap(const BatchedScalarFn& f, const at::Tensor& a, const at::Tensor& b,
                       const QuadratureNodes& q, int chunk = 4) {
  const auto ig = integratedGradientsOf(f, a, b, q, chunk);
  const double expected = (f(a.unsqueeze(0)) - f(b.unsqueeze(0))).item<double>();  // F(a) - F(a')
  return std::abs(ig.sum().item<double>() - expected);
}

TEST(GenericIntegratedGradients, CompletenessIsExactForALinearFunctionWithAnyRule) {
  const auto a = point(1);
  const auto b = point(2);
  for (auto rule : {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid,
                    QuadratureRule::GaussLegendre, QuadratureRule::Gradient}) {
    for (int steps : {1, 3}) {
      EXPECT_LT(completenessGap(linear, a, b, quadratureNodes(rule, steps)), 1e-12)
          << ruleName(rule);
    }
  }
  // And each element's share is c_j (a_j - a'_j).
  const auto ig =
      integratedGradientsOf(linear, a, b, quadratureNodes(QuadratureRule::Gradient, 0), 1);
  const auto c = torch::tensor({{1.5, -2.0}, {0.25, 3.0}, {-1.0, 0.5}}, kDouble);
  EXPECT_LT((ig - c * (a - b)).abs().max().item<double>(), 1e-14);
}

TEST(GenericIntegratedGradients, SymmetricRulesAreExactForAQuadratic) {
  const auto a = point(3);
  const auto b = point(4);
  EXPECT_LT(completenessGap(quadratic, a, b, quadratureNodes(QuadratureRule::GaussLegendre, 0)),
            1e-12);
  EXPECT_LT(completenessGap(quadratic, a, b, quadratureNodes(QuadratureRule::Trapezoid, 2)), 1e-12);
  EXPECT_GT(completenessGap(quadratic, a, b, quadratureNodes(QuadratureRule::LeftRiemann, 4)),
            1e-6);
}

TEST(GenericIntegratedGradients, ErrorShrinksAsTheRuleIsRefined) {
  const auto a = point(5);
  const auto b = torch::zeros({3, 2}, kDouble);
  for (auto rule :
       {QuadratureRule::LeftRiemann, QuadratureRule::Trapezoid, QuadratureRule::GaussLegendre}) {
    // Past the first few points the leading error term rules: 1/m for left Riemann.
    const double coarse = completenessGap(wavy, a, b, quadratureNodes(rule, 16));
    const double fine = completenessGap(wavy, a, b, quadratureNodes(rule, 256));
    // Gauss-Legendre reaches rounding level at 16 nodes already.
    EXPECT_LT(fine, std::max(0.1 * coarse, 1e-13)) << ruleName(rule);
    EXPECT_LT(fine, rule == QuadratureRule::LeftRiemann ? 1e-2 : 1e-4) << ruleName(rule);
  }
}

TEST(GenericIntegratedGradients, ChunkSizeDoesNotChangeTheResult) {
  const auto a = point(6);
  const auto b = point(7);
  const auto q = quadratureNodes(QuadratureRule::GaussLegendre, 9);
  const auto whole = integratedGradientsOf(wavy, a, b, q, 10);
  for (int chunk : {1, 3, 7, 100}) {
    EXPECT_LT((integratedGradientsOf(wavy, a, b, q, chunk) - whole).abs().max().item<double>(),
              1e-14)
        << chunk;
  }
}

TEST(GenericIntegratedGradients, BaselineEqualToInputGivesZero) {
  const auto a = point(8);
  const auto ig =
      integratedGradientsOf(wavy, a, a.clone(), quadratureNodes(QuadratureRule::Trapezoid, 5), 2);
  EXPECT_EQ(ig.abs().max().item<double>(), 0.0);
}

TEST(GenericIntegratedGradients, WorksUnderNoGradAndRefusesInferenceMode) {
  const auto a = point(9);
  const auto b = torch::zeros({3, 2}, kDouble);
  const auto q = quadratureNodes(QuadratureRule::Gradient, 0);
  {
    torch::NoGradGuard noGrad;
    EXPECT_LT(completenessGap(linear, a, b, q), 1e-12);
  }
  c10::InferenceMode inference;
  const auto message =
      test::messageOf<ConfigError>([&] { integratedGradientsOf(linear, a, b, q, 1); });
  EXPECT_NE(message.find("inference"), std::string::npos) << message;
}

TEST(GenericIntegratedGradients, RefusesMismatchedShapesAndBadChunks) {
  const auto a = point(10);
  const auto q = quadratureNodes(QuadratureRule::Gradient, 0);
  const auto shape = test::messageOf<ShapeError>([&] {
    integratedGradientsOf(linear, a, torch::zeros({2, 3}, kDouble), q, 1);
  });
  EXPECT_NE(shape.find("[2, 3]"), std::string::npos) << shape;
  test::messageOf<ConfigError>([&] { integratedGradientsOf(linear, a, a, q, 0); });
}

}  // namespace
}  // namespace cs::analysis
