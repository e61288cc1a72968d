// Training: the shipped built-in models reach the accuracy their manifests state and the
// manifests agree with the recipes; the induction recipe on a reduced budget learns a real
// induction circuit; a step is AdamW with decoupled weight decay at the scheduled rate; runs are
// bit-for-bit deterministic for a seed and thread count; cancel stops training; the training
// loss scores what evaluation scores; trained folders load.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <numbers>

#include "analysis/evaluation.h"
#include "analysis/train_recipes.h"
#include "analysis/training.h"
#include "core/error.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "data/json_document.h"
#include "data/synthetic_datasets.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/checkpoint_files.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::analysis {
namespace {

namespace fs = std::filesystem;

// What the issue asks of each shipped model's test accuracy.
double requiredTestAccuracy(const std::string& name) {
  if (name == "induction") return 0.9;
  if (name == "modadd") return 0.99;
  return 0.95;  // digits-vit, digits-mlp
}

// One compute thread for a scope: training runs many small ops, and a second OpenMP thread
// sharing a busy core (a parallel ctest) slows them down many times over.
class OneThread {
 public:
  OneThread() : m_previous(threadCount()) { configureThreads(1); }
  ~OneThread() { configureThreads(m_previous); }
  OneThread(const OneThread&) = delete;
  OneThread& operator=(const OneThread&) = delete;

 private:
  int m_previous;
};

nlohmann::json readManifest(const fs::path& folder) {
  return data::readJsonFile((folder / "manifest.json").string(), 1 << 22);
}

class ShippedModel : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedModel, ReachesTheAccuracyItsManifestStates) {
  const auto folder = models::resolveModelFolder("builtin:" + GetParam());
  const auto manifest = readManifest(folder);
  auto model = models::loadHfModel(folder);
  const auto testSet = data::openDataset(manifest.at("test_dataset").get<std::string>());
  const auto trainSet = data::openDataset(manifest.at("train_dataset").get<std::string>());
  const auto test = evaluate(*model, *testSet, {256, 0});
  const auto train = evaluate(*model, *trainSet, {256, 0});
  // Other thread counts may round a near-tie differently: allow a few predictions.
  EXPECT_NEAR(test.accuracy, manifest.at("test_accuracy").get<double>(), 0.002);
  EXPECT_NEAR(train.accuracy, manifest.at("train_accuracy").get<double>(), 0.002);
  EXPECT_GT(test.accuracy, requiredTestAccuracy(GetParam()));
  if (GetParam() == "induction") {
    const auto recipe = trainRecipe("induction", manifest.at("seed").get<std::uint64_t>());
    const auto firstHalf = evaluate(*model, *firstHalfDataset(recipe), {256, 0});
    EXPECT_NEAR(firstHalf.accuracy, manifest.at("first_half_accuracy").get<double>(), 0.002);
    EXPECT_LT(firstHalf.accuracy, 2.0 / recipe.config.dVocab) << "chance is 1 / vocabulary";
  }
}

TEST_P(ShippedModel, ManifestAgreesWithTheRecipeAndTheFiles) {
  const auto folder = models::resolveModelFolder("builtin:" + GetParam());
  const auto m = readManifest(folder);
  EXPECT_EQ(m.at("recipe"), GetParam());
  const auto recipe = trainRecipe(GetParam(), m.at("seed").get<std::uint64_t>());
  EXPECT_EQ(m.at("train_dataset"), recipe.trainDataset);
  EXPECT_EQ(m.at("test_dataset"), recipe.testDataset);
  EXPECT_EQ(m.at("hyperparameters"), recipeSettingsJson(recipe));
  EXPECT_EQ(m.at("max_steps"), recipe.options.steps);
  EXPECT_EQ(m.at("target"), recipe.options.target);
  const auto steps = m.at("steps").get<std::int64_t>();
  EXPECT_GT(steps, 0);
  EXPECT_LE(steps, recipe.options.steps);
  EXPECT_GT(m.at("threads").get<int>(), 0);
  EXPECT_GT(m.at("seconds").get<double>(), 0.0);
  EXPECT_TRUE(m.at("tool_version").is_string());
  EXPECT_EQ(models::readHfConfig(folder), recipe.config);
  // Small (the whole model folder under 2 MiB) and float32.
  std::uintmax_t bytes = 0;
  for (const auto& entry : fs::directory_iterator(folder)) bytes += fs::file_size(entry.path());
  EXPECT_LT(bytes, 2u << 20);
  const auto files = models::CheckpointFiles::open(folder);
  for (const auto& name : files.names()) EXPECT_EQ(files.entry(name).dtype, at::kFloat) << name;
}

