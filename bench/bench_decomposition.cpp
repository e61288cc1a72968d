// The cost of residual path decomposition (ALGORITHMS.md section 3) and of memory-head scoring
// (section 5), as a ratio to one plain forward pass of the same batch:
// - a GPT-2-small-shaped random model (12 layers, width 768, 12 heads, vocabulary 50257; float32)
//   on --batch rows of --tokens tokens: DLA with every head, then DLA plus the three path views
//   (logit lens, solo, leave-one-out: 75 readouts through the 50257-wide unembedding), and the
//   memory-head scores of the same rows (x_conf and x_ref = the last half: two forward passes);
// - the built-in induction model: per-path accuracy with head DLA over its test spec's first
//   256 rows, against a plain evaluation forward of the same rows.
// Options: --layers N (default 12), --batch N (4), --tokens N (64), --rounds N (3), --threads N.
// Last line: one JSON object.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/evaluation.h"
#include "analysis/memory_heads.h"
#include "analysis/residual_decomposition.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"

int main(int argc, char** argv) {
  using namespace cs;
  configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int layers = bench::argInt(argc, argv, "--layers", 12);
  const int batch = bench::argInt(argc, argv, "--batch", 4);
  const int tokens = bench::argInt(argc, argv, "--tokens", 64);
  const int rounds = bench::argInt(argc, argv, "--rounds", 3);
  c10::InferenceMode guard;

  // GPT-2 small shape.
  const auto shape = bench::gpt2SmallShape(layers);
  auto gpt2 = models::randomTransformer(models::configForShape(shape), 0);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const models::ModelInput input{
      at::randint(0, shape.dVocab, {batch, tokens}, generator, at::kLong)};
  analysis::DecompositionOptions dlaOnly;
  dlaOnly.views = false;
  analysis::DecompositionOptions withViews;
  std::vector<analysis::ConflictExample> conflicts;
  for (int b = 0; b < batch; ++b) {
    const auto row = input.tokens[b].contiguous();
    analysis::ConflictExample e;
    e.conflict.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + tokens);
    e.reference.assign(e.conflict.begin() + tokens / 2, e.conflict.end());
    e.memoryAnswer = 11;
    e.contextAnswer = 12;
    conflicts.push_back(e);
  }
  analysis::MemoryHeadOptions memoryOptions;
  memoryOptions.batchSize = batch;
  analysis::ResidualDecompositionResult last;
  const auto gpt2Times = bench::interleavedTimings(
      {[&] { gpt2->forward(input); },
       [&] { last = analysis::analyseResidualDecomposition(*gpt2, input, dlaOnly); },
       [&] { last = analysis::analyseResidualDecomposition(*gpt2, input, withViews); },
       [&] { analysis::scoreConflictHeads(*gpt2, conflicts, memoryOptions); }},
      rounds);
  const double forward = gpt2Times[0].min;

  // Built-in induction model on its test rows.
  auto induction = models::loadHfModel(models::resolveModelFolder("builtin:induction"));
  const auto dataset = data::openDataset("induction:rows=256,half=16,vocab=64,seed=1000");
  analysis::EvalOptions eval{256, 0};
  analysis::PathAccuracyOptions pathOptions;
  pathOptions.batchSize = 256;
  analysis::PathAccuracyResult accuracy;
  const auto inductionTimes = bench::interleavedTimings(
      {[&] { analysis::evaluate(*induction, *dataset, eval); },
       [&] { accuracy = analysis::analysePathAccuracy(*induction, *dataset, pathOptions); }},
      rounds);

  std::printf("gpt2-small shape, %d layers, batch %d x %d tokens (float32):\n", layers, batch,
              tokens);
  std::printf("  forward                 %8.3f s\n", forward);
  std::printf("  DLA + heads             %8.3f s  (%.2f x forward)\n", gpt2Times[1].min,
              gpt2Times[1].min / forward);
  std::printf("  DLA + heads + views     %8.3f s  (%.2f x forward)\n", gpt2Times[2].min,
              gpt2Times[2].min / forward);
  std::printf("  memory-head scores      %8.3f s  (%.2f x forward; 2 forwards needed)\n",
              gpt2Times[3].min, gpt2Times[3].min / forward);
  std::printf("  completeness error %.1e\n", last.completenessError);
  std::printf("builtin induction, 256 rows (%lld scored sites):\n",
              static_cast<long long>(accuracy.predictions));
  std::printf("  evaluation forward      %8.4f s\n", inductionTimes[0].min);
  std::printf("  path accuracy + heads   %8.4f s  (%.2f x forward)\n", inductionTimes[1].min,
              inductionTimes[1].min / inductionTimes[0].min);

  const nlohmann::json result{
      {"model", "gpt2-small shape (random), " + std::to_string(layers) + " layers"},
      {"batch", batch},
      {"tokens", tokens},
      {"threads", at::get_num_threads()},
      {"forward_s", forward},
      {"dla_heads_s", gpt2Times[1].min},
      {"dla_heads_ratio", gpt2Times[1].min / forward},
      {"dla_heads_views_s", gpt2Times[2].min},
      {"dla_heads_views_ratio", gpt2Times[2].min / forward},
      {"memory_head_scores_s", gpt2Times[3].min},
      {"memory_head_scores_ratio", gpt2Times[3].min / forward},
      {"completeness_error", last.completenessError},
      {"induction_rows", 256},
      {"induction_sites", accuracy.predictions},
      {"induction_forward_s", inductionTimes[0].min},
      {"induction_path_accuracy_s", inductionTimes[1].min},
      {"induction_path_accuracy_ratio", inductionTimes[1].min / inductionTimes[0].min},
  };
  std::cout << result.dump() << std::endl;
  return 0;
}
