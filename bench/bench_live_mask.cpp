// The live panel's cost: on a model shaped like the built-in induction transformer (2 layers,
// width 64, 4 heads, vocabulary 64, 32 positions, attention only), how long one mask change
// takes to give updated metrics on 512 examples. The baseline is evaluated once, as the GUI
// keeps it; each toggle then re-evaluates the masked model. The same model with MLPs (width 256)
// is measured too. Target: under 150 ms. Last line: one JSON object.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "analysis/mask_evaluation.h"
#include "bench/bench_util.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/random_checkpoint.h"

int main(int argc, char** argv) {
  using namespace cs;
  configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int toggles = bench::argInt(argc, argv, "--toggles", 30);
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.nLayers = 2;
  shape.dModel = 64;
  shape.nHeads = 4;
  shape.dVocab = 64;
  shape.nCtx = 64;
  const auto dataset = data::openDataset("induction:rows=512,half=16,vocab=64,seed=0");
  analysis::EvalOptions options;
  options.batchSize = 512;

  // Median milliseconds of one head toggle plus re-evaluation, and the baseline's.
  auto measure = [&](bool attentionOnly) {
    auto model = models::randomTransformer(models::configForShape(shape), 0);
    for (int l = 0; attentionOnly && l < shape.nLayers; ++l) {
      model->setSkipped(l, models::Sublayer::Mlp, true);
    }
    const double baseline =
        1000.0 * bench::timeOnce([&] { analysis::evaluate(*model, *dataset, options); });
    std::mt19937 rng(7);
    hooks::MaskSet masks;
    std::vector<double> toggleMs;
    for (int i = 0; i < toggles; ++i) {
      const int layer = static_cast<int>(rng() % 2), head = static_cast<int>(rng() % 4);
      if (!masks.remove(hooks::MaskComponent::Head, layer, head)) {
        masks.set({hooks::MaskComponent::Head, layer, head});
      }
      toggleMs.push_back(1000.0 * bench::timeOnce([&] {
                           analysis::evaluateMasked(*model, *dataset, masks, nullptr, options);
                         }));
    }
    return std::pair{baseline, bench::median(toggleMs)};
  };
  const auto [baselineMs, toggleMs] = measure(true);
  const auto [baselineMlpMs, toggleMlpMs] = measure(false);
  const nlohmann::json result{
      {"examples", dataset->size()},
      {"tokens_per_example", 32},
      {"threads", at::get_num_threads()},
      {"baseline_ms", baselineMs},
      {"toggle_median_ms", toggleMs},
      {"baseline_with_mlp_ms", baselineMlpMs},
      {"toggle_median_with_mlp_ms", toggleMlpMs},
      {"target_ms", 150},
  };
  std::cout << result.dump() << std::endl;
  return 0;
}