INSTANTIATE_TEST_SUITE_P(Builtin, ShippedModel,
                         ::testing::Values("induction", "modadd", "digits-vit", "digits-mlp"),
                         [](const auto& info) { return test::folderParamName(info.param); });

// A smaller variant of the recipe that learns in CI time: the shipped model (2 attention-only
// layers, width 64, 4 heads, vocabulary 64) with context 16 instead of 32 (repeats of 4 to 8
// tokens instead of 8 to 16), 600 steps of batch 64 instead of 3000 of 128: about 15 s on one
// core instead of 4 minutes.
TEST(InductionRecipe, ReducedBudgetLearnsARealInductionCircuit) {
  const OneThread oneThread;
  auto recipe = trainRecipe("induction", 0);
  recipe.config.nCtx = 16;
  recipe.inductionMinRepeat = 4;
  recipe.trainDataset = "induction:rows=1024,half=8,vocab=64,seed=1";
  recipe.testDataset = "induction:rows=1024,half=8,vocab=64,seed=1000";
  recipe.options.steps = 600;
  recipe.batchSize = 64;
  const auto start = std::chrono::steady_clock::now();
  const auto run = runTrainRecipe(recipe);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& r = run.result;
  EXPECT_GT(r.testAccuracy, 0.9) << "repeated half, from its second token";
  EXPECT_LT(r.firstHalfAccuracy, 2.0 / 64) << "unrepeated half: chance is 1/64";
  EXPECT_GT(r.firstHalfAccuracy, 0.5 / 64);
  // Copying from a fixed offset would fail on repeats shorter than any seen in training
  // (here the shortest is 4): content-based induction does not care.
  const data::InductionDataset shortRepeats(512, 3, 64, 77);
  EXPECT_GT(evaluate(*run.model, shortRepeats).accuracy, 0.8);
  // Both layers take part: without layer 0's attention (the previous-token head) the
  // induction heads of layer 1 have nothing to match, and most of the accuracy is gone.
  run.model->setSkipped(0, models::Sublayer::Attention, true);
  EXPECT_LT(evaluate(*run.model, *data::openDataset(recipe.testDataset)).accuracy, 0.5);
  // Reported, not asserted: speed belongs to bench/, and CI machines vary.
  RecordProperty("seconds", std::to_string(seconds));
}

std::vector<std::pair<std::string, at::Tensor>> weightsOf(const models::Transformer& model) {
  return model.weights().namedTensors();
}

bool sameWeights(const models::Transformer& a, const models::Transformer& b) {
  const auto wa = weightsOf(a), wb = weightsOf(b);
  if (wa.size() != wb.size()) return false;
  for (std::size_t i = 0; i < wa.size(); ++i) {
    if (wa[i].first != wb[i].first || !torch::equal(wa[i].second, wb[i].second)) return false;
  }
  return true;
}

