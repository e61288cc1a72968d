// Head-by-head ablation: every cell is the masked evaluation of that one head, the baseline is
// the plain evaluation, layers with fewer heads (a compacted model) leave NaN cells, and the
// model is left as it was.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <cmath>

#include "analysis/head_ablation.h"
#include "analysis/mask_evaluation.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "models/compaction.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

TEST(HeadAblation, EachCellIsThatHeadsMaskedEvaluation) {
  auto full = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  // A compacted model with three heads in layer 1: its fourth column must stay empty.
  hooks::MaskSet removeOne;
  removeOne.set({hooks::MaskComponent::Head, 1, 0});
  auto model = models::compactModel(*full, removeOne);
  const auto dataset = data::openDataset("induction:rows=16,half=6,vocab=100,seed=4");
  HeadAblationOptions options;
  options.eval.batchSize = 8;
  const auto r = ablateEachHead(*model, *dataset, options);
  ASSERT_EQ(r.accuracy.rows(), 2);
  ASSERT_EQ(r.accuracy.cols(), 4);
  EXPECT_EQ(r.mode, "zero");
  EXPECT_DOUBLE_EQ(r.baseline.meanLoss, evaluate(*model, *dataset, options.eval).meanLoss);
  EXPECT_TRUE(std::isnan(r.accuracy(1, 3)));
  EXPECT_TRUE(std::isnan(r.meanLoss(1, 3)));
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < model->config().nHeads[l]; ++h) {
      hooks::MaskSet masks;
      masks.set({hooks::MaskComponent::Head, l, h});
      const auto expected = evaluateMasked(*model, *dataset, masks, nullptr, options.eval);
      EXPECT_DOUBLE_EQ(r.meanLoss(l, h), expected.meanLoss) << l << "." << h;
      EXPECT_DOUBLE_EQ(r.accuracy(l, h), expected.accuracy) << l << "." << h;
      EXPECT_NE(r.meanLoss(l, h), r.baseline.meanLoss) << "ablating " << l << "." << h;
    }
  }
  EXPECT_EQ(model->hooks().attachedCount(), 0u);
}

TEST(HeadAblation, StopsWhenCancelledAndRefusesOtherModes) {
  auto model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const auto dataset = data::openDataset("induction:rows=4,half=4,vocab=100");
  Progress progress;
  progress.cancel();
  EXPECT_THROW(ablateEachHead(*model, *dataset, {}, nullptr, progress), Cancelled);
  HeadAblationOptions options;
  options.mode = hooks::AblationMode::Scale;
  const auto message =
      test::messageOf<ConfigError>([&] { ablateEachHead(*model, *dataset, options); });
  EXPECT_NE(message.find("zero or mean"), std::string::npos) << message;
}

}  // namespace
}  // namespace cs::analysis
