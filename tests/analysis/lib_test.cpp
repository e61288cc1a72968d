// The Local Interaction Basis (ALGORITHMS.md section 9): the folded sections reproduce the model,
// C^T G C = diag(Lambda), C+ C = I, C+ M' C+^T = I, the final basis, E >= 0, rotate_final
// invariance, the centred constant direction, the linear closed form, the ablation curve's
// last point is the unmodified model, the "(1-0)*alpha" basis's invariants and linear closed form,
// and stochastic sources that converge to the exact Jacobians.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "analysis/lib_sections.h"
#include "analysis/local_interaction_basis.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "models/layers.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/random_checkpoint.h"
#include "support/message_of.h"
#include "support/predicted_rows.h"
#include "support/rows_dataset.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using test::PredictedRows;

double maxAbs(const Eigen::MatrixXd& m) { return m.size() ? m.cwiseAbs().maxCoeff() : 0.0; }

// C^T G C = diag(Lambda) (activations in the basis are uncorrelated with variance Lambda) and
// C+ C = I.
void expectDecorrelatingBasis(const LibNodeLayer& L) {
  const Eigen::MatrixXd Lambda = L.lambda.asDiagonal();
  const double scale = std::max(1.0, L.lambda.maxCoeff());
  EXPECT_LT(maxAbs(L.C.transpose() * L.gram * L.C - Lambda), 1e-11 * scale);
  const auto I = Eigen::MatrixXd::Identity(L.C.cols(), L.C.cols());
  EXPECT_LT(maxAbs(L.Cplus * L.C - I), 1e-10);
}

LibOptions options(std::vector<std::string> layers) {
  LibOptions o;
  o.nodeLayers = std::move(layers);
  o.batchSize = 16;
  return o;
}

TEST(LibSections, FoldedSectionsReproduceTheModel) {
  struct Case {
    std::unique_ptr<models::Transformer> model;
    models::ModelInput input;
  };
  std::vector<Case> cases;
  cases.push_back({test::tinyLm(1), {test::tinyTokens(3, 5, 1), {}, {}, {}}});
  cases.push_back({test::tinyLm(2, "llama"), {test::tinyTokens(3, 5, 2), {}, {}, {}}});
  cases.push_back({test::tinyVit(3), {{}, {}, {}, test::tinyImages(3, 3)}});
  for (auto& [model, input] : cases) {
    torch::NoGradGuard noGrad;
    const FoldedSections sections(*model);
    auto logits = model->forward(input);
    if (logits.dim() == 3) logits = logits.select(1, logits.size(1) - 1);
    const auto u = sections.embed(*model, input);
    EXPECT_EQ(u.select(2, u.size(2) - 1).min().item<double>(), 1.0);
    const auto folded = sections.run(0, sections.outputIndex(), u).squeeze(1);
    EXPECT_LT((folded - logits).abs().max().item<double>(), 1e-12);
    // Any split into sections gives the same.
    const auto mid = sections.run(0, 3, u);
    EXPECT_LT((sections.run(3, sections.outputIndex(), mid).squeeze(1) - logits)
                  .abs()
                  .max()
                  .item<double>(),
              1e-12);
  }
}

TEST(LibSections, ActivationRootGivesOne) {
  for (const auto a : {models::Activation::Relu, models::Activation::Gelu,
                       models::Activation::GeluTanh, models::Activation::Silu}) {
    const double r = activationRoot(a);
    const auto y = models::applyActivation(at::tensor({r}, at::kDouble), a).item<double>();
    EXPECT_NEAR(y, 1.0, 1e-14);
  }
  EXPECT_NEAR(activationRoot(models::Activation::Gelu), 1.144451, 1e-6);
  EXPECT_NEAR(activationRoot(models::Activation::GeluTanh), 1.144630, 1e-6);
}