TEST(Training, SameSeedAndThreadsGiveBitIdenticalWeights) {
  const OneThread oneThread;
  // Fresh batches (induction) and shuffled, shifted minibatches of a dataset (digits-vit).
  for (const std::string name : {"induction", "digits-vit"}) {
    SCOPED_TRACE(name);
    auto recipe = trainRecipe(name, 3);
    recipe.options.steps = 12;
    recipe.options.evalEvery = 5;
    const auto a = runTrainRecipe(recipe);
    const auto b = runTrainRecipe(recipe);
    EXPECT_TRUE(sameWeights(*a.model, *b.model));
    EXPECT_EQ(a.result.testAccuracy, b.result.testAccuracy);
    ASSERT_EQ(a.result.log.size(), 3u);
    EXPECT_EQ(a.result.log.back().loss, b.result.log.back().loss);
    auto other = trainRecipe(name, 4);
    other.options = recipe.options;
    const auto c = runTrainRecipe(other);
    EXPECT_FALSE(sameWeights(*a.model, *c.model));
    // Training moved the weights away from the initial ones.
    EXPECT_FALSE(sameWeights(*a.model, *initialTransformer(recipe.config, 3, recipe.initStd)));
  }
  // Two threads: again the same bits run after run.
  configureThreads(2);
  auto recipe = trainRecipe("digits-vit", 1);
  recipe.options.steps = 6;
  EXPECT_TRUE(sameWeights(*runTrainRecipe(recipe).model, *runTrainRecipe(recipe).model));
}

TEST(Training, LearningRateWarmsUpLinearlyThenFollowsTheCosine) {
  TrainOptions o;
  o.learningRate = 0.01;
  o.warmupSteps = 4;
  o.steps = 104;
  o.finalLearningRateFraction = 0.1;
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 0), 0.0025);
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 2), 0.0075);
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 3), 0.01);  // the peak ends the warm-up
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 4), 0.01);  // the cosine starts at the peak
  // Half-way through the decay the cosine term is 1/2: f + (1 - f) / 2 of the peak.
  EXPECT_NEAR(scheduledLearningRate(o, 54), 0.01 * 0.55, 1e-15);
  const double lastTerm = 0.5 * (1.0 + std::cos(std::numbers::pi * 99.0 / 100.0));
  EXPECT_NEAR(scheduledLearningRate(o, 103), 0.01 * (0.1 + 0.9 * lastTerm), 1e-15);
  for (std::int64_t step = 4; step < 103; ++step) {
    EXPECT_LT(scheduledLearningRate(o, step + 1), scheduledLearningRate(o, step)) << step;
    EXPECT_GT(scheduledLearningRate(o, step + 1), 0.001) << step;
  }
  o.finalLearningRateFraction = 1.0;
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 60), 0.01);
  o.warmupSteps = 0;
  EXPECT_DOUBLE_EQ(scheduledLearningRate(o, 0), 0.01);
}

