// The cost of the Local Interaction Basis (ALGORITHMS.md section 9) per node layer: seconds for
// each basis and edge matrix on one-layer transformers shaped like the modular-addition model
// (width 128, 4 heads, ReLU MLP of 4 x width, no norms), scaling the sequence length P and the
// width d, on --rows rows (default 128) of random tokens whose targets are the model's own
// predictions. Node layers: before attention, before the MLP, before the unembedding, output.
// Last line: one JSON object.
#include "core/torch_api.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "analysis/local_interaction_basis.h"
#include "bench/bench_util.h"
#include "core/threads.h"
#include "models/random_checkpoint.h"

namespace {

using namespace cs;

class RandomRows final : public data::Dataset {
 public:
  RandomRows(models::Transformer& model, std::int64_t rows, std::int64_t length,
             std::int64_t vocab) {
    m_tokens = at::randint(0, vocab, {rows, length}, at::TensorOptions().dtype(at::kLong));
    torch::NoGradGuard noGrad;
    m_targets = model.forward({m_tokens, {}, {}, {}}).select(1, length - 1).argmax(-1);
  }
  std::int64_t size() const override { return m_tokens.size(0); }
  data::EvalBatch batch(std::int64_t begin, std::int64_t count) const override {
    count = std::min(count, size() - begin);
    data::EvalBatch b;
    b.tokens = m_tokens.narrow(0, begin, count);
    b.targets = m_targets.narrow(0, begin, count);
    return b;
  }
  std::string describe() const override { return "random rows"; }

 private:
  at::Tensor m_tokens, m_targets;
};

nlohmann::json measure(int width, int length, std::int64_t rows) {
  models::ModelShape shape;
  shape.nLayers = 1;
  shape.dModel = width;
  shape.nHeads = 4;
  shape.dMlp = 4 * width;
  shape.dVocab = 114;
  shape.nCtx = 64;
  auto c = models::configForShape(shape);  // GPT-2 layout, then the modular-addition choices
  c.norm = models::NormKind::None;
  c.activation = models::Activation::Relu;
  auto model = models::randomTransformer(c, 0, 1.0 / std::sqrt(static_cast<double>(width)));
  const RandomRows data(*model, rows, length, c.dVocab);
  analysis::LibOptions o;
  o.nodeLayers = analysis::defaultLibNodeLayers(1);  // the paper's four node layers
  o.ablationCurves = false;
  o.batchSize = rows;
  const auto start = std::chrono::steady_clock::now();
  const auto r = analysis::computeLib(*model, data, o);
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j{{"width", width}, {"positions", length}, {"rows", rows}, {"total_s", total}};
  for (const auto& L : r.layers) j["basis_s"][L.name] = L.seconds;
  for (std::size_t e = 0; e < r.edges.size(); ++e)
    j["edges_s"][r.layers[e].name] = r.edgeSeconds[e];
  std::printf("d=%d P=%d: %s\n", width, length, j.dump().c_str());
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  configureThreads(0);
  const auto rows = bench::argInt(argc, argv, "--rows", 128);
  auto runs = nlohmann::json::array();
  for (const int length : {3, 6, 12}) runs.push_back(measure(128, length, rows));
  for (const int width : {64, 256}) runs.push_back(measure(width, 3, rows));
  nlohmann::json out{{"benchmark", "lib"}, {"threads", at::get_num_threads()}, {"runs", runs}};
  std::cout << out.dump() << "\n";
}
