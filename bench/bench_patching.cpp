// bench_patching: the patching analyses of ALGORITHMS.md section 4 on a random GPT-2-small-
// shaped model trimmed to 4 layers (48 heads; --layers 12 for the full 144), one clean/corrupted
// pair of 16 tokens (--tokens, --pairs). Activation patching over all heads run one location per
// forward pass against batched (16 and all heads per pass), attribution patching over all heads
// and over all MLP neurons, and path patching of every head to the logits (shortcut) and to the
// last layer's queries (one group). Times are medians of interleaved rounds, also given in
// forward-pass equivalents (one forward pass of the pairs' batch). Last line: one JSON object.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/activation_patching.h"
#include "analysis/attribution_patching.h"
#include "analysis/path_patching.h"
#include "bench_util.h"
#include "core/threads.h"
#include "gpt2_small_shape.h"
#include "models/cache_run.h"
#include "models/random_checkpoint.h"

int main(int argc, char** argv) {
  using namespace cs;
  configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int layers = bench::argInt(argc, argv, "--layers", 4);
  const int tokens = bench::argInt(argc, argv, "--tokens", 16);
  const int nPairs = bench::argInt(argc, argv, "--pairs", 1);
  const int rounds = bench::argInt(argc, argv, "--rounds", 2);
  const auto shape = bench::gpt2SmallShape(layers);
  auto model = models::randomTransformer(models::configForShape(shape), 0);
  const int heads = layers * shape.nHeads;

  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto longs = at::TensorOptions().dtype(at::kLong);
  analysis::PatchingPairs pairs;
  pairs.clean.tokens = at::randint(0, shape.dVocab, {nPairs, tokens}, generator, longs);
  pairs.corrupted.tokens = pairs.clean.tokens.clone();
  pairs.corrupted.tokens.narrow(1, 0, tokens / 2)
      .copy_(at::randint(0, shape.dVocab, {nPairs, tokens / 2}, generator, longs));
  pairs.metrics = {{11, 12, -1}};

  auto sweep = [&](int perPass) {
    auto options = analysis::patchingOptionsFor(analysis::PatchKind::Heads);
    options.locationsPerPass = perPass;
    return analysis::analyseActivationPatching(*model, pairs, options);
  };
  const auto attributionHeads = analysis::analyseAttributionPatching(
      *model, pairs, analysis::patchingOptionsFor(analysis::PatchKind::Heads));
  const auto exactHeads = sweep(16);
  const auto comparison = analysis::comparePatching(attributionHeads, exactHeads);

  // IOI-style receivers: the queries of every head of the last layer, patched together.
  analysis::PathPatchingOptions toQueries;
  toQueries.receivers.emplace_back();
  for (int h = 0; h < shape.nHeads; ++h) {
    toQueries.receivers[0].push_back({analysis::ReceiverInput::Query, layers - 1, h});
  }
  toQueries.rowsPerPass = 64;
  std::vector<std::function<void()>> variants{
      [&] {
        c10::InferenceMode guard;
        model->forward(pairs.clean);
      },
      [&] { sweep(1); },
      [&] { sweep(16); },
      [&] { sweep(heads); },
      [&] {
        analysis::analyseAttributionPatching(
            *model, pairs, analysis::patchingOptionsFor(analysis::PatchKind::Heads));
      },
      [&] {
        analysis::analyseAttributionPatching(
            *model, pairs, analysis::patchingOptionsFor(analysis::PatchKind::Neurons));
      },
      [&] {
        // The two cached reference runs path patching starts from, for comparison.
        c10::InferenceMode guard;
        hooks::ActivationCache clean, corrupted;
        const std::vector<std::string> hooks{"blocks.*.attn.hook_z", "blocks.*.hook_mlp_out",
                                             "blocks.*.hook_resid_post"};
        models::runWithCache(*model, pairs.clean, hooks, clean);
        models::runWithCache(*model, pairs.corrupted, hooks, corrupted);
      },
      [&] { analysis::analysePathPatching(*model, pairs); },
      [&] { analysis::analysePathPatching(*model, pairs, toQueries); },
  };
  const auto t = bench::interleavedTimings(variants, rounds);
  const double forward = t[0].median;
  const char* names[] = {"forward",
                         "activation_heads_one_per_pass",
                         "activation_heads_16_per_pass",
                         "activation_heads_all_in_one_pass",
                         "attribution_heads",
                         "attribution_neurons",
                         "two_cached_reference_runs",
                         "path_heads_to_logits_shortcut",
                         "path_heads_to_last_layer_queries"};
  nlohmann::json result{{"model", "gpt2-small shape, " + std::to_string(layers) + " layers"},
                        {"tokens", tokens},
                        {"pairs", nPairs},
                        {"heads", heads},
                        {"neurons", layers * shape.dMlp},
                        {"threads", at::get_num_threads()},
                        {"attribution_vs_activation_heads_pearson", comparison.pearson},
                        {"attribution_vs_activation_heads_spearman", comparison.spearman}};
  for (std::size_t i = 0; i < t.size(); ++i) {
    result[std::string(names[i]) + "_ms"] = 1e3 * t[i].median;
    result[std::string(names[i]) + "_forward_equivalents"] = t[i].median / forward;
    std::fprintf(stderr, "%-36s %10.1f ms %8.1f forward passes\n", names[i], 1e3 * t[i].median,
                 t[i].median / forward);
  }
  result["batched_16_speedup_over_one_per_pass"] = t[1].median / t[2].median;
  std::cout << result.dump() << std::endl;
  return 0;
}
