// Attribution patching. The receiving run adds a zero tensor d (requires_grad) at every
// matching hook, x -> x + d, so dM/dd is dM/da with everything downstream, later hooked
// activations included, recomputed; detaching instead would cut the paths through them.
#include "analysis/attribution_patching.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/error.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"

namespace cs::analysis {

namespace {

using patching::mean;
using patching::toVector;

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const auto n = x.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mx = mean(x), my = mean(y);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0.0 || syy <= 0.0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

// Ranks 1..n, ties sharing their mean rank.
std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double shared = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = shared;
    i = j + 1;
  }
  return r;
}

}  // namespace

PatchingResult analyseAttributionPatching(models::Model& model, const PatchingPairs& input,
                                          const PatchingOptions& options, Progress& progress) {
  const auto pairs = patching::checkedPairs(input);
  const bool denoising = options.direction == PatchDirection::Denoising;
  const auto& receiving = denoising ? pairs.corrupted : pairs.clean;
  const auto& source = denoising ? pairs.clean : pairs.corrupted;
  const int64_t N = patching::pairCount(pairs);
  PatchingResult result;
  result.method = "attribution";
  result.direction = denoising ? "denoising" : "noising";

  // Plain no-grad tensors (not inference tensors): they meet autograd tensors below.
  progress.setStage("source run");
  hooks::ActivationCache sourceCache;
  at::Tensor sourceLogits;
  {
    at::NoGradGuard noGrad;
    sourceLogits = models::runWithCache(model, source, options.hookPatterns, sourceCache);
  }
  patching::checkMetrics(sourceLogits, pairs.metrics);
  const auto locations = patching::locationsOf(sourceCache, options);

  progress.setStage("receiving run and gradients");
  progress.check();
  const auto& names = sourceCache.names();
  std::vector<at::Tensor> deltas(names.size()), values(names.size());
  std::vector<double> receivingM;
  {
    c10::InferenceMode notInference(false);
    at::AutoGradMode withGrad(true);
    at::Tensor m;
    {
      hooks::ScopedHooks scope(model.hooks());
      for (std::size_t i = 0; i < names.size(); ++i) {
        scope.add(*hooks::parseHookName(names[i]),
                  [&deltas, &values, i](const at::Tensor& x, const hooks::HookPoint&) {
                    auto d = at::zeros_like(x).requires_grad_(true);
                    deltas[i] = d;
                    values[i] = x.detach();
                    return std::optional<at::Tensor>(x + d);
                  });
      }
      m = patching::metricValues(model.forward(receiving), pairs.metrics);
    }
    m.sum().backward();
    receivingM = toVector(m);
  }
  const auto sourceM = toVector(patching::metricValues(sourceLogits, pairs.metrics));
  patching::setReferenceMetrics(result, denoising ? sourceM : receivingM,
                                denoising ? receivingM : sourceM);
  result.metric = patching::describeMetrics(sourceLogits, pairs.metrics);
  result.forwardPasses = 2;
  result.backwardPasses = 1;

  // (a_source - a_receiving) * dM/da per element, summed over each location's region.
  progress.setStage("attributing " + std::to_string(locations.size()) + " locations");
  at::NoGradGuard noGrad;
  std::map<std::string, std::size_t> indexOf;
  std::vector<at::Tensor> products(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    indexOf[names[i]] = i;
    const auto grad = deltas[i].defined() && deltas[i].grad().defined()
                          ? deltas[i].grad().to(at::kDouble)
                          : at::zeros_like(values[i], at::kDouble);
    products[i] = (sourceCache.at(names[i]).to(at::kDouble) - values[i].to(at::kDouble)) * grad;
  }
  std::vector<at::Tensor> estimates;  // [N] per location
  estimates.reserve(locations.size());
  for (const auto& loc : locations) {
    const auto& product = products[indexOf.at(hooks::hookName(loc.point))];
    estimates.push_back(patching::locationRegion(product, loc, 0, N).reshape({N, -1}).sum(1));
  }
  const auto estimated =
      locations.empty() ? std::vector<double>() : toVector(at::stack(estimates));  // [loc, N]
  for (std::size_t i = 0; i < locations.size(); ++i) {
    const auto& loc = locations[i];
    std::vector<double> patched(static_cast<std::size_t>(N));
    for (int64_t n = 0; n < N; ++n) patched[n] = receivingM[n] + estimated[i * N + n];
    result.locations.push_back(patching::patchedLocation(
        loc, patched, result.cleanMetrics, result.corruptedMetrics, options.direction));
  }
  result.grids = patching::gridsOf(result.locations);
  progress.setFraction(1.0);
  return result;
}

PatchingComparison comparePatching(const PatchingResult& estimate, const PatchingResult& exact) {
  if (estimate.locations.size() != exact.locations.size()) {
    throw ConfigError("the two patching runs have " + std::to_string(estimate.locations.size()) +
                      " and " + std::to_string(exact.locations.size()) +
                      " locations; compare runs with the same options");
  }
  std::vector<double> x, y;
  PatchingComparison c;
  for (std::size_t i = 0; i < exact.locations.size(); ++i) {
    const auto& a = estimate.locations[i];
    const auto& b = exact.locations[i];
    if (a.hook != b.hook || a.head != b.head || a.position != b.position || a.neuron != b.neuron) {
      throw ConfigError("location " + std::to_string(i) + " differs between the runs (" + a.hook +
                        " vs " + b.hook + "); compare runs with the same options");
    }
    x.push_back(a.score);
    y.push_back(b.score);
    c.maxAbsDifference = std::max(c.maxAbsDifference, std::abs(a.score - b.score));
  }
  c.locations = static_cast<int>(x.size());
  c.pearson = pearson(x, y);
  c.spearman = pearson(ranks(x), ranks(y));
  return c;
}

}  // namespace cs::analysis
