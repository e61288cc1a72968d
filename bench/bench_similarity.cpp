// bench_similarity: the cost of layer similarity and linear CKA next to a plain forward pass
// over the same rows. A random GPT-2-small-shaped model cut to 4 blocks (width 768, 12 heads,
// MLP 3072, vocabulary 50257) on 32 rows of 64 tokens (batches of 8), and the built-in digits
// ViT on its 360 test images. Timed: one scoring pass (discrete mode), the consecutive pass
// (all residual pairs), and CKA over the residual stream h_0..h_L (Gram form of all positions
// flattened, unbiased minibatch form, feature form of the last position), interleaved over
// rounds, medians. Last line: one JSON object. Options: --threads N, --rounds N, --layers N.
#include "core/torch_api.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/cka.h"
#include "analysis/layer_similarity.h"
#include "bench/bench_util.h"
#include "bench/gpt2_small_shape.h"
#include "core/threads.h"
#include "data/dataset_spec.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"

namespace {

using namespace cs;

// Each variant's median seconds and its ratio to the plain forward passes over the same rows.
nlohmann::json measure(models::Transformer& model, const data::Dataset& dataset,
                       std::int64_t batchSize, int rounds) {
  const auto rows = dataset.size();
  auto forward = [&] {
    c10::InferenceMode guard;
    for (std::int64_t b = 0; b < rows; b += batchSize) {
      const auto batch = dataset.batch(b, batchSize);
      model.forward({batch.tokens, batch.attentionMask, {}, batch.pixels});
    }
  };
  analysis::LayerSimilarityOptions similarity;
  similarity.batchSize = batchSize;
  similarity.limit = 0;
  auto consecutive = similarity;
  consecutive.mode = analysis::DropMode::Consecutive;
  consecutive.dropN = 2;
  analysis::CkaOptions gram;
  gram.batchSize = batchSize;
  gram.limit = 0;
  auto unbiased = gram;
  unbiased.form = analysis::CkaForm::Unbiased;
  auto featureLast = gram;
  featureLast.form = analysis::CkaForm::Feature;
  featureLast.position = analysis::CkaPosition::Last;

  const std::vector<std::string> names{"forward",  "similarity",   "similarity_consecutive",
                                       "cka_gram", "cka_unbiased", "cka_feature_last"};
  const auto timings = bench::interleavedTimings(
      {forward, [&] { analysis::analyseLayerSimilarity(model, dataset, similarity); },
       [&] { analysis::analyseLayerSimilarity(model, dataset, consecutive); },
       [&] { analysis::analyseCka(model, dataset, gram); },
       [&] { analysis::analyseCka(model, dataset, unbiased); },
       [&] { analysis::analyseCka(model, dataset, featureLast); }},
      rounds);
  nlohmann::json out{{"rows", rows}, {"dataset", dataset.describe()}};
  for (std::size_t i = 0; i < names.size(); ++i) {
    out[names[i] + "_s"] = timings[i].median;
    if (i > 0) out[names[i] + "_vs_forward"] = timings[i].median / timings[0].median;
    std::fprintf(stderr, "  %-24s %8.3f s  (x%.2f forward)\n", names[i].c_str(), timings[i].median,
                 timings[i].median / timings[0].median);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = configureThreads(bench::argInt(argc, argv, "--threads", 0));
  const int rounds = bench::argInt(argc, argv, "--rounds", 2);
  const int layers = bench::argInt(argc, argv, "--layers", 4);

  auto gpt2 = models::randomTransformer(models::configForShape(bench::gpt2SmallShape(layers)), 0);
  const auto tokens = data::openDataset("induction:rows=32,half=32,vocab=50257,seed=0");
  std::fprintf(stderr, "GPT-2-small shape, %d blocks, 32 x 64 tokens:\n", layers);
  auto gpt2Result = measure(*gpt2, *tokens, 8, rounds);
  gpt2Result["layers"] = layers;
  gpt2Result["tokens_per_row"] = 64;

  auto vit = models::loadHfModel(models::resolveModelFolder("builtin:digits-vit"));
  const auto digits = data::openDataset("digits-test");
  std::fprintf(stderr, "digits-vit, 360 images of 17 tokens:\n");
  const auto vitResult = measure(*vit, *digits, 120, rounds);

  const nlohmann::json result{{"bench", "similarity"},
                              {"threads", threads},
                              {"rounds", rounds},
                              {"gpt2_small_shape", gpt2Result},
                              {"digits_vit", vitResult}};
  std::cout << result.dump() << std::endl;
  return 0;
}
