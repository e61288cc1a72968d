// Memory vs context heads and PH3 pruning against the invariants of ALGORITHMS.md section 5 on
// the section-10 fixture (float64): e = 0 when x_ref = x_conf, e agrees with path patching
// written by hand, linearity with the final norm frozen, DLA completeness, zero-ablation
// identities, batching and padding, the ranking and the k choice, and the error messages.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>

#include "analysis/memory_heads.h"
#include "analysis/residual_decomposition.h"
#include "core/error.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/layers.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using models::ModelInput;

std::vector<int64_t> ids(const at::Tensor& row) {
  const auto c = row.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// Conflicts of different lengths: the reference is the question (the last 3 tokens).
std::vector<ConflictExample> conflicts(int n, uint64_t seed) {
  std::vector<ConflictExample> out;
  for (int i = 0; i < n; ++i) {
    const auto row = test::tinyTokens(1, 5 + i % 3, seed + i)[0];
    ConflictExample e;
    e.conflict = ids(row);
    e.reference = ids(row.narrow(0, row.size(0) - 3, 3));
    e.memoryAnswer = (3 * i + 1) % 16;
    e.contextAnswer = (e.memoryAnswer + 1 + i % 15) % 16;
    out.push_back(e);
  }
  return out;
}

TEST(MemoryHeads, EffectVanishesWhenTheReferenceIsTheConflictInput) {
  auto model = test::tinyLm(1);
  auto examples = conflicts(5, 10);
  for (auto& e : examples) e.reference = e.conflict;
  for (bool frozen : {false, true}) {
    MemoryHeadOptions options;
    options.freezeFinalNorm = frozen;
    options.batchSize = 2;
    for (const auto& s : scoreConflictHeads(*model, examples, options)) {
      EXPECT_EQ(s.effect.cwiseAbs().maxCoeff(), 0.0);
      EXPECT_GT(s.dla.cwiseAbs().maxCoeff(), 0.0);
    }
  }
}

TEST(MemoryHeads, EffectIsPathPatchingIntoTheFinalResidual) {
  auto model = test::tinyLm(2);
  const auto example = conflicts(1, 20)[0];
  const auto scores = scoreConflictHeads(*model, {example});
  // By hand: hook_result of both runs, h_L' = h_L + r_ref - r_conf at the last token, readout.
  const ModelInput conf{at::tensor(example.conflict, at::kLong).unsqueeze(0)};
  const ModelInput ref{at::tensor(example.reference, at::kLong).unsqueeze(0)};
  hooks::ActivationCache confCache, refCache;
  const std::vector<std::string> hooks{"blocks.*.attn.hook_result", "blocks.1.hook_resid_post"};
  models::runWithCache(*model, conf, hooks, confCache);
  models::runWithCache(*model, ref, hooks, refCache);
  const auto hL = confCache.at(hooks::HookKind::ResidPost, 1)[0][-1];
  auto ld = [&](const at::Tensor& h) {
    const auto logits = model->readout(h.view({1, 1, -1}))[0][0];
    return (logits[example.memoryAnswer] - logits[example.contextAnswer]).item<double>();
  };
  EXPECT_NEAR(scores[0].logitDifference, ld(hL), 1e-12);
  for (int l = 0; l < 2; ++l) {
    const auto rc = confCache.at(hooks::HookKind::Result, l)[0][-1];
    const auto rr = refCache.at(hooks::HookKind::Result, l)[0][-1];
    for (int i = 0; i < 2; ++i) {
      const double hand = ld(hL + rr[i] - rc[i]) - ld(hL);
      EXPECT_NEAR(scores[0].effect(l, i), hand, 1e-10) << "head " << l << "." << i;
    }
  }
}

TEST(MemoryHeads, EffectsAddUpOverSendersWhenTheFinalNormIsFrozen) {
  auto model = test::tinyLm(3);
  const auto examples = conflicts(4, 30);
  MemoryHeadOptions options;
  options.freezeFinalNorm = true;
  const auto frozen = scoreConflictHeads(*model, examples, options);
  options.freezeFinalNorm = false;
  const auto recomputed = scoreConflictHeads(*model, examples, options);
  const std::vector<std::pair<int, int>> set{{0, 0}, {0, 1}, {1, 1}};
  double sumFrozen = 0, sumRecomputed = 0;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    for (const auto& [l, h] : set) {
      sumFrozen += frozen[i].effect(l, h);
      sumRecomputed += recomputed[i].effect(l, h);
    }
  }
  sumFrozen /= examples.size();
  sumRecomputed /= examples.size();
  EXPECT_NEAR(senderSetEffect(*model, examples, set, true), sumFrozen, 1e-10);
  // Recomputing the norm makes the set's effect differ from the sum (slightly, but it does).
  EXPECT_GT(std::abs(senderSetEffect(*model, examples, set, false) - sumRecomputed), 1e-8);
  // A one-head set is that head's effect.
  double single = 0;
  for (const auto& s : recomputed) single += s.effect(1, 0);
  EXPECT_NEAR(senderSetEffect(*model, examples, {{1, 0}}, false), single / examples.size(), 1e-10);
}

