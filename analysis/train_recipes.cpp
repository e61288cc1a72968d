// The built-in recipes and what runs them: batch sources, the held-out metric, the final
// measurements and the manifest. Each recipe's settings are written out here in one place.
#include "analysis/train_recipes.h"

#include "core/torch_api.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "analysis/evaluation.h"
#include "core/error.h"
#include "core/threads.h"
#include "core/version.h"
#include "data/atomic_file.h"
#include "data/dataset_spec.h"
#include "data/synthetic_datasets.h"
#include "models/native_checkpoint.h"

namespace cs::analysis {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kEvalBatch = 256;
// Initial weights are drawn with the seed, training batches with seed + 1, so that data and
// weights never share a stream. Induction trains on fresh sequences (no fixed train set): its
// "train" rows are the standard evaluation rows drawn with seed + 1, its test rows with
// seed + 1000.
constexpr std::uint64_t kDataSeedOffset = 1;
constexpr std::uint64_t kInductionTestSeedOffset = 1000;
constexpr std::int64_t kInductionRows = 1024;

std::string inductionSpec(const models::TransformerConfig& c, std::uint64_t seed) {
  return "induction:rows=" + std::to_string(kInductionRows) +
         ",half=" + std::to_string(c.nCtx / 2) + ",vocab=" + std::to_string(c.dVocab) +
         ",seed=" + std::to_string(seed);
}

// Two attention-only layers (MLPs skipped, width 0) on repeated random sequences: the
// smallest model with a real induction circuit (a previous-token head in layer 0 feeding an
// induction head in layer 1).
TrainRecipe inductionRecipe(std::uint64_t seed) {
  TrainRecipe r;
  r.name = "induction";
  r.description =
      "two-layer attention-only transformer (width 64, 4 heads of 16 per layer, vocabulary 64, "
      "context 32) on repeated random token sequences";
  auto& c = r.config;
  c.family = "toy";
  c.modelType = "induction";
  c.nLayers = 2;
  c.dModel = 64;
  c.dHead = 16;
  c.setUniform(4, 4, 0);
  c.mlpSkipped.assign(2, true);
  c.nCtx = 32;
  c.dVocab = 64;
  c.norm = models::NormKind::LayerNorm;
  c.positions = models::PositionKind::Learned;
  r.initStd = 0.02;
  r.data = TrainData::Induction;
  r.batchSize = 128;
  r.inductionMinRepeat = 8;
  auto& o = r.options;
  o.steps = 3000;
  o.learningRate = 2e-3;
  o.weightDecay = 0.01;
  o.beta1 = 0.9;
  o.beta2 = 0.98;
  o.warmupSteps = 100;
  o.finalLearningRateFraction = 0.1;
  o.evalEvery = 100;
  o.target = 0.0;  // the full budget: accuracy still creeps up after the phase change
  r.trainDataset = inductionSpec(c, seed + kDataSeedOffset);
  r.testDataset = inductionSpec(c, seed + kInductionTestSeedOffset);
  r.evalRows = 256;
  return r;
}

// One layer, no norms, ReLU MLP: the modular-addition model of Nanda et al. (2023) that the
// Local Interaction Basis paper analysed. Full-batch AdamW with strong weight decay on 30% of
// the pairs; test accuracy jumps late (grokking).
TrainRecipe modaddRecipe(std::uint64_t seed) {
  TrainRecipe r;
  r.name = "modadd";
  r.description =
      "one-layer transformer for (a + b) mod 113 (width 128, 4 heads of 32, ReLU MLP of 512, no "
      "LayerNorm, context 3, vocabulary 114), full-batch AdamW on 30% of the pairs";
  auto& c = r.config;
  c.family = "toy";
  c.modelType = "modadd";
  c.nLayers = 1;
  c.dModel = 128;
  c.dHead = 32;
  c.setUniform(4, 4, 512);
  c.nCtx = 3;
  c.dVocab = 114;
  c.norm = models::NormKind::None;
  c.positions = models::PositionKind::Learned;
  c.activation = models::Activation::Relu;
  c.mlpBias = true;
  r.initStd = 1.0 / std::sqrt(128.0);
  r.data = TrainData::Dataset;
  r.batchSize = 0;
  auto& o = r.options;
  o.steps = 40000;
  o.learningRate = 1e-3;
  o.weightDecay = 1.0;
  o.beta1 = 0.9;
  o.beta2 = 0.98;
  o.warmupSteps = 10;
  o.evalEvery = 100;
  o.target = 0.995;
  const auto split = ":p=113,percent=30,seed=" + std::to_string(seed);
  r.trainDataset = "modadd-train" + split;
  r.testDataset = "modadd-test" + split;
  return r;
}

models::TransformerConfig digitsConfig(const std::string& name) {
  models::TransformerConfig c;
  c.modelType = name;
  c.input = models::InputKind::Patches;
  c.imageSize = 8;
  c.nChannels = 1;
  c.head = models::HeadKind::Classifier;
  c.nClasses = 10;
  for (int i = 0; i < 10; ++i) c.classLabels.push_back(std::to_string(i));
  c.causal = false;
  c.mlpBias = true;
  c.unembedBias = true;
  return c;
}

// A small ViT: 2 x 2 patches (16 of them) and a class token, two pre-LN blocks.
TrainRecipe digitsVitRecipe() {
  TrainRecipe r;
  r.name = "digits-vit";
  r.description =
      "small ViT on the 8x8 digits (2x2 patches, class token, 2 layers, width 64, 4 heads of 16, "
      "GELU MLP of 128)";
  auto& c = r.config = digitsConfig(r.name);
  c.family = "vit";
  c.patchSize = 2;
  c.nLayers = 2;
  c.dModel = 64;
  c.dHead = 16;
  c.setUniform(4, 4, 128);
  c.nCtx = c.nImageTokens();
  c.norm = models::NormKind::LayerNorm;
  c.positions = models::PositionKind::Learned;
  c.activation = models::Activation::Gelu;
  c.qkvBias = true;
  c.attnOutBias = true;
  r.initStd = 0.02;
  r.batchSize = 64;
  r.shiftAugment = true;
  auto& o = r.options;
  o.steps = 4000;
  o.learningRate = 1e-3;
  o.weightDecay = 0.05;
  o.warmupSteps = 100;
  o.finalLearningRateFraction = 0.05;
  o.evalEvery = 100;
  o.target = 0.0;
  r.trainDataset = "digits-train";
  r.testDataset = "digits-test";
  return r;
}

// An MLP as a Transformer: one 8x8 patch (the whole image) embedded linearly, no class token,
// no positions, no norms, the attention sublayer skipped, one ReLU MLP with a residual around
// it, a linear classifier.
TrainRecipe digitsMlpRecipe() {
  TrainRecipe r;
  r.name = "digits-mlp";
  r.description =
      "small MLP on the 8x8 digits: linear 64 -> 64, then x + W_out relu(W_in x + b), then "
      "linear 64 -> 10 (a one-patch Transformer with attention skipped)";
  auto& c = r.config = digitsConfig(r.name);
  c.family = "mlp";
  c.patchSize = 8;
  c.classToken = false;
  c.nLayers = 1;
  c.dModel = 64;
  c.dHead = 1;
  c.setUniform(0, 0, 256);
  c.attnSkipped.assign(1, true);
  c.nCtx = 1;
  c.norm = models::NormKind::None;
  c.positions = models::PositionKind::None;
  c.activation = models::Activation::Relu;
  r.initStd = 1.0 / 8.0;
  r.batchSize = 64;
  r.shiftAugment = true;
  auto& o = r.options;
  o.steps = 3000;
  o.learningRate = 1e-3;
  o.weightDecay = 0.05;
  o.warmupSteps = 50;
  o.finalLearningRateFraction = 0.05;
  o.evalEvery = 100;
  o.target = 0.0;
  r.trainDataset = "digits-train";
  r.testDataset = "digits-test";
  return r;
}

// Rows `index` [N] of a batch.
data::EvalBatch selectRows(const data::EvalBatch& all, const at::Tensor& index) {
  auto pick = [&index](const at::Tensor& t) {
    return t.defined() ? t.index_select(0, index) : at::Tensor();
  };
  data::EvalBatch b;
  b.tokens = pick(all.tokens);
  b.attentionMask = pick(all.attentionMask);
  b.pixels = pick(all.pixels);
  b.targets = pick(all.targets);
  b.foils = pick(all.foils);
  b.scorePositions = pick(all.scorePositions);
  b.lossMask = pick(all.lossMask);
  return b;
}

// Each image shifted by -1, 0 or +1 pixels along each axis (zeros fill in).
at::Tensor shiftImages(const at::Tensor& pixels, at::Generator& generator) {  // [B, C, H, W]
  const auto B = pixels.size(0), H = pixels.size(2), W = pixels.size(3);
  const auto padded = at::constant_pad_nd(pixels, {1, 1, 1, 1}, 0.0);
  const auto offsets = at::randint(0, 3, {B, 2}, generator, at::kLong);
  const auto o = offsets.accessor<int64_t, 2>();
  std::vector<at::Tensor> rows;
  rows.reserve(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    rows.push_back(padded[b].narrow(1, o[b][0], H).narrow(2, o[b][1], W));
  return at::stack(rows);
}

// Fresh sequences each step: 2 half random tokens in which a segment of h tokens is followed
// by its repeat, h drawn per row from [inductionMinRepeat, half] and the segment placed at a
// random position. With one fixed h (or place) attention could copy from a fixed offset (or
// position) alone; varying both leaves content matching, a previous-token head feeding an
// induction head, as the only general solution. The loss reads every next-token prediction,
// so the unrepeated tokens are trained too (where chance is the best possible).
BatchSource inductionBatches(const TrainRecipe& r) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(r.seed + kDataSeedOffset);
  const std::int64_t half = r.config.nCtx / 2, vocab = r.config.dVocab, rows = r.batchSize;
  const auto minRepeat = std::clamp<std::int64_t>(r.inductionMinRepeat, 1, half);
  return [generator, half, vocab, rows, minRepeat](std::int64_t) mutable {
    const auto T = 2 * half;
    auto tokens = at::randint(0, vocab, {rows, T}, generator, at::kLong);
    const auto lengths = at::randint(minRepeat, half + 1, {rows}, generator, at::kLong);
    const auto places = at::rand({rows}, generator, at::kDouble);
    const auto h = lengths.accessor<int64_t, 1>();
    const auto u = places.accessor<double, 1>();
    for (int64_t b = 0; b < rows; ++b) {
      const auto start = std::min(
          static_cast<int64_t>(u[b] * static_cast<double>(T - 2 * h[b] + 1)), T - 2 * h[b]);
      auto row = tokens[b];
      row.narrow(0, start + h[b], h[b]).copy_(row.narrow(0, start, h[b]));
    }
    data::EvalBatch batch;
    batch.tokens = tokens;
    batch.lossMask = at::ones({rows, T}, at::kBool);
    return batch;
  };
}

// The whole training set every step, or shuffled minibatches (a fresh permutation per epoch).
BatchSource datasetBatches(const TrainRecipe& r, const data::Dataset& dataset) {
  const auto all = dataset.batch(0, dataset.size());
  const auto size = dataset.size();
  if (r.batchSize <= 0 || r.batchSize >= size) {
    if (r.shiftAugment) throw ConfigError("shift augmentation needs minibatches");
    return [all](std::int64_t) { return all; };
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(r.seed + kDataSeedOffset);
  const auto perEpoch = size / r.batchSize;  // the last partial batch of an epoch is dropped
  const auto rows = r.batchSize;
  const bool shift = r.shiftAugment;
  at::Tensor order;
  return [=](std::int64_t step) mutable {
    const auto within = step % perEpoch;
    if (within == 0) order = at::randperm(size, generator, at::kLong);
    auto b = selectRows(all, order.narrow(0, within * rows, rows));
    if (shift) {
      if (!b.pixels.defined()) throw ConfigError("shift augmentation needs images");
      b.pixels = shiftImages(b.pixels, generator);
    }
    return b;
  };
}

}  // namespace

nlohmann::json recipeSettingsJson(const TrainRecipe& r) {
  const auto& o = r.options;
  nlohmann::json j{{"optimizer", "AdamW"},
                   {"learning_rate", o.learningRate},
                   {"weight_decay", o.weightDecay},
                   {"betas", {o.beta1, o.beta2}},
                   {"epsilon", o.epsilon},
                   {"warmup_steps", o.warmupSteps},
                   {"final_learning_rate_fraction", o.finalLearningRateFraction},
                   {"gradient_clip", o.gradientClip},
                   {"batch_size", r.batchSize},
                   {"shift_augment", r.shiftAugment},
                   {"init_std", r.initStd},
                   {"eval_every", o.evalEvery},
                   {"eval_rows", r.evalRows}};
  if (r.data == TrainData::Induction) j["induction_min_repeat"] = r.inductionMinRepeat;
  return j;
}

std::unique_ptr<data::Dataset> firstHalfDataset(const TrainRecipe& r) {
  if (r.data != TrainData::Induction) return nullptr;
  return std::make_unique<data::InductionDataset>(
      kInductionRows, r.config.nCtx / 2, r.config.dVocab, r.seed + kInductionTestSeedOffset, 0,
      data::InductionScoring::FirstHalf);
}

std::vector<std::string> trainRecipeNames() {
  return {"induction", "modadd", "digits-vit", "digits-mlp"};
}

TrainRecipe trainRecipe(const std::string& name, std::uint64_t seed) {
  TrainRecipe r;
  if (name == "induction") {
    r = inductionRecipe(seed);
  } else if (name == "modadd") {
    r = modaddRecipe(seed);
  } else if (name == "digits-vit") {
    r = digitsVitRecipe();
  } else if (name == "digits-mlp") {
    r = digitsMlpRecipe();
  } else {
    std::string names;
    for (const auto& n : trainRecipeNames()) names += (names.empty() ? "" : ", ") + n;
    throw ConfigError("no training recipe '" + name + "'; recipes: " + names);
  }
  r.seed = seed;
  r.config.validate();
  return r;
}

TrainRun runTrainRecipe(const TrainRecipe& recipe, Progress& progress) {
  TrainRun run;
  auto& result = run.result;
  result.recipe = recipe.name;
  result.seed = recipe.seed;
  result.maxSteps = recipe.options.steps;
  result.target = recipe.options.target;
  result.trainDataset = recipe.trainDataset;
  result.testDataset = recipe.testDataset;
  result.threads = threadCount();

  progress.setStage("preparing " + recipe.name);
  run.model = initialTransformer(recipe.config, recipe.seed, recipe.initStd);
  const auto trainSet = data::openDataset(recipe.trainDataset);
  const auto testSet = data::openDataset(recipe.testDataset);
  const auto batches = recipe.data == TrainData::Induction ? inductionBatches(recipe)
                                                           : datasetBatches(recipe, *trainSet);
  const EvalOptions heldOut{kEvalBatch, recipe.evalRows};
  const Evaluator metric = [&](models::Transformer& model) {
    return evaluate(model, *testSet, heldOut).accuracy;
  };
  const auto loop =
      trainModel(*run.model, batches, metric, recipe.options, progress, "training " + recipe.name);
  result.steps = loop.steps;
  result.seconds = loop.seconds;
  result.reachedTarget = loop.reachedTarget;
  result.log = loop.log;

  // With `progress`: the stage names each set, and cancel is honoured here too.
  const auto train = evaluate(*run.model, *trainSet, {kEvalBatch, 0}, progress);
  const auto test = evaluate(*run.model, *testSet, {kEvalBatch, 0}, progress);
  result.trainAccuracy = train.accuracy;
  result.trainLoss = train.meanLoss;
  result.testAccuracy = test.accuracy;
  result.testLoss = test.meanLoss;
  if (const auto firstHalf = firstHalfDataset(recipe)) {
    result.firstHalfAccuracy = evaluate(*run.model, *firstHalf, {kEvalBatch, 0}, progress).accuracy;
  }
  return run;
}

void writeTrainedModel(const models::Transformer& model, const TrainRecipe& recipe,
                       const TrainResult& result, const fs::path& folder) {
  const nlohmann::json provenance{{"trained_by", "circuitscope-cli train " + recipe.name},
                                  {"seed", recipe.seed},
                                  {"steps", result.steps}};
  // Retraining into a model's own folder (docs/training.md) must never leave the old manifest
  // describing new weights when a later write fails: it goes first and comes back last.
  std::error_code ec;
  fs::remove(folder / "manifest.json", ec);
  if (ec)
    throw IoError("cannot replace " + (folder / "manifest.json").string() + ": " + ec.message());
  models::saveNativeCheckpoint(model, folder, &provenance);
  nlohmann::json manifest{
      {"format", "circuitscope-train-manifest"},
      {"format_version", 1},
      {"recipe", recipe.name},
      {"description", recipe.description},
      {"seed", recipe.seed},
      {"steps", result.steps},
      {"max_steps", result.maxSteps},
      {"threads", result.threads},
      {"seconds", result.seconds},
      {"target", result.target},
      {"reached_target", result.reachedTarget},
      {"train_dataset", result.trainDataset},
      {"test_dataset", result.testDataset},
      {"train_accuracy", result.trainAccuracy},
      {"test_accuracy", result.testAccuracy},
      {"train_loss", result.trainLoss},
      {"test_loss", result.testLoss},
      {"hyperparameters", recipeSettingsJson(recipe)},
      {"tool_version", kToolVersion},
  };
  if (result.firstHalfAccuracy >= 0.0) {
    manifest["first_half_accuracy"] = result.firstHalfAccuracy;
    manifest["chance_accuracy"] = 1.0 / recipe.config.dVocab;
  }
  nlohmann::json log = nlohmann::json::array();
  for (const auto& e : result.log) {
    log.push_back({{"step", e.step},
                   {"loss", e.loss},
                   {"batch_accuracy", e.batchAccuracy},
                   {"held_out_accuracy", e.metric},
                   {"seconds", e.seconds}});
  }
  manifest["log"] = log;
  try {
    data::writeTextFileAtomically(folder / "manifest.json", manifest.dump(2) + "\n");
  } catch (const Error&) {
    rethrowWithContext("saving " + folder.string());
  }
}

}  // namespace cs::analysis
