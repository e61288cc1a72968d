// Linear CKA against ALGORITHMS.md section 2: symmetric, in [0, 1], 1 on itself, invariant to
// X -> cXQ + 1bᵀ; feature and Gram forms agree to 1e-10 in float64; unbiased HSIC equals its
// U-statistic written out as sums over distinct index tuples; the minibatch estimator is
// consistent with the full one and removes the bias of the plug-in estimate; and the pass over a
// dataset equals the matrix functions applied to cached activations, padding respected.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>

#include "analysis/cka.h"
#include "core/error.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "support/message_of.h"
#include "support/rows_dataset.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

at::Tensor randn(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, cols}, generator, at::TensorOptions().dtype(at::kDouble));
}

// A random orthogonal matrix [p, p].
at::Tensor orthogonal(std::int64_t p, std::uint64_t seed) {
  return std::get<0>(at::linalg_qr(randn(p, p, seed)));
}

using test::RowsDataset;

TEST(LinearCka, FeatureAndGramFormsAgreeInFloat64) {
  for (const auto& [n, p, q] :
       {std::tuple{20, 7, 30}, std::tuple{50, 5, 3}, std::tuple{6, 40, 40}}) {
    const auto x = randn(n, p, 1 + n);
    const auto y = x.narrow(1, 0, std::min(p, q)).repeat({1, 8}).narrow(1, 0, q).tanh() +
                   0.7 * randn(n, q, 2 + n);
    const double feature = linearCkaFeature(x, y), gram = linearCkaGram(x, y);
    EXPECT_NEAR(feature, gram, 1e-10) << n << " x " << p << " / " << q;
    EXPECT_GT(feature, 0.05);
  }
}

TEST(LinearCka, IsSymmetricBoundedAndOneOnItself) {
  const auto x = randn(30, 6, 3), y = randn(30, 9, 4), z = x.mm(randn(6, 4, 5));
  for (auto* cka : {&linearCkaFeature, &linearCkaGram}) {
    EXPECT_NEAR((*cka)(x, x), 1.0, 1e-12);
    EXPECT_NEAR((*cka)(x, y), (*cka)(y, x), 1e-14);
    for (const auto& [a, b] : {std::pair{x, y}, std::pair{x, z}, std::pair{y, z}}) {
      const double v = (*cka)(a, b);
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
  }
  EXPECT_NEAR(linearCkaMinibatch(x, x, 10), 1.0, 1e-12);
  EXPECT_NEAR(linearCkaMinibatch(x, y, 10), linearCkaMinibatch(y, x, 10), 1e-14);
}

TEST(LinearCka, OneFeatureEachIsTheSquaredCorrelation) {
  // p = q = 1: ‖yᵀx‖² / (‖xᵀx‖ ‖yᵀy‖) of centred columns is Pearson's r².
  const std::vector<double> xs{1, 2, 3, 4, 6}, ys{1, 4, 9, 16, 30};
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    mx += xs[i] / 5;
    my += ys[i] / 5;
  }
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) * (xs[i] - mx);
    syy += (ys[i] - my) * (ys[i] - my);
  }
  const auto x = torch::tensor(xs, torch::kDouble).unsqueeze(1);
  const auto y = torch::tensor(ys, torch::kDouble).unsqueeze(1);
  EXPECT_NEAR(linearCkaFeature(x, y), sxy * sxy / (sxx * syy), 1e-14);
  EXPECT_NEAR(linearCkaGram(x, y), sxy * sxy / (sxx * syy), 1e-14);
}

TEST(LinearCka, InvariantToOrthogonalMapsScalingAndTranslation) {
  const auto x = randn(25, 6, 6), y = randn(25, 4, 7) + 0.5 * x.narrow(1, 0, 4);
  const auto b = randn(1, 6, 8) * 3.0;
  const auto moved = -2.5 * x.mm(orthogonal(6, 9)) + b;  // c X Q + 1 bᵀ
  for (auto* cka : {&linearCkaFeature, &linearCkaGram}) {
    EXPECT_NEAR((*cka)(moved, y), (*cka)(x, y), 1e-10);
    EXPECT_NEAR((*cka)(x, moved), 1.0, 1e-10);
  }
  EXPECT_NEAR(linearCkaMinibatch(moved, y, 8), linearCkaMinibatch(x, y, 8), 1e-10);
  EXPECT_NEAR(linearCkaMinibatch(x, moved, 8), 1.0, 1e-10);
}

