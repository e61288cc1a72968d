// Activation patching sweep. The two reference runs cache every matching hook; each batched
// pass repeats the receiving example once per location and splices the source value into
// that row only, so G locations cost one forward pass of batch G.
#include "analysis/activation_patching.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"

namespace cs::analysis {

using hooks::HookKind;
using hooks::HookPoint;

namespace {

// Where heads and positions sit in a hook's activation; -1 when it has no such axis.
struct Axes {
  int head = -1;
  int position = -1;
};

Axes axesOf(HookKind kind, const at::Tensor& activation) {
  switch (kind) {
    case HookKind::Q:
    case HookKind::K:
    case HookKind::V:
    case HookKind::Z:
    case HookKind::Result:
      return {2, 1};  // [B, T, H, E]
    case HookKind::AttnScores:
    case HookKind::Pattern:
      return {1, 2};  // [B, H, Tq, Tk]: the query position
    default:
      return {-1, activation.dim() >= 3 ? 1 : -1};  // [B, T, ...]; classifier logits [B, C]
  }
}

struct Location {
  HookPoint point;
  int head = -1;
  int position = -1;
};

// The slice of one example's activation [1, ...] or of row `row` of a batch that a location
// covers.
at::Tensor region(const at::Tensor& x, int64_t row, const Location& loc, const Axes& axes) {
  auto r = x.narrow(0, row, 1);
  if (loc.head >= 0) r = r.narrow(axes.head, loc.head, 1);
  if (loc.position >= 0) r = r.narrow(axes.position, loc.position, 1);
  return r;
}

models::ModelInput repeated(const models::ModelInput& in, int64_t n) {
  auto rep = [n](const at::Tensor& t) {
    if (!t.defined()) return t;
    std::vector<int64_t> sizes = t.sizes().vec();
    sizes[0] = n;
    return t.expand(sizes).contiguous();
  };
  return {rep(in.tokens), rep(in.attentionMask), rep(in.embeddings), rep(in.pixels)};
}

int64_t batchOf(const models::ModelInput& in) {
  for (const auto* t : {&in.tokens, &in.pixels, &in.embeddings}) {
    if (t->defined()) return t->size(0);
  }
  throw ShapeError("activation patching: an input has neither tokens nor pixels");
}

at::IntArrayRef shapeOf(const models::ModelInput& in) {
  for (const auto* t : {&in.tokens, &in.pixels, &in.embeddings}) {
    if (t->defined()) return t->sizes();
  }
  return {};
}

// M for every row of logits: [B, T, V] (language models) or [B, C] (classifiers).
at::Tensor metricOf(const at::Tensor& logits, const PatchMetric& metric) {
  auto scored = logits.to(at::kDouble);
  if (scored.dim() == 3) {
    const auto T = scored.size(1);
    const auto pos = metric.position < 0 ? T - 1 : metric.position;
    scored = scored.select(1, pos);
  }
  auto m = scored.select(1, metric.answer);
  if (metric.foil >= 0) m = m - scored.select(1, metric.foil);
  return m;  // [B]
}

void checkMetric(const at::Tensor& logits, const PatchMetric& metric) {
  const auto V = logits.size(-1);
  for (auto id : {metric.answer, metric.foil}) {
    if (id >= V) {
      throw ConfigError("metric token or class " + std::to_string(id) + " is outside [0, " +
                        std::to_string(V) + ")");
    }
  }
  if (metric.answer < 0) throw ConfigError("the metric needs an answer token or class");
  if (logits.dim() == 3 && metric.position >= logits.size(1)) {
    throw ConfigError("metric position " + std::to_string(metric.position) +
                      " is past the input's " + std::to_string(logits.size(1)) + " positions");
  }
}

std::vector<int> chosen(const std::vector<int>& wanted, int64_t size, const std::string& what) {
  std::vector<int> out;
  if (wanted.empty()) {
    for (int i = 0; i < size; ++i) out.push_back(i);
    return out;
  }
  for (int i : wanted) {
    if (i < 0 || i >= size) {
      throw ConfigError(what + " " + std::to_string(i) + " does not exist here (0 to " +
                        std::to_string(size - 1) + ")");
    }
    out.push_back(i);
  }
  return out;
}

}  // namespace

double patchingScore(double patched, double clean, double corrupted, PatchDirection direction) {
  const double span = clean - corrupted;
  if (std::abs(span) < 1e-8) return 0.0;
  return direction == PatchDirection::Denoising ? (patched - corrupted) / span
                                                : (patched - clean) / -span;
}

PatchingResult patchActivations(models::Model& model, const models::ModelInput& clean,
                                const models::ModelInput& corrupted, const PatchMetric& metric,
                                const PatchingOptions& options, Progress& progress) {
  if (batchOf(clean) != 1 || batchOf(corrupted) != 1) {
    throw ShapeError("activation patching takes one clean and one corrupted example");
  }
  if (shapeOf(clean) != shapeOf(corrupted)) {
    throw ShapeError("clean input " + shapeText(shapeOf(clean)) + " and corrupted input " +
                     shapeText(shapeOf(corrupted)) +
                     " differ in shape; position-resolved patching needs inputs that tokenise "
                     "to the same length");
  }
  if (options.locationsPerPass <= 0) throw ConfigError("locations per pass must be positive");
  c10::InferenceMode guard;
  const bool denoising = options.direction == PatchDirection::Denoising;
  PatchingResult result;
  result.direction = denoising ? "denoising" : "noising";

  progress.setStage("clean and corrupted runs");
  hooks::ActivationCache cleanCache, corruptedCache;
  const auto cleanLogits = models::runWithCache(model, clean, options.hookPatterns, cleanCache);
  const auto corruptedLogits =
      models::runWithCache(model, corrupted, options.hookPatterns, corruptedCache);
  checkMetric(cleanLogits, metric);
  result.metric = "logit[" + std::to_string(metric.answer) + "]";
  if (metric.foil >= 0) result.metric += " - logit[" + std::to_string(metric.foil) + "]";
  if (cleanLogits.dim() == 3) {
    const auto pos = metric.position < 0 ? cleanLogits.size(1) - 1 : metric.position;
    result.metric += " at position " + std::to_string(pos);
  }
  result.cleanMetric = metricOf(cleanLogits, metric).item<double>();
  result.corruptedMetric = metricOf(corruptedLogits, metric).item<double>();
  result.forwardPasses = 2;
  const auto& source = denoising ? cleanCache : corruptedCache;
  const auto& receiver = denoising ? corrupted : clean;

  std::vector<Location> locations;
  for (const auto& name : source.names()) {
    const auto point = *hooks::parseHookName(name);
    const auto& act = source.at(name);
    const auto axes = axesOf(point.kind, act);
    std::vector<int> heads{-1}, positions{-1};
    if (axes.head >= 0 && (options.perHead || !options.heads.empty())) {
      heads = chosen(options.heads, act.size(axes.head), "head");
    }
    if (axes.position >= 0 && (options.perPosition || !options.positions.empty())) {
      positions = chosen(options.positions, act.size(axes.position), "position");
    }
    for (int h : heads) {
      for (int p : positions) locations.push_back({point, h, p});
    }
  }

  progress.setStage("patching " + std::to_string(locations.size()) + " locations");
  const auto G = static_cast<std::size_t>(options.locationsPerPass);
  for (std::size_t begin = 0; begin < locations.size(); begin += G) {
    progress.check();
    const std::size_t count = std::min(G, locations.size() - begin);
    // Per hook point, the (row, location) pairs patched there in this pass.
    std::map<std::pair<int, int>, std::vector<std::pair<int64_t, Location>>> byPoint;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& loc = locations[begin + i];
      byPoint[{static_cast<int>(loc.point.kind), loc.point.layer}].push_back(
          {static_cast<int64_t>(i), loc});
    }
    hooks::ScopedHooks scope(model.hooks());
    for (const auto& [key, rows] : byPoint) {
      const HookPoint point{static_cast<HookKind>(key.first), key.second};
      const auto& src = source.at(hooks::hookName(point));
      scope.add(point, [&src, rows = rows](const at::Tensor& x, const HookPoint& p) {
        auto out = x.clone();
        const auto axes = axesOf(p.kind, x);
        for (const auto& [row, loc] : rows) {
          region(out, row, loc, axes).copy_(region(src, 0, loc, axes));
        }
        return std::optional<at::Tensor>(std::move(out));
      });
    }
    const auto logits = model.forward(repeated(receiver, static_cast<int64_t>(count)));
    ++result.forwardPasses;
    const auto m = metricOf(logits, metric).contiguous();
    const auto* values = m.data_ptr<double>();
    for (std::size_t i = 0; i < count; ++i) {
      const auto& loc = locations[begin + i];
      PatchedLocation out;
      out.hook = hooks::hookName(loc.point);
      out.layer = loc.point.layer;
      out.head = loc.head;
      out.position = loc.position;
      out.metric = values[i];
      out.score =
          patchingScore(out.metric, result.cleanMetric, result.corruptedMetric, options.direction);
      result.locations.push_back(std::move(out));
    }
    progress.setFraction(static_cast<double>(begin + count) /
                         static_cast<double>(locations.size()));
  }
  return result;
}

}  // namespace cs::analysis