TEST(Lib, BasisInvariantsHoldOnATinyTransformer) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(48, 4, 7));
  auto o = options(
      {"blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid", "blocks.1.hook_resid_pre", "output"});
  const auto r = computeLib(*model, rows, o);
  ASSERT_EQ(r.layers.size(), 4u);
  ASSERT_EQ(r.edges.size(), 3u);
  for (std::size_t l = 0; l + 1 < r.layers.size(); ++l) {
    const auto& L = r.layers[l];
    SCOPED_TRACE(L.name);
    ASSERT_GT(L.C.cols(), 1);
    expectDecorrelatingBasis(L);
    const auto I = Eigen::MatrixXd::Identity(L.C.cols(), L.C.cols());
    EXPECT_LT(maxAbs(L.Cplus * L.jacobianGram * L.Cplus.transpose() - I), 1e-9);
    for (Eigen::Index j = 1; j < L.lambda.size(); ++j) EXPECT_LE(L.lambda[j], L.lambda[j - 1]);
  }
  const auto& final = r.layers.back();
  EXPECT_LT(maxAbs(final.C.transpose() * final.C -
                   Eigen::MatrixXd::Identity(final.C.cols(), final.C.cols())),
            1e-12);
  for (const auto& E : r.edges) {
    EXPECT_GE(E.minCoeff(), 0.0);
    EXPECT_GT(E.maxCoeff(), 0.0);
  }
  EXPECT_EQ(r.edges[0].rows(), r.layers[1].C.cols());
  EXPECT_EQ(r.edges[0].cols(), r.layers[0].C.cols());
}

TEST(Lib, UnrotatedFinalLayerIsTheIdentity) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(16, 4, 7));
  auto o = options({"blocks.1.hook_resid_pre", "output"});
  o.rotateFinal = false;
  const auto r = computeLib(*model, rows, o);
  EXPECT_EQ(r.layers[1].C, Eigen::MatrixXd::Identity(16, 16));
}

TEST(Lib, RotatingTheFinalLayerChangesNoEarlierBasisNorEdge) {
  auto model = test::tinyLm(5);
  // A residual-stream final layer with more rows than width: its Gram has full rank and
  // nothing is truncated (logits would not: they span only d + 1 directions).
  const PredictedRows rows(*model, test::tinyTokens(64, 3, 8));
  auto o =
      options({"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"});
  o.tau = 1e-10;
  o.batchSize = 64;
  o.ablationCurves = false;
  const auto rotated = computeLib(*model, rows, o);
  o.rotateFinal = false;
  const auto plain = computeLib(*model, rows, o);
  ASSERT_EQ(rotated.layers.back().C.cols(), 9);
  for (std::size_t l = 0; l + 1 < rotated.layers.size(); ++l) {
    const auto& a = rotated.layers[l].C;
    const auto& b = plain.layers[l].C;
    ASSERT_EQ(a.cols(), b.cols());
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      const double sign = a.col(j).dot(b.col(j)) < 0 ? -1.0 : 1.0;
      EXPECT_LT((a.col(j) - sign * b.col(j)).cwiseAbs().maxCoeff(),
                1e-6 * a.col(j).cwiseAbs().maxCoeff())
          << rotated.layers[l].name << " direction " << j;
    }
  }
  // Edges between earlier layers do not see the final rotation (squares of sums: the sign of a
  // direction does not matter).
  EXPECT_LT(maxAbs(rotated.edges[0] - plain.edges[0]), 1e-6 * maxAbs(plain.edges[0]));
}

TEST(Lib, CentredFirstDirectionIsConstantAndTheOthersHaveZeroMean) {
  auto model = test::tinyLm(6);
  const PredictedRows rows(*model, test::tinyTokens(40, 4, 9));
  auto o = options({"blocks.1.hook_resid_pre", "output"});
  o.centre = true;
  const auto r = computeLib(*model, rows, o);
  const auto& L = r.layers[0];
  // f over the rows from the Gram alone is not enough: recompute the activations.
  const FoldedSections sections(*model);
  const auto batch = rows.batch(0, rows.size());
  const auto u = sections.run(0, 2, sections.embed(*model, {batch.tokens, {}, {}, {}}));
  const auto flat = u.reshape({-1, u.size(2)}).contiguous();
  const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> f(
      flat.data_ptr<double>(), flat.size(0), flat.size(1));
  const Eigen::MatrixXd hat = f * L.C;
  EXPECT_LT((hat.col(0).array() - hat(0, 0)).abs().maxCoeff(), 1e-10);
  EXPECT_GT(std::abs(hat(0, 0)), 1e-6);
  for (Eigen::Index j = 1; j < hat.cols(); ++j) {
    EXPECT_LT(std::abs(hat.col(j).mean()), 1e-9 * std::max(1.0, hat.col(j).cwiseAbs().maxCoeff()));
  }
}

