// Edge ablation with bisection for the Local Interaction Basis and its PCA baseline.
#include "analysis/lib_edge_ablation.h"

#include "core/torch_api.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::analysis {

LibScore scoreLogits(const at::Tensor& logits, const at::Tensor& targets) {
  const auto l = logits.reshape({logits.size(0), -1});  // [N, V]
  LibScore s;
  s.accuracy = l.argmax(1).eq(targets).to(at::kDouble).mean().item<double>();
  s.loss = at::cross_entropy_loss(l, targets).item<double>();
  return s;
}

at::Tensor keptEdges(const Eigen::MatrixXd& E, std::int64_t n) {
  const auto rows = E.rows(), cols = E.cols();
  std::vector<std::int64_t> order(static_cast<std::size_t>(rows * cols));
  std::iota(order.begin(), order.end(), 0);
  // Row-major flat index i * cols + j; stable, so equal edges keep their index order.
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return E(a / cols, a % cols) > E(b / cols, b % cols);
  });
  auto kept = at::zeros({rows, cols}, at::TensorOptions().dtype(at::kBool));
  auto* k = kept.data_ptr<bool>();
  const auto count = std::clamp<std::int64_t>(n, 0, rows * cols);
  for (std::int64_t e = 0; e < count; ++e) k[order[e]] = true;
  return kept;
}

at::Tensor edgeAblatedNext(const LibSectionBases& s, const at::Tensor& f, const at::Tensor& kept,
                           std::int64_t rowsPerPass, const Progress& progress) {
  torch::NoGradGuard noGrad;
  const auto rIn = s.C.size(1), rOut = s.nextC.size(1);
  if (kept.dim() != 2 || kept.size(0) != rOut || kept.size(1) != rIn) {
    throw ShapeError("kept edges: expected [" + std::to_string(rOut) + ", " + std::to_string(rIn) +
                     "], got " + shapeText(kept.sizes()));
  }
  // Output directions with the same kept set of input directions: one section run serves them.
  const auto k = kept.to(at::kBool).contiguous();
  const auto* bits = k.data_ptr<bool>();
  std::map<std::vector<bool>, std::vector<std::int64_t>> sets;
  for (std::int64_t i = 0; i < rOut; ++i) {
    sets[std::vector<bool>(bits + i * rIn, bits + (i + 1) * rIn)].push_back(i);
  }
  std::vector<at::Tensor> masks, outputs;  // [r_l] float64, [m] long
  for (const auto& [set, directions] : sets) {
    std::vector<double> mask(set.begin(), set.end());
    masks.push_back(at::tensor(mask, at::TensorOptions().dtype(at::kDouble)));
    outputs.push_back(at::tensor(directions, at::TensorOptions().dtype(at::kLong)));
  }
  const auto hat = at::matmul(f, s.C);  // [N, P, r_l]
  const auto N = f.size(0), P = f.size(1);
  const auto batch = std::clamp<std::int64_t>(rowsPerPass, 1, std::max<std::int64_t>(N, 1));
  const auto perPass = std::max<std::int64_t>(rowsPerPass / batch, 1);
  const auto nSets = static_cast<std::int64_t>(masks.size());
  at::Tensor outHat;  // [N, P_out, r_{l+1}]
  for (std::int64_t begin = 0; begin < N; begin += batch) {
    const auto B = std::min(batch, N - begin);
    const auto x = hat.narrow(0, begin, B).unsqueeze(0);  // [1, B, P, r_l]
    for (std::int64_t first = 0; first < nSets; first += perPass) {
      progress.check();
      const auto g = std::min(perPass, nSets - first);
      const auto m = at::stack(at::TensorList(masks).slice(first, g)).view({g, 1, 1, rIn});
      const auto u = at::matmul((x * m).reshape({g * B, P, rIn}), s.Cplus);
      const auto y = at::matmul(s.sections->run(s.from, s.to, u), s.nextC);  // [g B, P_out, r']
      const auto Pout = y.size(1);
      if (!outHat.defined()) outHat = at::zeros({N, Pout, rOut}, y.options());
      const auto yg = y.view({g, B, Pout, rOut});
      auto rows = outHat.narrow(0, begin, B);
      for (std::int64_t j = 0; j < g; ++j) {
        const auto& idx = outputs[first + j];
        rows.index_copy_(2, idx, yg[j].index_select(2, idx));
      }
    }
  }
  return at::matmul(outHat, s.nextCplus);
}

std::int64_t bisectSmallest(std::int64_t lo, std::int64_t hi,
                            const std::function<bool(std::int64_t)>& enough) {
  if (lo > hi) throw ConfigError("bisection: empty range");
  if (!enough(hi)) return -1;
  while (lo < hi) {
    const auto mid = lo + (hi - lo) / 2;
    if (enough(mid)) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return hi;
}

LibEdgeAblation ablateEdges(const LibSectionBases& s, const Eigen::MatrixXd& E, const at::Tensor& f,
                            const std::function<LibScore(const at::Tensor& next)>& finish,
                            double target, std::int64_t rowsPerPass, Progress& progress) {
  const auto start = std::chrono::steady_clock::now();
  LibEdgeAblation a;
  a.edges = E.size();
  a.nonzero = (E.array() > 0.0).count();
  a.target = target;
  a.minimal = bisectSmallest(0, a.edges, [&](std::int64_t n) {
    const auto score = finish(edgeAblatedNext(s, f, keptEdges(E, n), rowsPerPass, progress));
    a.kept.push_back(n);
    a.accuracy.push_back(score.accuracy);
    a.loss.push_back(score.loss);
    return score.accuracy >= target;
  });
  a.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return a;
}

}  // namespace cs::analysis
