// The live panel's cost: on a model the size of the built-in induction transformer (2 layers,
// width 64, 4 heads, vocabulary 64, 32 positions), how long one mask change takes to give
// updated metrics on 512 examples. The baseline is evaluated once, as the GUI keeps it; each
// toggle then re-evaluates the masked model. Target: under 150 ms. Last line: one JSON object.
#include <torch/torch.h>

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
  auto model = models::randomTransformer(models::configForShape(shape), 0);
  const auto dataset = data::openDataset("induction:rows=512,half=16,vocab=64,seed=0");
  analysis::EvalOptions options;
  options.batchSize = 512;

  const double baselineS = bench::timeOnce([&] { analysis::evaluate(*model, *dataset, options); });
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
  std::sort(toggleMs.begin(), toggleMs.end());
  const nlohmann::json result{
      {"examples", dataset->size()},
      {"tokens_per_example", 32},
      {"threads", at::get_num_threads()},
      {"baseline_ms", 1000.0 * baselineS},
      {"toggle_median_ms", bench::median(toggleMs)},
      {"toggle_max_ms", toggleMs.back()},
      {"target_ms", 150},
  };
  std::cout << result.dump() << std::endl;
  return 0;
}