TEST(Lib, LinearSectionHasTheClosedFormJacobianGram) {
  // No norms, every sublayer skipped: resid_pre 0 -> output is f [h, 1] times W = [W_U; b_U].
  auto model = test::linearSectionModel(5, 3);
  const PredictedRows rows(*model, test::tinyTokens(30, 1, 4).remainder(5));
  auto o = options({"blocks.0.hook_resid_pre", "output"});
  o.ablationCurves = false;
  const auto r = computeLib(*model, rows, o);
  Eigen::MatrixXd W(7, 5);
  const auto wu = model->weights().W_U.contiguous();
  const auto bu = model->weights().b_U.contiguous();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 5; ++j) W(i, j) = wu[i][j].item<double>();
  for (int j = 0; j < 5; ++j) W(6, j) = bu[j].item<double>();
  const Eigen::MatrixXd WC = W * r.layers[1].C;
  EXPECT_LT(maxAbs(r.layers[0].jacobianGram - WC * WC.transpose()), 1e-12 * maxAbs(WC));
}

TEST(Lib, KeepingEveryDirectionIsTheUnmodifiedModel) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(32, 4, 7));
  const auto r = computeLib(*model, rows, options({"blocks.1.hook_resid_pre", "output"}));
  ASSERT_EQ(r.curves.size(), 2u);
  EXPECT_EQ(r.baseAccuracy, 1.0);  // the targets are the model's own predictions
  for (const auto& curve : r.curves) {
    EXPECT_EQ(curve.accuracy.back(), r.baseAccuracy) << curve.basis;
    EXPECT_EQ(curve.kept.front(), 0);
  }
  EXPECT_EQ(ablationSchedule(40),
            (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 32, 40}));
}

TEST(Lib, PositionwiseShortcutGivesTheDenseJacobiansAndEdges) {
  auto model = test::tinyLm(4, "gpt2", {.attentionFree = true});
  const PredictedRows rows(*model, test::tinyTokens(24, 4, 3));
  auto o = options({"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "output"});
  o.ablationCurves = false;
  const auto fast = computeLib(*model, rows, o);
  o.positionwiseShortcut = false;
  const auto dense = computeLib(*model, rows, o);
  for (std::size_t l = 0; l + 1 < fast.layers.size(); ++l) {
    EXPECT_LT(maxAbs(fast.layers[l].jacobianGram - dense.layers[l].jacobianGram),
              1e-12 * maxAbs(dense.layers[l].jacobianGram));
    EXPECT_LT(maxAbs(fast.edges[l] - dense.edges[l]), 1e-10 * maxAbs(dense.edges[l]));
  }
}

TEST(Lib, OneZeroAlphaBasisKeepsTheGramInvariants) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(48, 4, 7));
  auto o = options(
      {"blocks.0.hook_resid_pre", "blocks.0.hook_resid_mid", "blocks.1.hook_resid_pre", "output"});
  o.basis = LibBasis::OneZeroAlpha;
  o.ablationCurves = false;
  const auto r = computeLib(*model, rows, o);
  EXPECT_EQ(r.basis, "(1-0)*alpha");
  for (std::size_t l = 0; l + 1 < r.layers.size(); ++l) {
    const auto& L = r.layers[l];
    SCOPED_TRACE(L.name);
    ASSERT_GT(L.C.cols(), 1);
    // C = R V Lambda^1/2 whatever Lambda is, so this holds for this basis too.
    expectDecorrelatingBasis(L);
    // V diagonalises M = R+ M' R+^T, but Lambda is not M's spectrum: C+ M' C+^T is diagonal,
    // not the identity.
    const Eigen::MatrixXd D = L.Cplus * L.jacobianGram * L.Cplus.transpose();
    const Eigen::MatrixXd offDiagonal = D - Eigen::MatrixXd(D.diagonal().asDiagonal());
    EXPECT_LT(maxAbs(offDiagonal), 1e-9 * maxAbs(D));
    EXPECT_GT((D.diagonal().array() - 1.0).abs().maxCoeff(), 1e-3);
    EXPECT_GE(L.lambda.minCoeff(), 0.0);
    for (Eigen::Index j = 1; j < L.lambda.size(); ++j) EXPECT_LE(L.lambda[j], L.lambda[j - 1]);
  }
  for (const auto& E : r.edges) {
    EXPECT_GE(E.minCoeff(), 0.0);
    EXPECT_GT(E.maxCoeff(), 0.0);
  }
}

