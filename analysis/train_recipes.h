// The built-in models' training recipes (induction, modadd, digits-vit, digits-mlp): each is a
// model configuration, its data and its AdamW settings. runTrainRecipe trains one and measures
// it; writeTrainedModel stores it as a circuitscope checkpoint with a manifest. docs/training.md
// lists the settings and the measured numbers of the shipped weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "analysis/results/train_result.h"
#include "analysis/training.h"
#include "core/progress.h"
#include "data/dataset.h"
#include "models/transformer.h"

namespace cs::analysis {

/// Where a recipe's training batches come from.
enum class TrainData {
  Induction,  ///< fresh repeated random sequences every step (next-token loss everywhere)
  Dataset,    ///< rows of trainDataset: the whole set each step, or shuffled minibatches
};

struct TrainRecipe {
  std::string name;
  std::string description;
  std::uint64_t seed = 0;  ///< weights, batches and (modadd) the train/test split
  models::TransformerConfig config;
  double initStd = 0.02;  ///< initial matrices ~ N(0, initStd)
  TrainOptions options;
  TrainData data = TrainData::Dataset;
  std::int64_t batchSize = 0;  ///< rows per step (0: the whole training set every step)
  bool shiftAugment = false;   ///< images: random shifts by up to one pixel
  /// Induction: the repeated segment's length is drawn per row from [this, nCtx / 2].
  std::int64_t inductionMinRepeat = 8;
  std::string trainDataset;  ///< specs (docs/datasets.md), seed filled in
  std::string testDataset;
  std::int64_t evalRows = 0;  ///< test rows the early-stop metric reads (0: all)
};

/// "induction", "modadd", "digits-vit", "digits-mlp"
std::vector<std::string> trainRecipeNames();

/// The recipe `name` for `seed`; ConfigError listing the recipes for an unknown name.
TrainRecipe trainRecipe(const std::string& name, std::uint64_t seed = 0);

struct TrainRun {
  TrainResult result;
  std::unique_ptr<models::Transformer> model;
};

/// Builds the recipe's model from its seed, trains it (trainModel) and measures train and test
/// accuracy with analysis::evaluate (and, for induction, the first-half accuracy). The same
/// recipe, seed and thread count give the same weights bit for bit.
TrainRun runTrainRecipe(const TrainRecipe& recipe, Progress& progress = noProgress());

/// Induction recipes: the test rows scored on their first (unrepeated) half, where nothing beats
/// chance (1 / vocabulary); TrainResult::firstHalfAccuracy is measured on it. Null for others.
std::unique_ptr<data::Dataset> firstHalfDataset(const TrainRecipe& recipe);

/// The recipe's training settings as manifest.json stores them under "hyperparameters".
nlohmann::json recipeSettingsJson(const TrainRecipe& recipe);

/// Writes folder/config.json + model.safetensors (models::saveNativeCheckpoint) and
/// folder/manifest.json: the recipe, seed, steps, threads, time, settings and the measured
/// accuracies.
void writeTrainedModel(const models::Transformer& model, const TrainRecipe& recipe,
                       const TrainResult& result, const std::filesystem::path& folder);

}  // namespace cs::analysis