TEST(LinearCka, CenteredGramIsHKH) {
  const auto k = randn(5, 5, 10);
  const auto h = at::eye(5, at::kDouble) - at::full({5, 5}, 1.0 / 5, at::kDouble);
  EXPECT_TRUE(at::allclose(centerGram(k), h.mm(k).mm(h), 0, 1e-14));
}

TEST(UnbiasedHsic, EqualsItsUStatistic) {
  // Song et al. 2012: HSIC_1 = mean over ordered distinct pairs of k_ij l_ij + mean over distinct
  // 4-tuples of k_ij l_qr - 2 mean over distinct triples of k_ij l_iq.
  const int n = 7;
  const auto x = randn(n, 3, 11), y = randn(n, 2, 12) + x.narrow(1, 0, 2);
  const auto k = x.mm(x.t()), l = y.mm(y.t()).tanh();  // any symmetric kernels
  auto K = [&](int i, int j) { return k[i][j].item<double>(); };
  auto Lk = [&](int i, int j) { return l[i][j].item<double>(); };
  double pairs = 0, triples = 0, quads = 0;
  std::int64_t np = 0, nt = 0, nq = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      pairs += K(i, j) * Lk(i, j);
      ++np;
      for (int q = 0; q < n; ++q) {
        if (q == i || q == j) continue;
        triples += K(i, j) * Lk(i, q);
        ++nt;
        for (int r = 0; r < n; ++r) {
          if (r == i || r == j || r == q) continue;
          quads += K(i, j) * Lk(q, r);
          ++nq;
        }
      }
    }
  }
  const double expected = pairs / np + quads / nq - 2.0 * triples / nt;
  EXPECT_NEAR(unbiasedHsic(k, l), expected, 1e-12 * std::abs(expected) + 1e-13);
}

TEST(UnbiasedHsic, MinibatchEstimateIsConsistentAndUnbiased) {
  // Related representations: the minibatch estimate (20 batches of 100) is close to the full
  // plug-in CKA of 2000 samples, whose bias is small at that n; one batch of all rows is the
  // unbiased HSIC formula on the full Grams.
  const auto x = randn(2000, 5, 13);
  const auto y = x.mm(randn(5, 4, 14)) + 2.0 * randn(2000, 4, 15);
  const double full = linearCkaGram(x, y);
  const double minibatch = linearCkaMinibatch(x, y, 100);
  EXPECT_NEAR(minibatch, full, 0.03) << "full " << full;
  const auto xs = x.narrow(0, 0, 300), ys = y.narrow(0, 0, 300);
  const auto k = xs.mm(xs.t()), l = ys.mm(ys.t());
  EXPECT_NEAR(linearCkaMinibatch(xs, ys, 300),
              unbiasedHsic(k, l) / std::sqrt(unbiasedHsic(k, k) * unbiasedHsic(l, l)), 1e-12);

  // Independent wide representations: the plug-in estimate is far from 0 at small n, the
  // unbiased minibatch estimate is not.
  const auto a = randn(400, 100, 16), b = randn(400, 100, 17);
  const double biased = linearCkaGram(a.narrow(0, 0, 40), b.narrow(0, 0, 40));
  const double unbiased = linearCkaMinibatch(a, b, 40);
  EXPECT_GT(biased, 0.3);
  EXPECT_LT(std::abs(unbiased), 0.05) << "biased " << biased;
}

