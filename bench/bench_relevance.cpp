// The cost of relevance propagation (ALGORITHMS.md section 7) in units of the model's own
// passes: one relevance pass should cost about one plain forward+backward pass; gamma-rule
// layers add about four linear evaluations each in the backward. Measured on a GPT-2-small-shaped
// random model trimmed to --layers blocks (default 12) on 1 x --tokens tokens (default 128),
// float32, with AttnLRP and with gamma 0.05 on every linear layer; and on the built-in digits-vit
// with the vision defaults. Last line: one JSON object.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/relevance.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"

namespace {

using namespace cs;

// A plain forward+backward from the target logit to the input (embeddings or pixels).
void forwardBackward(models::Transformer& model, const models::ModelInput& input) {
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
  const auto target = logits[0].argmax().item<std::int64_t>();
  torch::autograd::grad({logits[0][target]}, {leaf});
}

nlohmann::json measure(models::Transformer& model, const models::ModelInput& input,
                       const std::vector<std::pair<std::string, models::RelevanceRules>>& rules,
                       int rounds) {
  std::vector<std::function<void()>> variants{[&] {
                                                torch::NoGradGuard noGrad;
                                                model.forward(input);
                                              },
                                              [&] { forwardBackward(model, input); }};
  for (const auto& [name, r] : rules) {
    variants.push_back([&, r] {
      analysis::RelevanceOptions o;
      o.rules = r;
      analysis::computeRelevance(model, input, o);
    });
  }
  const auto t = bench::interleavedTimings(variants, rounds);
  nlohmann::json j{{"forward_ms", t[0].median * 1e3}, {"forward_backward_ms", t[1].median * 1e3}};
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& name = rules[i].first;
    j[name + "_ms"] = t[2 + i].median * 1e3;
    j[name + "_vs_forward_backward"] = t[2 + i].median / t[1].median;
    j[name + "_vs_forward"] = t[2 + i].median / t[0].median;
  }
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  configureThreads(0);
  const int layers = bench::argInt(argc, argv, "--layers", 12);
  const int tokens = bench::argInt(argc, argv, "--tokens", 128);
  const int rounds = bench::argInt(argc, argv, "--rounds", 7);

  auto lm = models::randomTransformer(models::configForShape(bench::gpt2SmallShape(layers)), 0);
  const auto ids = at::randint(0, 50257, {1, tokens}, at::TensorOptions().dtype(at::kLong));
  models::RelevanceRules gamma;
  gamma.gammaLinear = 0.05;
  const auto lmResult =
      measure(*lm, {ids, {}, {}, {}},
              {{"attnlrp", models::RelevanceRules{}}, {"attnlrp_gamma", gamma}}, rounds);
  std::printf("gpt2-small shape, %d layers, 1 x %d tokens: %s\n", layers, tokens,
              lmResult.dump().c_str());

  auto vit = models::loadHfModel(models::resolveModelFolder("builtin:digits-vit"));
  const auto images = data::openDataset("digits-test")->batch(0, 1).pixels;
  auto epsilon = models::visionRelevanceRules();
  epsilon.gammaPatch = 0.0;
  epsilon.gammaLinear = 0.0;
  const auto vitResult = measure(
      *vit, {{}, {}, {}, images},
      {{"cplrp_gamma", models::visionRelevanceRules()}, {"cplrp_epsilon", epsilon}}, rounds * 4);
  std::printf("digits-vit, 1 image: %s\n", vitResult.dump().c_str());

  nlohmann::json out{{"benchmark", "relevance"},
                     {"threads", at::get_num_threads()},
                     {"gpt2_small_shape", lmResult},
                     {"layers", layers},
                     {"tokens", tokens},
                     {"digits_vit", vitResult}};
  std::cout << out.dump() << "\n";
}