// One step from fresh moments, by hand: m = (1 - b1) g, v = (1 - b2) g^2, bias-corrected to g and
// g^2, so p <- p (1 - lr wd) - lr g / (|g| + eps) with lr the step's scheduled rate. Weight decay
// added to the gradient instead (Adam + L2) would give lr sign(g + wd p) and fail this.
TEST(Training, OneStepIsAdamWWithDecoupledWeightDecayAtTheScheduledRate) {
  const auto recipe = trainRecipe("induction", 0);
  const data::InductionDataset rows(8, 16, 64, 1);
  const auto batch = rows.batch(0, 8);
  auto trained = initialTransformer(recipe.config, 5, 0.1);
  const auto before = initialTransformer(recipe.config, 5, 0.1);
  ASSERT_FALSE(before->weights().W_U.is_alias_of(before->weights().W_E));

  // The gradient of the loss at the initial weights, for a few of them.
  auto reference = initialTransformer(recipe.config, 5, 0.1);
  auto& rw = reference->weights();
  std::vector<std::pair<std::string, at::Tensor*>> checked{
      {"W_U", &rw.W_U}, {"W_E", &rw.W_E}, {"blocks.1.attn.W_O", &rw.blocks[1].attn.W_O}};
  for (auto& [name, t] : checked) *t = t->detach().clone().requires_grad_(true);
  batchLoss(reference->forward({batch.tokens, batch.attentionMask, {}, batch.pixels}), batch)
      .loss.backward();

  TrainOptions o;
  o.steps = 1;
  o.learningRate = 0.01;
  o.warmupSteps = 4;  // step 0 runs at a quarter of the peak
  o.weightDecay = 0.5;
  o.evalEvery = 1;
  trainModel(
      *trained, [&](std::int64_t) { return batch; }, [](models::Transformer&) { return 0.0; }, o);

  const double lr = scheduledLearningRate(o, 0);
  ASSERT_DOUBLE_EQ(lr, 0.0025);
  const auto& tw = trained->weights();
  const auto& bw = before->weights();
  const std::vector<std::pair<const at::Tensor*, const at::Tensor*>> pairs{
      {&tw.W_U, &bw.W_U}, {&tw.W_E, &bw.W_E}, {&tw.blocks[1].attn.W_O, &bw.blocks[1].attn.W_O}};
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    SCOPED_TRACE(checked[i].first);
    const auto g = checked[i].second->grad().to(at::kDouble);
    ASSERT_GT(g.abs().max().item<double>(), 0.0);
    const auto p0 = pairs[i].second->to(at::kDouble);
    const auto expected = p0 * (1.0 - lr * o.weightDecay) - lr * g / (g.abs() + o.epsilon);
    EXPECT_LT(test::maxAbsDiff(*pairs[i].first, expected), 1e-6);
    EXPECT_GT(test::maxAbsDiff(*pairs[i].first, p0), 1e-3);
  }
  // The skipped MLPs' norms are never read, get no gradient, and so no weight decay either.
  for (const auto& block : tw.blocks)
    EXPECT_TRUE(torch::equal(block.ln2.weight, at::ones_like(block.ln2.weight)));
}

TEST(Training, OptionsAreCheckedWithClearMessages) {
  auto model = initialTransformer(trainRecipe("digits-mlp").config, 0, 0.1);
  const BatchSource batches = [](std::int64_t) -> data::EvalBatch {
    ADD_FAILURE() << "no step may run with invalid options";
    return {};
  };
  const Evaluator metric = [](models::Transformer&) { return 0.0; };
  auto messageFor = [&](const std::function<void(TrainOptions&)>& change) {
    TrainOptions o;
    change(o);
    return test::messageOf<ConfigError>([&] { trainModel(*model, batches, metric, o); });
  };
  EXPECT_NE(messageFor([](auto& o) { o.steps = 0; }).find("positive number of steps"),
            std::string::npos);
  EXPECT_NE(messageFor([](auto& o) { o.learningRate = 0.0; }).find("learning rate"),
            std::string::npos);
  EXPECT_NE(messageFor([](auto& o) { o.beta2 = 1.0; }).find("betas"), std::string::npos);
  EXPECT_NE(messageFor([](auto& o) { o.epsilon = 0.0; }).find("epsilon"), std::string::npos);
  EXPECT_NE(messageFor([](auto& o) {
              o.finalLearningRateFraction = 1.5;
            }).find("final learning-rate fraction"),
            std::string::npos);
  EXPECT_NE(messageFor([](auto& o) { o.weightDecay = -1.0; }).find("must not be negative"),
            std::string::npos);
}

TEST(Training, CancelStopsAtTheNextStepAndLeavesPlainWeights) {
  const auto recipe = trainRecipe("induction", 0);
  auto model = initialTransformer(recipe.config, 0, recipe.initStd);
  const data::InductionDataset rows(8, 16, 64, 1);
  Progress progress;
  int calls = 0;
  const BatchSource batches = [&](std::int64_t step) {
    ++calls;
    if (step == 3) progress.cancel();
    return rows.batch(0, 8);
  };
  TrainOptions options;
  options.steps = 100;
  EXPECT_THROW(trainModel(
                   *model, batches, [](models::Transformer&) { return 0.0; }, options, progress),
               Cancelled);
  EXPECT_EQ(calls, 4);  // the step that asked finishes; the next check stops
  for (const auto& [name, t] : weightsOf(*model)) EXPECT_FALSE(t.requires_grad()) << name;

  Progress cancelled;
  cancelled.cancel();
  EXPECT_THROW(runTrainRecipe(recipe, cancelled), Cancelled);
}

