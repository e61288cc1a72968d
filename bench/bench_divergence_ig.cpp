// The cost of integrated gradients and head divergence in units of the model's own passes. IG
// with m points must cost about m forward+backward passes of the example (the points run as
// batches of --chunk rows, so it can cost less); VHD costs 2 forward passes per pair of branches
// (one pair without the lockstep, up to one per analysed layer with it). Measured on a
// GPT-2-small-shaped random model trimmed to --layers blocks (default 4) on --tokens tokens
// (default 32), float32, and on the built-in digits-vit. Last line: one JSON object.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/head_divergence.h"
#include "analysis/integrated_gradients.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"

namespace {

using namespace cs;

// One forward+backward of F = logit[answer] at the last row with respect to the input elements,
// the pass IG repeats once per point.
void forwardBackward(models::Transformer& model, const models::ModelInput& input,
                     std::int64_t answer) {
  models::ModelInput in = input;
  at::Tensor leaf;
  if (input.pixels.defined()) {
    leaf = in.pixels = input.pixels.detach().clone().requires_grad_(true);
  } else {
    leaf = in.embeddings =
        at::embedding(model.weights().W_E, input.tokens).detach().requires_grad_(true);
    in.tokens = at::Tensor();
  }
  auto logits = model.forward(in);
  if (logits.dim() == 3) logits = logits.select(1, logits.size(1) - 1);
  torch::autograd::grad({logits.select(1, answer).sum()}, {leaf});
}

nlohmann::json measure(const std::string& name, models::Transformer& model,
                       const models::ModelInput& input, const models::ModelInput& without,
                       int chunk, int rounds) {
  const std::int64_t answer = 1;
  std::vector<std::function<void()>> variants;
  variants.push_back([&] {
    c10::InferenceMode guard;
    model.forward(input);
  });
  variants.push_back([&] { forwardBackward(model, input, answer); });
  const std::vector<int> steps{8, 16, 32};
  for (int m : steps) {
    variants.push_back([&, m] {
      analysis::IntegratedGradientsOptions o;
      o.rule = analysis::QuadratureRule::LeftRiemann;  // exactly m points
      o.steps = m;
      o.chunk = chunk;
      o.target.answer = answer;
      analysis::analyseIntegratedGradients(model, input, o);
    });
  }
  analysis::HeadDivergenceOptions lockstep, plain;
  plain.lockstep = false;
  int lockstepPasses = 0, plainPasses = 0;
  variants.push_back([&] {
    lockstepPasses = analysis::analyseHeadDivergence(model, input, without, lockstep).forwardPasses;
  });
  variants.push_back([&] {
    plainPasses = analysis::analyseHeadDivergence(model, input, without, plain).forwardPasses;
  });
  const auto t = bench::interleavedTimings(variants, rounds);
  const double forward = t[0].min, fb = t[1].min;
  nlohmann::json j{{"model", name},
                   {"forward_ms", 1000 * forward},
                   {"forward_backward_ms", 1000 * fb},
                   {"chunk", chunk}};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const double ig = t[2 + i].min;
    const std::string key = "ig_m" + std::to_string(steps[i]);
    j[key + "_ms"] = 1000 * ig;
    j[key + "_in_forward_backward"] = ig / fb;
    std::fprintf(stderr, "%-12s IG m=%2d: %9.1f ms = %6.2f forward+backward passes (m = %d)\n",
                 name.c_str(), steps[i], 1000 * ig, ig / fb, steps[i]);
  }
  const double vhdLockstep = t[5].min, vhdPlain = t[6].min;
  j["vhd_lockstep_ms"] = 1000 * vhdLockstep;
  j["vhd_lockstep_in_forward"] = vhdLockstep / forward;
  j["vhd_lockstep_forward_passes"] = lockstepPasses;
  j["vhd_ms"] = 1000 * vhdPlain;
  j["vhd_in_forward"] = vhdPlain / forward;
  j["vhd_forward_passes"] = plainPasses;
  std::fprintf(stderr,
               "%-12s forward %.1f ms, forward+backward %.1f ms; VHD %.2f forwards (%d passes), "
               "with lockstep %.2f forwards (%d passes)\n",
               name.c_str(), 1000 * forward, 1000 * fb, vhdPlain / forward, plainPasses,
               vhdLockstep / forward, lockstepPasses);
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int layers = bench::argInt(argc, argv, "--layers", 4);
  const int tokens = bench::argInt(argc, argv, "--tokens", 32);
  const int chunk = bench::argInt(argc, argv, "--chunk", 16);
  const int rounds = bench::argInt(argc, argv, "--rounds", 3);

  auto gpt2 = models::randomTransformer(models::configForShape(bench::gpt2SmallShape(layers)), 0);
  models::ModelInput text;
  text.tokens = at::randint(gpt2->config().dVocab, {1, tokens},
                            at::make_generator<at::CPUGeneratorImpl>(1), at::kLong);
  // "Without": the first half of the prompt removed.
  const auto shorter = analysis::withoutSegment(text, 0, tokens / 2);
  const auto gpt2Result =
      measure("gpt2-small-" + std::to_string(layers) + "L", *gpt2, text, shorter, chunk, rounds);

  auto vit = models::loadHfModel(models::resolveModelFolder("builtin:digits-vit"));
  const auto digits = data::openDataset("digits-test");
  models::ModelInput image;
  image.pixels = digits->batch(0, 1).pixels;
  const auto blank = analysis::blankImage(image, analysis::BlankImage::Mean);
  const auto vitResult = measure("digits-vit", *vit, image, blank, chunk, rounds);

  const nlohmann::json result{{"threads", threads},
                              {"gpt2_layers", layers},
                              {"gpt2_tokens", tokens},
                              {"gpt2", gpt2Result},
                              {"digits_vit", vitResult}};
  std::cout << result.dump() << std::endl;
  return 0;
}