TEST(LinearCka, RefusesBadInput) {
  const auto x = randn(10, 3, 20);
  auto message = test::messageOf<ConfigError>([&] { linearCkaGram(x, randn(9, 3, 21)); });
  EXPECT_NE(message.find("10 rows"), std::string::npos) << message;
  EXPECT_NE(message.find("9"), std::string::npos) << message;
  message =
      test::messageOf<ConfigError>([&] { linearCkaFeature(x.narrow(0, 0, 1), x.narrow(0, 0, 1)); });
  EXPECT_NE(message.find("at least 2 samples"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([&] { linearCkaMinibatch(x, x, 3); });
  EXPECT_NE(message.find("at least 4"), std::string::npos) << message;
  message = test::messageOf<ConfigError>(
      [&] { unbiasedHsic(at::eye(3, at::kDouble), at::eye(3, at::kDouble)); });
  EXPECT_NE(message.find("at least 4"), std::string::npos) << message;
  message = test::messageOf<ShapeError>([&] { linearCkaGram(x.flatten(), x); });
  EXPECT_NE(message.find("[samples, features]"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([&] {
    const auto wide = at::zeros({2, 20000}, at::kDouble);
    linearCkaFeature(wide, wide);
  });
  EXPECT_NE(message.find("Gram form"), std::string::npos) << message;
  // A representation that does not vary has no CKA with anything: 0, not NaN.
  const auto constant = at::ones({10, 3}, at::kDouble);
  EXPECT_EQ(linearCkaGram(constant, x), 0.0);
  EXPECT_EQ(linearCkaFeature(x, constant), 0.0);
  message = test::messageOf<ConfigError>([] { parseCkaForm("kernel"); });
  EXPECT_NE(message.find("feature, gram or unbiased"), std::string::npos) << message;
  message = test::messageOf<ConfigError>([] { parseCkaPosition("first"); });
  EXPECT_NE(message.find("all, cls, last or mean"), std::string::npos) << message;
}

// The representations analyseCka should have used, from a cache run over all rows at once.
std::vector<at::Tensor> cachedRepresentations(models::Model& model, const models::ModelInput& in,
                                              const std::vector<std::string>& hooks) {
  hooks::ActivationCache cache;
  models::runWithCache(model, in, hooks, cache);
  std::vector<at::Tensor> out;
  for (const auto& h : hooks) out.push_back(cache.at(h).flatten(1));
  return out;
}

TEST(CkaAnalysis, ResidualHeatmapEqualsTheMatrixFunctionsOnCachedActivations) {
  auto model = test::tinyVit(0);
  const auto images = test::tinyImages(12, 1);
  const RowsDataset dataset(images);
  CkaOptions options;
  options.batchSize = 5;  // three batches, the last short
  const auto gram = analyseCka(*model, dataset, options);
  const auto names = residualStreamHooks(2);
  ASSERT_EQ(gram.hooks, names);
  EXPECT_EQ(gram.samples, 12);
  EXPECT_EQ(gram.features, std::vector<std::int64_t>(3, 5 * 8));
  models::ModelInput input;
  input.pixels = images;
  const auto reps = cachedRepresentations(*model, input, names);
  options.form = CkaForm::Feature;
  const auto feature = analyseCka(*model, dataset, options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(gram.cka(i, i), 1.0);
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(gram.cka(i, j), gram.cka(j, i));
      EXPECT_GE(gram.cka(i, j), 0.0);
      EXPECT_LE(gram.cka(i, j), 1.0);
      if (i != j) {
        EXPECT_NEAR(gram.cka(i, j), linearCkaGram(reps[i], reps[j]), 1e-10) << i << "," << j;
      }
      EXPECT_NEAR(feature.cka(i, j), gram.cka(i, j), 1e-10) << i << "," << j;
    }
  }
  EXPECT_LT(gram.cka(0, 2), 0.999) << "blocks change the representation";
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

TEST(CkaAnalysis, UnbiasedFormIsTheMinibatchEstimatorOverTheForwardBatches) {
  auto model = test::tinyLm(1);
  const auto tokens = test::tinyTokens(16, 6, 2);
  std::vector<std::vector<std::int64_t>> rows;
  for (std::int64_t i = 0; i < 16; ++i) {
    rows.emplace_back(tokens[i].data_ptr<std::int64_t>(), tokens[i].data_ptr<std::int64_t>() + 6);
  }
  const RowsDataset dataset(rows, 5);
  CkaOptions options;
  options.form = CkaForm::Unbiased;
  options.batchSize = 6;  // 6 + 6 + 4 rows
  options.hooks = {"blocks.0.hook_resid_mid", "blocks.1.mlp.hook_post", "hook_logits"};
  const auto r = analyseCka(*model, dataset, options);
  EXPECT_EQ(r.samples, 16);
  models::ModelInput input;
  input.tokens = tokens;
  const auto reps = cachedRepresentations(*model, input, options.hooks);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < i; ++j) {
      EXPECT_NEAR(r.cka(i, j), linearCkaMinibatch(reps[i], reps[j], 6), 1e-10) << i << "," << j;
      EXPECT_EQ(r.cka(i, j), r.cka(j, i));
    }
  }
}

TEST(CkaAnalysis, PositionsPickTheClassTokenTheLastRealTokenOrTheMean) {
  auto model = test::tinyLm(2);
  // Rows of different lengths, one padded batch: "last" and "mean" must see only real tokens.
  const std::vector<int> lengths{6, 3, 5, 4, 6, 2};
  const auto ids = test::tinyTokens(6, 6, 3);
  std::vector<std::vector<std::int64_t>> rows;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    const auto row = ids[static_cast<std::int64_t>(i)];
    rows.emplace_back(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + lengths[i]);
  }
  const RowsDataset dataset(rows, 5);
  const std::vector<std::string> hooks{"blocks.0.hook_resid_post", "blocks.1.attn.hook_z"};
  // By hand: each row alone, unpadded.
  std::vector<std::vector<at::Tensor>> last(2), mean(2), first(2);
  for (const auto& row : rows) {
    models::ModelInput in;
    in.tokens = torch::tensor(row, torch::kLong).unsqueeze(0);
    hooks::ActivationCache cache;
    models::runWithCache(*model, in, hooks, cache);
    for (int h = 0; h < 2; ++h) {
      const auto a = cache.at(hooks[h])[0];  // [T, ...]
      last[h].push_back(a[a.size(0) - 1].flatten());
      mean[h].push_back(a.mean(0).flatten());
      first[h].push_back(a[0].flatten());
    }
  }
  CkaOptions options;
  options.hooks = hooks;
  options.batchSize = 6;
  for (const auto& [position, reps] :
       {std::pair{CkaPosition::Last, &last}, std::pair{CkaPosition::Mean, &mean},
        std::pair{CkaPosition::Cls, &first}}) {
    options.position = position;
    const auto r = analyseCka(*model, dataset, options);
    const double expected = linearCkaGram(at::stack((*reps)[0]), at::stack((*reps)[1]));
    EXPECT_NEAR(r.cka(0, 1), expected, 1e-10) << ckaPositionName(position);
    EXPECT_EQ(r.position, ckaPositionName(position));
  }
  options.position = CkaPosition::All;
  const auto message = test::messageOf<ConfigError>([&] { analyseCka(*model, dataset, options); });
  EXPECT_NE(message.find("padded"), std::string::npos) << message;
  EXPECT_NE(message.find("last or mean"), std::string::npos) << message;
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

TEST(CkaAnalysis, ConstantRepresentationsScoreZeroWithOthers) {
  // The class token entering block 0 is the same for every image: its CKA is undefined.
  auto model = test::tinyVit(3);
  const RowsDataset dataset(test::tinyImages(8, 4));
  CkaOptions options;
  options.position = CkaPosition::Cls;
  const auto r = analyseCka(*model, dataset, options);
  ASSERT_EQ(r.constant.size(), 3u);
  EXPECT_TRUE(r.constant[0]);
  EXPECT_FALSE(r.constant[1]);
  EXPECT_EQ(r.cka(0, 0), 1.0);
  EXPECT_EQ(r.cka(0, 1), 0.0);
  EXPECT_EQ(r.cka(2, 0), 0.0);
  EXPECT_GT(r.cka(1, 2), 0.0);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_TRUE(std::isfinite(r.cka(i, j)));
  }
}

TEST(CkaAnalysis, RefusesUnknownHooksAndTooFewSamples) {
  auto model = test::tinyVit(0);
  const RowsDataset dataset(test::tinyImages(6, 1));
  CkaOptions options;
  options.hooks = {"blocks.7.hook_resid_pre"};
  auto message = test::messageOf<ConfigError>([&] { analyseCka(*model, dataset, options); });
  EXPECT_NE(message.find("blocks.7.hook_resid_pre"), std::string::npos) << message;
  options.hooks = {};
  options.limit = 1;
  message = test::messageOf<ConfigError>([&] { analyseCka(*model, dataset, options); });
  EXPECT_NE(message.find("at least 2 samples"), std::string::npos) << message;
  options.limit = 3;
  options.form = CkaForm::Unbiased;
  message = test::messageOf<ConfigError>([&] { analyseCka(*model, dataset, options); });
  EXPECT_NE(message.find("at least 4 samples"), std::string::npos) << message;
  options.limit = 0;
  options.batchSize = 3;
  message = test::messageOf<ConfigError>([&] { analyseCka(*model, dataset, options); });
  EXPECT_NE(message.find("batch size of at least 4"), std::string::npos) << message;
  Progress progress;
  progress.cancel();
  EXPECT_THROW(analyseCka(*model, dataset, {}, progress), Cancelled);
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

}  // namespace
}  // namespace cs::analysis