TEST(MemoryHeads, HeadDlaIsTheDecompositionsAndCompletesTheLogitDifference) {
  auto model = test::tinyLm(4);
  const auto example = conflicts(1, 40)[0];
  const auto scores = scoreConflictHeads(*model, {example});
  DecompositionOptions options;
  options.answers = {example.memoryAnswer};
  options.foils = {example.contextAnswer};
  const auto r = analyseResidualDecomposition(
      *model, ModelInput{at::tensor(example.conflict, at::kLong).unsqueeze(0)}, options);
  double heads = 0;
  for (int l = 0; l < 2; ++l) {
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(scores[0].dla(l, i), r.headDla[0](l, i), 1e-12);
      heads += scores[0].dla(l, i);
    }
  }
  // sum of head DLAs + b_O + embedding + MLPs + constant = LD.
  const double others =
      r.biasDla.row(0).sum() + r.dla(0, 0) + r.dla(0, 2) + r.dla(0, 4) + r.constant(0);
  EXPECT_NEAR(heads + others, scores[0].logitDifference,
              1e-9 * std::max(1.0, std::abs(scores[0].logitDifference)));
}

TEST(MemoryHeads, ZeroAblatingAHeadWithoutOutputChangesNothing) {
  auto model = test::tinyLm(5);
  {
    torch::NoGradGuard noGrad;
    model->weights().blocks[0].attn.W_O[1].zero_();
  }
  const ModelInput input{test::tinyTokens(3, 6, 2)};
  const auto plain = model->forward(input);
  hooks::MaskSet masks;
  masks.set({hooks::MaskComponent::Head, 0, 1, hooks::AblationMode::Zero});
  at::Tensor masked;
  {
    models::AppliedMasks applied(*model, masks);
    masked = model->forward(input);
  }
  EXPECT_TRUE(torch::equal(plain, masked));
  const auto examples = conflicts(3, 50);
  const auto scores = scoreConflictHeads(*model, examples);
  for (const auto& s : scores) {
    EXPECT_EQ(s.effect(0, 1), 0.0);
    EXPECT_EQ(s.dla(0, 1), 0.0);
  }
  const auto a = evaluateConflicts(*model, examples, {}, SteeringMode::Context);
  const auto b = evaluateConflicts(*model, examples, masks, SteeringMode::Context);
  EXPECT_EQ(a.rate, b.rate);
  EXPECT_EQ(a.probability, b.probability);
}

TEST(MemoryHeads, AblatingEveryHeadOfAnAttentionOnlyLayerLeavesEmbeddingPlusBias) {
  auto config = test::tinyLm()->config();
  config.nLayers = 1;
  config.nHeads = {2};
  config.nKvHeads = {2};
  config.dMlp = {16};
  config.mlpSkipped = {true};
  config.family = config.modelType = "circuitscope";
  auto model = models::randomTransformer(config, 6, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  const auto& w = model->weights();
  ASSERT_TRUE(w.blocks[0].attn.b_O.defined());
  const auto tokens = test::tinyTokens(2, 5, 3);
  hooks::MaskSet masks;
  masks.set({hooks::MaskComponent::Head, 0, 0, hooks::AblationMode::Zero});
  masks.set({hooks::MaskComponent::Head, 0, 1, hooks::AblationMode::Zero});
  at::Tensor logits;
  {
    models::AppliedMasks applied(*model, masks);
    logits = model->forward(ModelInput{tokens});
  }
  const auto h0 = at::embedding(w.W_E, tokens) + w.W_pos.narrow(0, 0, 5).unsqueeze(0);
  auto expected =
      models::applyNorm(h0 + w.blocks[0].attn.b_O, w.lnFinal, config.norm, config.normEps)
          .matmul(w.W_U);
  if (w.b_U.defined()) expected = expected + w.b_U;
  EXPECT_LT(test::maxAbsDiff(logits, expected), 1e-12);
}

TEST(MemoryHeads, BatchesAndPaddingGiveTheSameScoresAsOneByOne) {
  auto model = test::tinyLm(7, "llama");
  const auto examples = conflicts(5, 60);
  MemoryHeadOptions one, many;
  one.batchSize = 1;
  many.batchSize = 5;
  const auto a = scoreConflictHeads(*model, examples, one);
  const auto b = scoreConflictHeads(*model, examples, many);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    EXPECT_LT((a[i].effect - b[i].effect).cwiseAbs().maxCoeff(), 1e-6) << i;
    EXPECT_LT((a[i].dla - b[i].dla).cwiseAbs().maxCoeff(), 1e-9) << i;
    EXPECT_EQ(a[i].memoryOnReference, b[i].memoryOnReference);
  }
}

