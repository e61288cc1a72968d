// Path patching against ALGORITHMS.md section 4: identical inputs change nothing; the logits
// shortcut equals running step a; with a frozen final norm the effects of a layer's heads add
// up (and with the norm recomputed they do not quite); a last-layer head's path to the logits
// is its activation patch; head and MLP receivers follow the two-step algorithm written out by
// hand; batching changes no number; bad requests say what is wrong.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>
#include <map>

#include "analysis/activation_patching.h"
#include "analysis/path_patching.h"
#include "core/error.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "support/test_support.h"
#include "support/tiny_models.h"

namespace cs::analysis {
namespace {

using hooks::HookKind;

PatchingPairs lmPairs(int64_t n, int64_t length = 6) {
  PatchingPairs pairs;
  pairs.clean.tokens = test::tinyTokens(n, length, 21);
  pairs.corrupted.tokens = test::tinyTokens(n, length, 22);
  for (int64_t i = 0; i < n; ++i) pairs.metrics.push_back({(5 * i) % 16, (5 * i + 3) % 16, -1});
  return pairs;
}

std::vector<std::vector<PathReceiver>> someReceivers() {
  return {{PathReceiver{}},
          {{ReceiverInput::Query, 1, 0}},
          {{ReceiverInput::QueryKeyValue, 1, 1}},
          {{ReceiverInput::Mlp, 1, -1}},
          {{ReceiverInput::Key, 1, 0}, {ReceiverInput::Value, 1, 1}}};
}

TEST(PathPatching, IdenticalInputsScoreZero) {
  auto model = test::tinyLm(1);
  auto pairs = lmPairs(2);
  pairs.corrupted = pairs.clean;
  PathPatchingOptions options;
  options.receivers = someReceivers();
  for (bool direct : {true, false}) {
    options.direct = direct;
    const auto r = analysePathPatching(*model, pairs, options);
    EXPECT_EQ(r.scoredPairs, 0);
    ASSERT_EQ(r.score.rows(), 4);  // every head alone
    ASSERT_EQ(r.score.cols(), 5);
    EXPECT_EQ(r.senders[3], "L1H1");
    EXPECT_EQ(r.receivers[4], "L1H0.k+L1H1.v");
    EXPECT_EQ(r.score.cwiseAbs().maxCoeff(), 0.0);
    EXPECT_LT((r.patchedMetric.array() - r.cleanMetric).abs().maxCoeff(), 1e-12);
  }
}

TEST(PathPatching, LogitsShortcutEqualsRunningStepA) {
  auto model = test::tinyLm(2);
  const auto pairs = lmPairs(3);
  PathPatchingOptions options;
  options.senders = {{{0, 0}}, {{0, 1}}, {{1, 1}}, {{0, -1}}, {{1, -1}}, {{0, 0}, {1, -1}}};
  for (bool frozen : {false, true}) {
    options.frozenNorm = frozen;
    options.logitsShortcut = true;
    const auto shortcut = analysePathPatching(*model, pairs, options);
    options.logitsShortcut = false;
    const auto stepA = analysePathPatching(*model, pairs, options);
    EXPECT_EQ(shortcut.forwardPasses, 2);
    EXPECT_EQ(stepA.forwardPasses, 3);
    EXPECT_LT((shortcut.score - stepA.score).cwiseAbs().maxCoeff(), 1e-10) << frozen;
    EXPECT_GT(shortcut.score.cwiseAbs().maxCoeff(), 1e-3) << "the senders should matter";
  }
}

TEST(PathPatching, LayerSendersAddUpOnlyWithAFrozenNorm) {
  auto model = test::tinyLm(3);
  const auto pairs = lmPairs(3);
  for (int layer : {0, 1}) {
    PathPatchingOptions options;
    options.senders = {{{layer, 0}}, {{layer, 1}}, {{layer, 0}, {layer, 1}}};
    options.frozenNorm = true;
    auto r = analysePathPatching(*model, pairs, options);
    EXPECT_NEAR(r.score(2, 0), r.score(0, 0) + r.score(1, 0), 1e-10) << layer;
    EXPECT_GT(std::abs(r.score(2, 0)), 1e-3);
    options.frozenNorm = false;
    r = analysePathPatching(*model, pairs, options);
    const double gap = r.score(2, 0) - r.score(0, 0) - r.score(1, 0);
    EXPECT_GT(std::abs(gap), 1e-6) << "layer " << layer << ": a recomputed norm is not linear";
  }
}

TEST(PathPatching, LastLayerHeadToLogitsIsItsActivationPatch) {
  auto lm = test::tinyLm(4);
  auto vit = test::tinyVit(4);
  PatchingPairs vitSet;
  vitSet.clean.pixels = test::tinyImages(2, 21);
  vitSet.corrupted.pixels = test::tinyImages(2, 22);
  vitSet.metrics = {{1, 0, -1}};
  const auto lmSet = lmPairs(2);
  for (auto* model : {lm.get(), vit.get()}) {
    model->setSkipped(1, models::Sublayer::Mlp, true);
    const auto& pairs = model == lm.get() ? lmSet : vitSet;
    for (auto direction : {PatchDirection::Noising, PatchDirection::Denoising}) {
      PathPatchingOptions options;
      options.senders = {{{1, 0}}, {{1, 1}}};
      options.direction = direction;
      const auto path = analysePathPatching(*model, pairs, options);
      PatchingOptions activation;
      activation.hookPatterns = {"blocks.1.attn.hook_z"};
      activation.direction = direction;
      const auto patched = analyseActivationPatching(*model, pairs, activation);
      ASSERT_EQ(patched.locations.size(), 2u);
      for (int h = 0; h < 2; ++h) {
        EXPECT_NEAR(path.score(h, 0), patched.locations[h].score, 1e-10) << h;
        EXPECT_NEAR(path.patchedMetric(h, 0), patched.locations[h].metric, 1e-10) << h;
      }
    }
  }
}

// Step a and step b with hooks written out for sender L0H1 and one receiver group.
double twoStepsByHand(models::Transformer& model, const PatchingPairs& pairs, bool direct,
                      const std::vector<std::pair<HookKind, int>>& receiverSlots) {
  c10::InferenceMode guard;
  hooks::ActivationCache clean, corrupted;
  const std::vector<std::string> names{"blocks.*.attn.hook_z", "blocks.*.hook_mlp_out"};
  models::runWithCache(model, pairs.clean, names, clean);
  models::runWithCache(model, pairs.corrupted, names, corrupted);
  std::map<std::pair<HookKind, int>, at::Tensor> stepA;
  {
    hooks::ScopedHooks scope(model.hooks());
    for (int l = 0; l < 2; ++l) {
      scope.add({HookKind::Z, l}, [&, l](const at::Tensor&, const hooks::HookPoint&) {
        auto z = clean.at(HookKind::Z, l).clone();
        if (l == 0) z.select(2, 1).copy_(corrupted.at(HookKind::Z, 0).select(2, 1));
        return std::optional<at::Tensor>(z);
      });
      if (direct) {
        scope.add({HookKind::MlpOut, l}, [&, l](const at::Tensor&, const hooks::HookPoint&) {
          return std::optional<at::Tensor>(clean.at(HookKind::MlpOut, l));
        });
      }
    }
    for (const auto& [kind, head] : receiverSlots) {
      scope.observe({kind, 1}, [&stepA, kind = kind, head = head](const at::Tensor& x,
                                                                  const hooks::HookPoint&) {
        stepA[{kind, head}] = x.clone();
      });
    }
    model.forward(pairs.clean);
  }
  hooks::ScopedHooks scope(model.hooks());
  for (const auto& [kind, head] : receiverSlots) {
    scope.add({kind, 1},
              [&stepA, kind = kind, head = head](const at::Tensor& x, const hooks::HookPoint&) {
                auto out = x.clone();
                const auto& a = stepA.at({kind, head});
                if (head < 0) return std::optional<at::Tensor>(a);
                out.select(2, head).copy_(a.select(2, head));
                return std::optional<at::Tensor>(out);
              });
  }
  const auto logits = model.forward(pairs.clean);
  return patching::metricValues(logits, pairs.metrics).mean().item<double>();
}

TEST(PathPatching, HeadAndMlpReceiversFollowTheTwoStepsByHand) {
  auto model = test::tinyLm(5);
  const auto pairs = lmPairs(2);
  PathPatchingOptions options;
  options.senders = {{{0, 1}}};
  options.receivers = {{{ReceiverInput::Query, 1, 0}},
                       {{ReceiverInput::QueryKeyValue, 1, 1}},
                       {{ReceiverInput::Mlp, 1, -1}},
                       {{ReceiverInput::Value, 1, 0}, {ReceiverInput::Mlp, 1, -1}}};
  const std::vector<std::vector<std::pair<HookKind, int>>> slots{
      {{HookKind::Q, 0}},
      {{HookKind::Q, 1}, {HookKind::K, 1}, {HookKind::V, 1}},
      {{HookKind::Ln2Normalized, -1}},
      {{HookKind::V, 0}, {HookKind::Ln2Normalized, -1}}};
  for (bool direct : {true, false}) {
    options.direct = direct;
    const auto r = analysePathPatching(*model, pairs, options);
    EXPECT_EQ(r.mode, direct ? "direct" : "through-mlps");
    ASSERT_EQ(r.score.cols(), 4);
    for (int g = 0; g < 4; ++g) {
      const double byHand = twoStepsByHand(*model, pairs, direct, slots[g]);
      EXPECT_NEAR(r.patchedMetric(0, g), byHand, 1e-12) << r.receivers[g] << " direct " << direct;
    }
    EXPECT_GT((r.patchedMetric.array() - r.cleanMetric).abs().maxCoeff(), 1e-4);
  }
}

TEST(PathPatching, SendersAtOrAfterTheReceiverLayerScoreZero) {
  auto model = test::tinyLm(6);
  PathPatchingOptions options;
  options.senders = {{{1, 0}}, {{1, -1}}, {{1, 0}, {1, 1}}};
  options.receivers = {{{ReceiverInput::QueryKeyValue, 1, 1}}, {{ReceiverInput::Mlp, 1, -1}}};
  const auto r = analysePathPatching(*model, lmPairs(2), options);
  EXPECT_LT(r.score.topRows(3).col(0).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_LT(std::abs(r.score(1, 1)), 1e-10);  // the MLP does not feed its own input
  EXPECT_GT(std::abs(r.score(0, 1)), 1e-4) << "head 0 of layer 1 feeds the MLP of layer 1";
}

TEST(PathPatching, BatchingChangesNoNumber) {
  auto model = test::tinyLm(7);
  const auto pairs = lmPairs(3);
  PathPatchingOptions options;
  options.senders = {{{0, 0}}, {{0, 1}}, {{0, -1}}, {{0, 0}, {0, 1}}};
  options.receivers = someReceivers();
  options.direct = false;
  options.rowsPerPass = 1;
  const auto slow = analysePathPatching(*model, pairs, options);
  options.rowsPerPass = 1000;
  const auto fast = analysePathPatching(*model, pairs, options);
  EXPECT_EQ(fast.forwardPasses, 2 + 2);
  EXPECT_EQ(slow.forwardPasses, 2 + 4 * (1 + 4));
  EXPECT_LT((slow.patchedMetric - fast.patchedMetric).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((slow.score - fast.score).cwiseAbs().maxCoeff(), 1e-10);
}

TEST(PathPatching, LogitsShortcutTakesInputsOfDifferentLengths) {
  auto model = test::tinyLm(8);
  PatchingPairs pairs;
  pairs.clean.tokens = test::tinyTokens(1, 6, 31);
  pairs.corrupted.tokens = test::tinyTokens(1, 4, 32);
  pairs.metrics = {{2, 9, -1}};
  PathPatchingOptions options;
  options.senders = {{{1, 0}}};
  const auto r = analysePathPatching(*model, pairs, options);

  // By hand: h_L(clean)[5] + (z_r[3] - z_c[5]) W_O, read out.
  c10::InferenceMode guard;
  hooks::ActivationCache clean, corrupted;
  const std::vector<std::string> names{"blocks.1.attn.hook_z", "blocks.1.hook_resid_post"};
  models::runWithCache(*model, pairs.clean, names, clean);
  models::runWithCache(*model, pairs.corrupted, names, corrupted);
  const auto dz = corrupted.at(HookKind::Z, 1)[0][3][0] - clean.at(HookKind::Z, 1)[0][5][0];
  const auto h = clean.at(HookKind::ResidPost, 1)[0][5] +
                 at::matmul(dz, model->weights().blocks[1].attn.W_O[0]);
  const auto logits = model->readout(h.view({1, 1, -1}));
  EXPECT_NEAR(r.patchedMetric(0, 0), (logits[0][0][2] - logits[0][0][9]).item<double>(), 1e-12);

  options.receivers = {{{ReceiverInput::Query, 1, 0}}};
  const auto message =
      test::messageOf<ShapeError>([&] { analysePathPatching(*model, pairs, options); });
  EXPECT_NE(message.find("same length"), std::string::npos) << message;
}

TEST(PathPatching, RefusesSendersAndReceiversTheModelLacks) {
  auto model = test::tinyLm(9);
  auto attentionFree = test::tinyLm(9, "gpt2", {.attentionFree = true});
  const auto pairs = lmPairs(1);
  auto messageFor = [&](models::Transformer& m, const PathPatchingOptions& options) {
    return test::messageOf<ConfigError>([&] { analysePathPatching(m, pairs, options); });
  };
  PathPatchingOptions options;
  options.senders = {{{0, 5}}};
  EXPECT_NE(messageFor(*model, options).find("head 5"), std::string::npos);
  options.senders = {{{3, 0}}};
  EXPECT_NE(messageFor(*model, options).find("layer 3"), std::string::npos);
  options.senders = {};
  EXPECT_NE(messageFor(*attentionFree, options).find("no attention heads"), std::string::npos);
  options.senders = {{{0, -1}}};
  options.receivers = {{{ReceiverInput::Query, 1, 0}}};
  EXPECT_NE(messageFor(*attentionFree, options).find("skipped"), std::string::npos);
  options.receivers = {{PathReceiver{}, {ReceiverInput::Query, 1, 0}}};
  EXPECT_NE(messageFor(*model, options).find("mixes"), std::string::npos);
  options.receivers = {{{ReceiverInput::Query, 1, 0}}};
  options.frozenNorm = true;
  EXPECT_NE(messageFor(*model, options).find("frozen norm"), std::string::npos);
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

}  // namespace
}  // namespace cs::analysis
