// bench_prune: what structural pruning buys. A random GPT-2-small-shaped model on 8 x 128 tokens,
// a mask zero-ablating half the heads and half the MLP neurons of every layer (seeded choice),
// timed full, masked (hooks zeroing) and compacted (the pruned weights removed), interleaved
// over rounds and compared by medians. The compacted logits are checked against the masked ones
// first, so a speed-up cannot come from a wrong model. Last line: one JSON object.
#include "core/torch_api.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <vector>

#include "analysis/latency.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "hooks/mask_set.h"
#include "models/compaction.h"
#include "models/mask_application.h"
#include "models/random_checkpoint.h"

namespace {

using namespace cs;

// The first `count` of a seeded shuffle of 0..n-1.
std::vector<int> seededChoice(int n, int count, std::mt19937& rng) {
  std::vector<int> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<std::size_t>(count));
  std::sort(all.begin(), all.end());
  return all;
}

// Half the heads and half the neurons of every layer, zero-ablated.
hooks::MaskSet halfMask(const models::TransformerConfig& config, unsigned seed) {
  std::mt19937 rng(seed);
  hooks::MaskSet masks;
  for (int l = 0; l < config.nLayers; ++l) {
    for (int h : seededChoice(config.nHeads[l], config.nHeads[l] / 2, rng))
      masks.set({hooks::MaskComponent::Head, l, h, hooks::AblationMode::Zero});
    for (int n : seededChoice(config.dMlp[l], config.dMlp[l] / 2, rng))
      masks.set({hooks::MaskComponent::Neuron, l, n, hooks::AblationMode::Zero});
  }
  return masks;
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int batch = bench::argInt(argc, argv, "--batch", 8);
  const int tokens = bench::argInt(argc, argv, "--tokens", 128);
  const int rounds = bench::argInt(argc, argv, "--rounds", 7);
  const auto seed = static_cast<unsigned>(bench::argInt(argc, argv, "--seed", 0));

  const auto config =
      models::configForShape(bench::gpt2SmallShape(bench::argInt(argc, argv, "--layers", 12)));
  auto model = models::randomTransformer(config, 0);
  const auto masks = halfMask(config, seed);
  auto compacted = models::compactModel(*model, masks);
  std::cerr << "model: " << model->weights().parameterCount() << " parameters, compacted "
            << compacted->weights().parameterCount() << ", " << masks.size() << " mask entries, "
            << threads << " threads\n";

  c10::InferenceMode guard;
  models::ModelInput input;
  input.tokens = at::randint(config.dVocab, {batch, tokens},
                             at::make_generator<at::CPUGeneratorImpl>(seed + 1), at::kLong);

  // Correctness first: compacted == masked up to the order of float sums.
  at::Tensor maskedLogits;
  {
    models::AppliedMasks applied(*model, masks);
    maskedLogits = model->forward(input);
  }
  const auto compactedLogits = compacted->forward(input);
  const auto fullLogits = model->forward(input);
  const double compactedVsMasked = maxAbsDiff(compactedLogits, maskedLogits);
  const double logitScale = maskedLogits.abs().max().item<double>();
  const double maskedVsFull = maxAbsDiff(maskedLogits, fullLogits);
  std::cerr << "max |compacted - masked| logits " << compactedVsMasked << " (largest |logit| "
            << logitScale << "; |masked - full| " << maskedVsFull << ")\n";
  const bool matches = compactedVsMasked <= 1e-4 * std::max(1.0, logitScale);

  // Interleaved rounds, the order rotated each round; only the forward pass is timed (the
  // masked variant attaches its hooks outside the timer).
  const std::vector<std::function<double()>> variants{
      [&] { return bench::timeOnce([&] { model->forward(input); }); },
      [&] {
        models::AppliedMasks applied(*model, masks);
        return bench::timeOnce([&] { model->forward(input); });
      },
      [&] { return bench::timeOnce([&] { compacted->forward(input); }); }};
  for (const auto& v : variants) v();  // warm-up
  std::vector<std::vector<double>> seconds(variants.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t j = 0; j < variants.size(); ++j) {
      const auto i = (j + static_cast<std::size_t>(r)) % variants.size();
      seconds[i].push_back(variants[i]());
    }
  }
  const char* names[] = {"full", "masked", "compacted"};
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    std::cerr << names[i] << " ms:";
    for (double s : seconds[i]) std::cerr << " " << static_cast<int>(s * 1e3);
    std::cerr << "\n";
  }
  const double fullS = bench::median(seconds[0]), maskedS = bench::median(seconds[1]),
               compactedS = bench::median(seconds[2]);
  auto best = [](const std::vector<double>& s) { return *std::min_element(s.begin(), s.end()); };

  // Per round, full over compacted: the two ran back to back, so slow drifts of the machine
  // cancel in the ratio.
  std::vector<double> pairedSpeedups;
  for (int r = 0; r < rounds; ++r) pairedSpeedups.push_back(seconds[0][r] / seconds[2][r]);
  const double flopRatio = analysis::forwardFlopsPerExample(compacted->config(), tokens) /
                           analysis::forwardFlopsPerExample(config, tokens);
  const double speedup = fullS / compactedS;
  // speedup / (1 / flop_ratio): 1 means the compacted model is as fast as its FLOPs promise.
  nlohmann::json out{
      {"benchmark", "prune"},
      {"model", "gpt2-small-shaped random"},
      {"batch", batch},
      {"tokens", tokens},
      {"threads", threads},
      {"rounds", rounds},
      {"heads_removed", 0.5},
      {"neurons_removed", 0.5},
      {"full_ms", fullS * 1e3},
      {"masked_ms", maskedS * 1e3},
      {"compacted_ms", compactedS * 1e3},
      {"full_min_ms", best(seconds[0]) * 1e3},
      {"masked_min_ms", best(seconds[1]) * 1e3},
      {"compacted_min_ms", best(seconds[2]) * 1e3},
      {"full_gflop", analysis::forwardFlopsPerExample(config, tokens) * batch / 1e9},
      {"flop_ratio", flopRatio},
      {"speedup", speedup},
      {"masked_over_full", maskedS / fullS},
      {"speedup_over_flop_reduction", speedup * flopRatio},
      {"paired_speedup_over_flop_reduction", bench::median(pairedSpeedups) * flopRatio},
      // The same from each variant's best run: noise only ever adds time.
      {"best_speedup_over_flop_reduction", best(seconds[0]) / best(seconds[2]) * flopRatio},
      {"max_abs_diff_compacted_vs_masked", compactedVsMasked},
      {"compacted_matches_masked", matches}};
  std::cout << out.dump() << std::endl;
  return matches ? 0 : 1;
}