TEST(MemoryHeads, RanksGroupsAndChoosesKOnValidation) {
  auto model = test::tinyLm(8);
  const auto find = conflicts(6, 70);
  const auto validation = conflicts(5, 80);
  const auto test = conflicts(4, 90);
  for (auto mode : {SteeringMode::Context, SteeringMode::Memory}) {
    MemoryHeadOptions options;
    options.mode = mode;
    options.filter = false;
    const auto r = analyseMemoryHeads(*model, find, validation, test, options);
    ASSERT_EQ(r.memoryHeads.size() + r.contextHeads.size(), 4u);
    for (const auto& h : r.memoryHeads) EXPECT_GT(h.dla, 0.0);
    for (const auto& h : r.contextHeads) EXPECT_LT(h.dla, 0.0);
    for (std::size_t i = 1; i < r.memoryHeads.size(); ++i) {
      EXPECT_GE(std::abs(r.memoryHeads[i - 1].effect), std::abs(r.memoryHeads[i].effect));
    }
    const auto& group = mode == SteeringMode::Context ? r.memoryHeads : r.contextHeads;
    ASSERT_FALSE(r.curve.empty());
    EXPECT_EQ(r.curve.front().k, 0);
    const auto base = evaluateConflicts(*model, validation, {}, mode);
    EXPECT_EQ(r.curve.front().validationRate, base.rate);
    EXPECT_LE(r.curve.back().k, static_cast<int>(group.size()));
    for (const auto& p : r.curve) EXPECT_FALSE(std::isnan(p.testRate));
    const auto chosen = std::find_if(r.curve.begin(), r.curve.end(),
                                     [&](const auto& p) { return p.k == r.chosenK; });
    ASSERT_NE(chosen, r.curve.end());
    for (const auto& p : r.curve) {
      EXPECT_TRUE(p.validationRate < chosen->validationRate ||
                  (p.validationRate == chosen->validationRate &&
                   p.validationProbability <= chosen->validationProbability));
    }
    ASSERT_EQ(r.prunedHeads.size(), static_cast<std::size_t>(r.chosenK));
    for (int j = 0; j < r.chosenK; ++j) {
      EXPECT_EQ(r.prunedHeads[j].layer, group[j].layer);
      EXPECT_EQ(r.prunedHeads[j].head, group[j].head);
    }
    // The chosen k's validation rate is the masked model's.
    hooks::MaskSet masks;
    for (const auto& h : r.prunedHeads) {
      masks.set({hooks::MaskComponent::Head, h.layer, h.head, hooks::AblationMode::Zero});
    }
    EXPECT_EQ(evaluateConflicts(*model, validation, masks, mode).rate, chosen->validationRate);
  }
}