TEST(Training, EarlyStopAtTheTargetAndProgressText) {
  auto recipe = trainRecipe("digits-mlp", 0);
  recipe.options.steps = 500;
  recipe.options.evalEvery = 10;
  recipe.options.target = 0.5;
  Progress progress;
  std::vector<std::string> stages;
  progress.setListener([&stages](const std::string& stage, double) {
    if (stages.empty() || stages.back() != stage) stages.push_back(stage);
  });
  const auto run = runTrainRecipe(recipe, progress);
  EXPECT_TRUE(run.result.reachedTarget);
  EXPECT_LT(run.result.steps, 500);
  EXPECT_EQ(run.result.steps % 10, 0);
  EXPECT_GE(run.result.log.back().metric, 0.5);
  bool sawLoss = false;
  for (const auto& s : stages)
    sawLoss |= s.find("loss") != std::string::npos && s.find("acc") != std::string::npos;
  EXPECT_TRUE(sawLoss);
}

TEST(Training, BatchLossScoresWhatEvaluationScores) {
  for (const std::string name : {"induction", "modadd", "digits-vit"}) {
    SCOPED_TRACE(name);
    const auto recipe = trainRecipe(name, 0);
    auto model = initialTransformer(recipe.config, 1, 0.1);
    const auto dataset = data::openDataset(recipe.testDataset);
    const auto batch = dataset->batch(0, 40);
    at::Tensor logits;
    {
      c10::InferenceMode guard;
      logits = model->forward({batch.tokens, batch.attentionMask, {}, batch.pixels});
    }
    const auto loss = batchLoss(logits, batch);
    const auto expected = evaluate(*model, *dataset, {40, 40});
    EXPECT_NEAR(loss.loss.item<double>(), expected.meanLoss, 1e-5);
    EXPECT_EQ(loss.predictions, expected.predictions);
    EXPECT_NEAR(static_cast<double>(loss.correct) / static_cast<double>(loss.predictions),
                expected.accuracy, 1e-12);
  }
}

TEST(Training, TrainedFolderLoadsWithItsManifest) {
  auto recipe = trainRecipe("digits-mlp", 2);
  recipe.options.steps = 20;
  const auto run = runTrainRecipe(recipe);
  test::TempDir dir;
  writeTrainedModel(*run.model, recipe, run.result, dir.path());
  auto loaded = models::loadHfModel(dir.path());
  EXPECT_TRUE(sameWeights(*run.model, *loaded));
  const auto m = readManifest(dir.path());
  EXPECT_EQ(m.at("recipe"), "digits-mlp");
  EXPECT_EQ(m.at("seed"), 2);
  EXPECT_EQ(m.at("steps"), 20);
  EXPECT_EQ(m.at("test_accuracy").get<double>(), run.result.testAccuracy);
  EXPECT_FALSE(m.contains("first_half_accuracy"));
}

TEST(Training, UnknownRecipeListsTheRecipes) {
  const auto message = test::messageOf<ConfigError>([] { trainRecipe("gpt5"); });
  for (const auto& name : trainRecipeNames()) {
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

TEST(Training, InitialWeightsAreSeeded) {
  const auto config = trainRecipe("modadd").config;
  EXPECT_TRUE(
      sameWeights(*initialTransformer(config, 7, 0.1), *initialTransformer(config, 7, 0.1)));
  EXPECT_FALSE(
      sameWeights(*initialTransformer(config, 7, 0.1), *initialTransformer(config, 8, 0.1)));
}

}  // namespace
}  // namespace cs::analysis