TEST(Lib, OneZeroAlphaOnALinearSectionIsTheJacobianBasis) {
  // f W with W = [W_U; b_U] [7, 12] on 12 tokens: the Gram G = R+^T R+ has full rank. With
  // A = W C (W C)^T the Jacobian basis has M' = A, M = R+ A R+^T = V Lambda V^T. The (1-0)*alpha
  // gradient is g_s = A f_s, so M' = A G A and Lambda' = A G: its M = (R+ A R+^T)^2 has the same
  // V, and |diag(V^T R+ A G R V)| = |diag(V^T R+ A R+^T V)| the same Lambda.
  auto model = test::linearSectionModel(12, 5);
  const PredictedRows rows(*model, test::tinyTokens(60, 1, 4).remainder(12));
  auto o = options({"blocks.0.hook_resid_pre", "output"});
  o.ablationCurves = false;
  o.edges = false;
  const auto jacobian = computeLib(*model, rows, o);
  o.basis = LibBasis::OneZeroAlpha;
  const auto alpha = computeLib(*model, rows, o);
  Eigen::MatrixXd W(7, 12);
  const auto wu = model->weights().W_U.contiguous();
  const auto bu = model->weights().b_U.contiguous();
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 12; ++j) W(i, j) = wu[i][j].item<double>();
  for (int j = 0; j < 12; ++j) W(6, j) = bu[j].item<double>();
  const Eigen::MatrixXd WC = W * alpha.layers[1].C;
  const Eigen::MatrixXd A = WC * WC.transpose();
  const auto& G = alpha.layers[0].gram;
  EXPECT_LT(maxAbs(alpha.layers[0].jacobianGram - A * G * A), 1e-12 * maxAbs(A * G * A));
  const auto& la = alpha.layers[0].lambda;
  const auto& lj = jacobian.layers[0].lambda;
  ASSERT_EQ(la.size(), 7);
  ASSERT_EQ(lj.size(), 7);
  EXPECT_LT((la - lj).cwiseAbs().maxCoeff(), 1e-10 * lj[0]);
  const auto& ca = alpha.layers[0].C;
  const auto& cj = jacobian.layers[0].C;
  for (Eigen::Index j = 0; j < 7; ++j) {
    const double sign = ca.col(j).dot(cj.col(j)) < 0 ? -1.0 : 1.0;
    EXPECT_LT((ca.col(j) - sign * cj.col(j)).cwiseAbs().maxCoeff(),
              1e-8 * cj.col(j).cwiseAbs().maxCoeff())
        << "direction " << j;
  }
}

// The relative difference of two matrices.
double relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& exact) {
  return maxAbs(a - exact) / maxAbs(exact);
}

TEST(Lib, StochasticSourcesApproachTheExactJacobiansAndAreUnbiased) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(32, 4, 7));
  // Attention and MLP of block 1: four output positions mixed; the final basis is exact.
  auto o = options({"blocks.1.hook_resid_pre", "blocks.1.hook_resid_post"});
  o.ablationCurves = false;
  const auto exact = computeLib(*model, rows, o);
  const auto& M = exact.layers[0].jacobianGram;
  std::vector<double> errors, edgeErrors;
  for (const std::int64_t R : {4, 32, 256}) {
    o.stochasticSources = R;
    o.seed = 11;
    const auto r = computeLib(*model, rows, o);
    EXPECT_EQ(r.stochasticSources, R);
    errors.push_back(relative(r.layers[0].jacobianGram, M));
    // The edges also go through the (estimated) basis: they converge with it.
    edgeErrors.push_back(relative(r.edges[0], exact.edges[0]));
    std::printf("R = %lld: M' off by %.3g, edges by %.3g (relative)\n", static_cast<long long>(R),
                errors.back(), edgeErrors.back());
  }
  EXPECT_GT(errors[0], 0.0);
  EXPECT_LT(errors[1], errors[0]);
  EXPECT_LT(errors[2], errors[1]);
  EXPECT_LT(errors[2], 0.1);
  EXPECT_LT(edgeErrors[2], edgeErrors[0]);
  // Unbiased: the mean of 16 estimates with R = 4 is much closer than one of them is.
  o.stochasticSources = 4;
  o.edges = false;
  Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(M.rows(), M.cols());
  double single = 0.0;
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    o.seed = seed;
    const Eigen::MatrixXd Mr = computeLib(*model, rows, o).layers[0].jacobianGram;
    mean += Mr / 16.0;
    single += relative(Mr, M) / 16.0;
  }
  std::printf("R = 4: one estimate off by %.3g, the mean of 16 by %.3g (relative)\n", single,
              relative(mean, M));
  EXPECT_LT(relative(mean, M), 0.5 * single);
}