TEST(MemoryHeads, FilterKeepsExamplesThatAnswerAsTheStepOneSays) {
  auto model = test::tinyLm(9);
  auto find = conflicts(6, 100);
  // Make the answers the model's own: o_m its answer on x_ref, o_c its answer on x_conf, for
  // the first three (where they differ).
  int made = 0;
  for (auto& e : find) {
    const auto onRef =
        model->forward(ModelInput{at::tensor(e.reference, at::kLong).unsqueeze(0)})[0][-1]
            .argmax()
            .item<int64_t>();
    const auto onConf =
        model->forward(ModelInput{at::tensor(e.conflict, at::kLong).unsqueeze(0)})[0][-1]
            .argmax()
            .item<int64_t>();
    if (made < 3 && onRef != onConf) {
      e.memoryAnswer = onRef;
      e.contextAnswer = onConf;
      ++made;
    } else if (e.memoryAnswer == onRef) {
      e.memoryAnswer = (onRef + 1) % 16;
      if (e.memoryAnswer == e.contextAnswer) e.memoryAnswer = (onRef + 2) % 16;
    }
  }
  ASSERT_GT(made, 0);
  const auto r = analyseMemoryHeads(*model, find, conflicts(2, 110));
  EXPECT_EQ(r.keptExamples, made);
  EXPECT_TRUE(r.rankedOnKept);
  EXPECT_EQ(r.effect, r.effectKept);
  EXPECT_NE(r.effectKept, r.effectAll);
  EXPECT_TRUE(r.note.empty() || r.note.find("filter") == std::string::npos);
}

TEST(MemoryHeads, InductionHeadsAreContextHeadsAndPruningThemLosesTheContextAnswer) {
  // Built-in induction model: the context holds "A B", the question ends with A, so copying
  // from the context answers B (o_c); o_m is any other token.
  auto model = models::loadHfModel(models::resolveModelFolder("builtin:induction"));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  std::vector<ConflictExample> examples;
  for (int i = 0; i < 12; ++i) {
    const auto perm = ids(at::randperm(64, generator, at::kLong).narrow(0, 0, 12));
    ConflictExample e;
    e.conflict.assign(perm.begin(), perm.begin() + 8);
    e.reference.assign(perm.begin() + 8, perm.end());
    e.reference.push_back(perm[0]);
    e.conflict.insert(e.conflict.end(), e.reference.begin(), e.reference.end());
    e.contextAnswer = perm[1];
    e.memoryAnswer = (perm[1] + 7) % 64;
    examples.push_back(e);
  }
  const std::vector<ConflictExample> find(examples.begin(), examples.begin() + 6);
  const std::vector<ConflictExample> validation(examples.begin() + 6, examples.end());
  MemoryHeadOptions options;
  options.filter = false;
  options.mode = SteeringMode::Memory;
  const auto r = analyseMemoryHeads(*model, find, validation, {}, options);
  ASSERT_GE(r.contextHeads.size(), 2u);
  // The strongest context heads are in the last layer, where induction heads read the context.
  EXPECT_EQ(r.contextHeads[0].layer, 1);
  EXPECT_EQ(r.contextHeads[1].layer, 1);
  EXPECT_GT(r.contextRateOnConflict, 0.9);
  hooks::MaskSet masks;
  for (int j = 0; j < 2; ++j) {
    masks.set({hooks::MaskComponent::Head, r.contextHeads[j].layer, r.contextHeads[j].head,
               hooks::AblationMode::Zero});
  }
  const auto before = evaluateConflicts(*model, validation, {}, SteeringMode::Context);
  const auto after = evaluateConflicts(*model, validation, masks, SteeringMode::Context);
  EXPECT_LT(after.probability, before.probability - 0.1);
}

TEST(MemoryHeads, BadInputsSayWhatIsWrong) {
  auto model = test::tinyLm();
  auto examples = conflicts(2, 1);
  auto bad = examples;
  bad[1].contextAnswer = bad[1].memoryAnswer;
  EXPECT_NE(test::messageOf<ConfigError>([&] { scoreConflictHeads(*model, bad); })
                .find("head-finding example 1: the memory and context answers start with the "
                      "same token"),
            std::string::npos);
  bad = examples;
  bad[0].conflict.push_back(16);
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              scoreConflictHeads(*model, bad);
            }).find("token id 16 is outside the vocabulary [0, 16)"),
            std::string::npos);
  bad = examples;
  bad[0].reference.clear();
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              scoreConflictHeads(*model, bad);
            }).find("reference input is empty"),
            std::string::npos);
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseMemoryHeads(*model, examples, {});
            }).find("validation split"),
            std::string::npos);
  MemoryHeadOptions options;
  options.kGrid = {0, 3};
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              analyseMemoryHeads(*model, examples, examples, {}, options);
            }).find("positive head counts"),
            std::string::npos);
  auto vit = test::tinyVit();
  EXPECT_NE(test::messageOf<ConfigError>([&] {
              scoreConflictHeads(*vit, examples);
            }).find("language models"),
            std::string::npos);
}

}  // namespace
}  // namespace cs::analysis
