// Evaluation: loss over token rows equals the Hugging Face loss of the fixture; accuracy and
// logit difference agree with a direct computation; batch size does not change the result;
// cancellation stops the loop.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include "analysis/evaluation.h"
#include "core/error.h"
#include "data/digits_dataset.h"
#include "data/safetensors.h"
#include "data/synthetic_datasets.h"
#include "data/token_dataset.h"
#include "models/loaders/hf_loader.h"
#include "models/random_checkpoint.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

TEST(Evaluation, TokenRowLossMatchesTheReferenceLoss) {
  for (const std::string name : {"gpt2-tiny", "llama-tiny"}) {
    SCOPED_TRACE(name);
    auto model = models::loadHfModel(test::dataPath("hf/" + name));
    const auto expected =
        data::SafetensorsFile::open(test::dataPath("hf/" + name + "/expected.safetensors"));
    const data::TokenRowsDataset rows(expected.tensor("input_ids"));
    const auto result = evaluate(*model, rows, EvalOptions{1, 0});
    EXPECT_EQ(result.rows, 2);
    EXPECT_EQ(result.predictions, 2 * 6);
    EXPECT_NEAR(result.meanLoss, expected.tensor("loss").item<double>(), 1e-5);
  }
}

// A dataset with foils: modular-addition rows whose foil is target + 1.
class WithFoils final : public data::Dataset {
 public:
  std::int64_t size() const override { return m_inner.size(); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
    auto b = m_inner.batch(begin, count);
    b.foils = (b.targets + 1).remainder(11);
    return b;
  }
  std::string describe() const override { return "foils"; }

 private:
  data::ModularAdditionDataset m_inner{11, 0, 0};
};

TEST(Evaluation, AccuracyAndLogitDifferenceMatchADirectComputation) {
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.dVocab = 12;
  auto model = models::randomTransformer(models::configForShape(shape), 3, 0.5);
  const WithFoils dataset;
  const auto result = evaluate(*model, dataset, EvalOptions{17, 0});

  const auto all = dataset.batch(0, dataset.size());
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    models::ModelInput input;
    input.tokens = all.tokens;
    logits = model->forward(input).select(1, 2).to(torch::kDouble);
  }
  const double accuracy =
      logits.argmax(-1).eq(all.targets).to(torch::kDouble).mean().item<double>();
  const double diff =
      (logits.gather(1, all.targets.unsqueeze(1)) - logits.gather(1, all.foils.unsqueeze(1)))
          .mean()
          .item<double>();
  const double loss = at::cross_entropy_loss(logits, all.targets).item<double>();
  EXPECT_EQ(result.predictions, 121);
  EXPECT_NEAR(result.accuracy, accuracy, 1e-12);
  ASSERT_TRUE(result.hasLogitDiff);
  EXPECT_NEAR(result.meanLogitDiff, diff, 1e-6);
  EXPECT_NEAR(result.meanLoss, loss, 1e-6);
  // Batch size and limit.
  // float32 forward passes of other batch shapes differ in the last bits only.
  EXPECT_NEAR(evaluate(*model, dataset, EvalOptions{121, 0}).meanLoss, result.meanLoss, 1e-6);
  EXPECT_EQ(evaluate(*model, dataset, EvalOptions{8, 20}).rows, 20);
}

TEST(Evaluation, InductionOnARandomModelIsNearChance) {
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.dVocab = 64;
  auto model = models::randomTransformer(models::configForShape(shape), 1);
  const data::InductionDataset dataset(64, 10, 64, 5);
  const auto result = evaluate(*model, dataset);
  EXPECT_EQ(result.predictions, 64 * 9);
  EXPECT_LT(result.accuracy, 0.1);  // chance is 1/64; a random model cannot copy
  EXPECT_NEAR(result.meanLoss, std::log(64.0), 0.5);
}

TEST(Evaluation, UntrainedVitOnDigitsIsAboutChance) {
  // The sanity check that labels line up: an untrained model must not beat chance by much.
  models::ModelShape shape;
  shape.family = "vit";
  shape.imageSize = 8;
  shape.patchSize = 2;
  shape.nChannels = 1;
  shape.nClasses = 10;
  auto model = models::randomTransformer(models::configForShape(shape), 11);
  const data::DigitsDataset test(data::DigitsSplit::Test);
  const auto result = evaluate(*model, test);
  EXPECT_EQ(result.rows, 360);
  EXPECT_EQ(result.predictions, 360);
  EXPECT_LT(result.accuracy, 0.3);
  EXPECT_NEAR(result.meanLoss, std::log(10.0), 0.5);
}

TEST(Evaluation, CancelStopsTheLoop) {
  auto model = models::loadHfModel(test::dataPath("hf/gpt2-tiny"));
  const data::InductionDataset dataset(100, 4, 128, 0);
  Progress progress;
  progress.cancel();
  EXPECT_THROW(evaluate(*model, dataset, EvalOptions{}, progress), Cancelled);
}

}  // namespace
}  // namespace cs::analysis