TEST(Lib, StochasticSourcesLeavePositionwiseSectionsExact) {
  auto model = test::tinyLm(4, "gpt2", {.attentionFree = true});
  const PredictedRows rows(*model, test::tinyTokens(24, 4, 3));
  auto o = options({"blocks.0.hook_resid_pre", "blocks.1.hook_resid_pre", "output"});
  o.ablationCurves = false;
  const auto exact = computeLib(*model, rows, o);
  o.stochasticSources = 2;
  const auto r = computeLib(*model, rows, o);
  for (std::size_t l = 0; l + 1 < r.layers.size(); ++l) {
    EXPECT_EQ(r.layers[l].jacobianGram, exact.layers[l].jacobianGram);
    EXPECT_EQ(r.edges[l], exact.edges[l]);
  }
}

TEST(Lib, ClearErrorsForBadNodeLayers) {
  auto model = test::tinyLm(4);
  const PredictedRows rows(*model, test::tinyTokens(8, 4, 7));
  const auto message = [&](std::vector<std::string> layers) {
    return test::messageOf<ConfigError>([&] { computeLib(*model, rows, options(layers)); });
  };
  EXPECT_NE(message({"output"}).find("at least two"), std::string::npos);
  EXPECT_NE(message({"blocks.1.hook_resid_pre", "blocks.0.hook_resid_pre"}).find("order"),
            std::string::npos);
  EXPECT_NE(message({"blocks.7.hook_resid_pre", "output"}).find("is not blocks.L"),
            std::string::npos);
  EXPECT_NE(message({"blocks.0.hook_mlp_out", "output"}).find("is not blocks.L"),
            std::string::npos);
}

TEST(LibKnownAnswer, ModaddNeedsAHandfulOfLibDirectionsPerNodeLayer) {
  // The paper's node layers of the modular-addition model: before attention, before the MLP,
  // before the unembedding, output. 128 of the 12769 pairs keep the test short; `analyze lib`
  // on more rows gives the numbers in docs/analyses.md.
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:modadd"));
  const auto data = data::openDataset("modadd:p=113");
  LibOptions o;
  o.nodeLayers = defaultLibNodeLayers(1);  // the paper's four node layers
  o.limit = 128;
  o.batchSize = 128;
  o.edges = false;
  o.ablationBase = 1.05;  // every count up to 20
  const auto r = computeLib(*model, *data, o);
  ASSERT_GT(r.baseAccuracy, 0.99);
  ASSERT_EQ(r.curves.size(), 6u);
  std::int64_t libTotal = 0, pcaTotal = 0;
  for (std::size_t i = 0; i < r.curves.size(); i += 2) {
    const auto needed = [&](const LibAblationCurve& c) {
      for (std::size_t k = 0; k < c.kept.size(); ++k) {
        if (c.accuracy[k] > 0.99) return c.kept[k];
      }
      return std::int64_t{-1};
    };
    const auto lib = needed(r.curves[i]), pca = needed(r.curves[i + 1]);
    std::printf("modadd %s: accuracy > 0.99 with %lld LIB / %lld PCA directions\n",
                r.curves[i].layer.c_str(), static_cast<long long>(lib),
                static_cast<long long>(pca));
    EXPECT_GE(lib, 1);
    EXPECT_LE(lib, 16) << r.curves[i].layer;
    libTotal += lib;
    pcaTotal += pca;
  }
  // Measured on these rows: 13 / 12 / 12 LIB directions against 20 / 12 / 11 for PCA.
  EXPECT_LE(libTotal, pcaTotal);
}

}  // namespace
}  // namespace cs::analysis
