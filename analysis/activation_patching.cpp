// Activation patching sweep. The two reference runs cache every matching hook; each batched
// pass tiles the N receiving pairs once per location and splices the source value into that
// block of rows only, so G locations cost one forward pass of batch G x N.
#include "analysis/activation_patching.h"

#include "core/torch_api.h"

#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "models/transformer.h"

namespace cs::analysis {

using hooks::HookKind;
using hooks::HookPoint;

namespace {

// Where heads, positions and neurons sit in a hook's activation; -1 when it has no such axis.
struct Axes {
  int head = -1;
  int position = -1;
  int neuron = -1;
};

Axes axesOf(HookKind kind, const at::Tensor& activation) {
  switch (kind) {
    case HookKind::Q:
    case HookKind::K:
    case HookKind::V:
    case HookKind::Z:
    case HookKind::Result:
      return {2, 1, -1};  // [B, T, H, E]
    case HookKind::AttnScores:
    case HookKind::Pattern:
      return {1, 2, -1};  // [B, H, Tq, Tk]: the query position
    case HookKind::MlpPre:
    case HookKind::MlpPost:
      return {-1, 1, 2};  // [B, T, F]
    default:
      return {-1, activation.dim() >= 3 ? 1 : -1, -1};  // [B, T, ...]; classifier logits [B, C]
  }
}

int64_t batchOf(const models::ModelInput& in) {
  for (const auto* t : {&in.tokens, &in.pixels, &in.embeddings}) {
    if (t->defined()) return t->size(0);
  }
  throw ShapeError("patching: an input has neither tokens nor pixels");
}

at::IntArrayRef shapeOf(const models::ModelInput& in) {
  for (const auto* t : {&in.tokens, &in.pixels, &in.embeddings}) {
    if (t->defined()) return t->sizes();
  }
  return {};
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

// "blocks.3.attn.hook_z" -> "blocks.*.attn.hook_z"; model-level names stay as they are.
std::string hookPattern(const HookPoint& point) {
  auto name = hooks::hookName(point);
  if (point.layer < 0) return name;
  const auto layerText = "blocks." + std::to_string(point.layer) + ".";
  return "blocks.*." + name.substr(layerText.size());
}

std::string layerLabel(int layer) { return layer < 0 ? "model" : std::to_string(layer); }

}  // namespace

PatchKind parsePatchKind(const std::string& name) {
  for (auto kind : {PatchKind::Heads, PatchKind::ResidPre, PatchKind::AttnOut, PatchKind::MlpOut,
                    PatchKind::Neurons}) {
    if (patchKindName(kind) == name) return kind;
  }
  throw ConfigError("unknown patching kind '" + name +
                    "'; use heads, resid, attn-out, mlp-out or neurons");
}

std::string patchKindName(PatchKind kind) {
  switch (kind) {
    case PatchKind::Heads:
      return "heads";
    case PatchKind::ResidPre:
      return "resid";
    case PatchKind::AttnOut:
      return "attn-out";
    case PatchKind::MlpOut:
      return "mlp-out";
    case PatchKind::Neurons:
      return "neurons";
  }
  return "heads";
}

PatchingOptions patchingOptionsFor(PatchKind kind) {
  PatchingOptions o;
  o.perHead = false;
  o.perPosition = true;
  switch (kind) {
    case PatchKind::Heads:
      o.hookPatterns = {"blocks.*.attn.hook_z"};
      o.perHead = true;
      o.perPosition = false;
      break;
    case PatchKind::ResidPre:
      o.hookPatterns = {"blocks.*.hook_resid_pre"};
      break;
    case PatchKind::AttnOut:
      o.hookPatterns = {"blocks.*.hook_attn_out"};
      break;
    case PatchKind::MlpOut:
      o.hookPatterns = {"blocks.*.hook_mlp_out"};
      break;
    case PatchKind::Neurons:
      o.hookPatterns = {"blocks.*.mlp.hook_post"};
      o.perNeuron = true;
      o.perPosition = false;
      break;
  }
  return o;
}

double patchingScore(double patched, double clean, double corrupted, PatchDirection direction) {
  const double span = clean - corrupted;
  if (std::abs(span) < 1e-8) return 0.0;
  return direction == PatchDirection::Denoising ? (patched - corrupted) / span
                                                : (patched - clean) / -span;
}

namespace patching {

std::vector<double> toVector(const at::Tensor& values) {
  const auto v = values.detach().to(at::kDouble).cpu().contiguous();
  return {v.data_ptr<double>(), v.data_ptr<double>() + v.numel()};
}

double mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

PatchedLocation patchedLocation(const Location& location, const std::vector<double>& patched,
                                const std::vector<double>& clean,
                                const std::vector<double>& corrupted, PatchDirection direction) {
  PatchedLocation out;
  out.hook = hooks::hookName(location.point);
  out.layer = location.point.layer;
  out.head = location.head;
  out.position = location.position;
  out.neuron = location.neuron;
  out.metric = mean(patched);
  out.score = meanScore(patched, clean, corrupted, direction);
  return out;
}

std::int64_t pairCount(const PatchingPairs& pairs) { return batchOf(pairs.clean); }

PatchingPairs checkedPairs(const PatchingPairs& pairs, bool sameShape) {
  const auto n = batchOf(pairs.clean), m = batchOf(pairs.corrupted);
  if (n != m) {
    throw ShapeError("the clean input has " + std::to_string(n) + " rows and the corrupted " +
                     std::to_string(m) + "; patching pairs them row by row");
  }
  if (n == 0) throw ShapeError("patching needs at least one clean/corrupted pair");
  if (sameShape && shapeOf(pairs.clean) != shapeOf(pairs.corrupted)) {
    throw ShapeError("clean input " + shapeText(shapeOf(pairs.clean)) + " and corrupted input " +
                     shapeText(shapeOf(pairs.corrupted)) +
                     " differ in shape; position-resolved patching needs inputs that tokenise "
                     "to the same length");
  }
  PatchingPairs out = pairs;
  if (out.metrics.empty()) throw ConfigError("patching needs a metric (an answer token or class)");
  if (out.metrics.size() == 1) {
    out.metrics.assign(static_cast<std::size_t>(n), pairs.metrics.front());
  } else if (static_cast<int64_t>(out.metrics.size()) != n) {
    throw ConfigError(std::to_string(out.metrics.size()) + " metrics for " + std::to_string(n) +
                      " pairs; give one metric per pair, or one for all");
  }
  return out;
}

std::vector<Location> locationsOf(const hooks::ActivationCache& cache,
                                  const PatchingOptions& options) {
  std::vector<Location> locations;
  for (const auto& name : cache.names()) {
    const auto point = *hooks::parseHookName(name);
    const auto& act = cache.at(name);
    const auto axes = axesOf(point.kind, act);
    std::vector<int> heads{-1}, positions{-1}, neurons{-1};
    if (axes.head >= 0 && (options.perHead || !options.heads.empty())) {
      heads = chosen(options.heads, act.size(axes.head), "head");
    }
    if (axes.position >= 0 && (options.perPosition || !options.positions.empty())) {
      positions = chosen(options.positions, act.size(axes.position), "position");
    }
    if (axes.neuron >= 0 && (options.perNeuron || !options.neurons.empty())) {
      neurons = chosen(options.neurons, act.size(axes.neuron), "neuron");
    }
    for (int h : heads) {
      for (int n : neurons) {
        for (int p : positions) locations.push_back({point, h, p, n});
      }
    }
  }
  return locations;
}

at::Tensor locationRegion(const at::Tensor& activation, const Location& location, int64_t row,
                          int64_t count) {
  const auto axes = axesOf(location.point.kind, activation);
  auto r = activation.narrow(0, row, count);
  if (location.head >= 0) r = r.narrow(axes.head, location.head, 1);
  if (location.position >= 0) r = r.narrow(axes.position, location.position, 1);
  if (location.neuron >= 0) r = r.narrow(axes.neuron, location.neuron, 1);
  return r;
}

at::Tensor metricValues(const at::Tensor& logits, const std::vector<PatchMetric>& metrics) {
  const auto B = logits.size(0);
  const auto K = static_cast<int64_t>(metrics.size());
  std::vector<int64_t> rows(B), answers(B), foils(B);
  bool anyFoil = false;
  for (int64_t b = 0; b < B; ++b) {
    const auto& m = metrics[static_cast<std::size_t>(b % K)];
    if (logits.dim() == 3) {
      const auto T = logits.size(1);
      rows[b] = b * T + (m.position < 0 ? T - 1 : m.position);
    }
    answers[b] = m.answer;
    foils[b] = m.foil < 0 ? m.answer : m.foil;
    anyFoil = anyFoil || m.foil >= 0;
  }
  const auto longs = at::TensorOptions().dtype(at::kLong);
  auto picked = logits;  // [B, V]
  if (logits.dim() == 3) {
    picked = logits.reshape({-1, logits.size(2)})
                 .index_select(0, at::tensor(rows, longs).to(logits.device()));
  }
  auto m = picked.gather(1, at::tensor(answers, longs).to(logits.device()).unsqueeze(1))
               .squeeze(1)
               .to(at::kDouble);
  if (anyFoil) {
    auto foil = picked.gather(1, at::tensor(foils, longs).to(logits.device()).unsqueeze(1))
                    .squeeze(1)
                    .to(at::kDouble);
    std::vector<double> has(B);
    for (int64_t b = 0; b < B; ++b) has[b] = metrics[static_cast<std::size_t>(b % K)].foil >= 0;
    m = m - foil * at::tensor(has, at::TensorOptions().dtype(at::kDouble)).to(m.device());
  }
  return m.cpu();
}

void checkMetrics(const at::Tensor& logits, const std::vector<PatchMetric>& metrics) {
  const auto V = logits.size(-1);
  for (const auto& metric : metrics) {
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
}

std::string describeMetrics(const at::Tensor& logits, const std::vector<PatchMetric>& metrics) {
  const auto& first = metrics.front();
  bool same = true;
  for (const auto& m : metrics) {
    same = same && m.answer == first.answer && m.foil == first.foil && m.position == first.position;
  }
  if (!same) {
    return std::string("logit[answer]") + (first.foil >= 0 ? " - logit[foil]" : "") +
           " of each pair, at its position (" + std::to_string(metrics.size()) + " pairs)";
  }
  auto text = "logit[" + std::to_string(first.answer) + "]";
  if (first.foil >= 0) text += " - logit[" + std::to_string(first.foil) + "]";
  if (logits.dim() == 3) {
    const auto pos = first.position < 0 ? logits.size(1) - 1 : first.position;
    text += " at position " + std::to_string(pos);
  }
  if (metrics.size() > 1) text += ", mean of " + std::to_string(metrics.size()) + " pairs";
  return text;
}

models::ModelInput tiled(const models::ModelInput& input, int64_t times) {
  auto rep = [times](const at::Tensor& t) {
    if (!t.defined() || times == 1) return t;
    std::vector<int64_t> counts(static_cast<std::size_t>(t.dim()), 1);
    counts[0] = times;
    return t.repeat(counts);
  };
  return {rep(input.tokens), rep(input.attentionMask), rep(input.embeddings), rep(input.pixels)};
}

double meanScore(const std::vector<double>& patched, const std::vector<double>& clean,
                 const std::vector<double>& corrupted, PatchDirection direction) {
  double sum = 0.0;
  int scored = 0;
  for (std::size_t n = 0; n < patched.size(); ++n) {
    if (std::abs(clean[n] - corrupted[n]) < 1e-8) continue;
    sum += patchingScore(patched[n], clean[n], corrupted[n], direction);
    ++scored;
  }
  return scored == 0 ? 0.0 : sum / scored;
}

at::Tensor resumedMetricValues(models::Transformer& model, int firstLayer,
                               const hooks::ActivationCache& receiverCache,
                               const models::ModelInput& tiledReceiver, int64_t times,
                               const std::vector<PatchMetric>& metrics) {
  const auto& prefix = receiverCache.at(hooks::hookName(HookKind::ResidPre, firstLayer));
  const auto residual = times == 1 ? prefix : prefix.repeat({times, 1, 1});
  const auto final = model.runBlocks(firstLayer, residual, tiledReceiver);  // [B, T, D]
  if (model.config().head != models::HeadKind::LanguageModel) {
    return metricValues(model.readout(final), metrics);
  }
  // Unembed only the position each row's metric reads: [B, 1, D] -> [B, 1, V].
  const auto B = final.size(0), T = final.size(1);
  const auto K = static_cast<int64_t>(metrics.size());
  std::vector<int64_t> positions(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto p = metrics[static_cast<std::size_t>(b % K)].position;
    positions[static_cast<std::size_t>(b)] = p < 0 ? T - 1 : p;
  }
  const auto longs = at::TensorOptions().dtype(at::kLong).device(final.device());
  const auto picked = final.index({at::arange(B, longs), at::tensor(positions, longs)});
  auto atPosition = metrics;
  for (auto& metric : atPosition) metric.position = 0;
  return metricValues(model.readout(picked.unsqueeze(1)), atPosition);
}

std::vector<PatchingGrid> gridsOf(const std::vector<PatchedLocation>& locations) {
  // Group by hook kind in order of first appearance.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const PatchedLocation*>> byHook;
  for (const auto& loc : locations) {
    const auto point = hooks::parseHookName(loc.hook);
    const auto key = point ? hookPattern(*point) : loc.hook;
    if (!byHook.count(key)) order.push_back(key);
    byHook[key].push_back(&loc);
  }
  std::vector<PatchingGrid> grids;
  for (const auto& key : order) {
    const auto& locs = byHook[key];
    bool head = false, position = false, neuron = false;
    for (const auto* l : locs) {
      head = head || l->head >= 0;
      position = position || l->position >= 0;
      neuron = neuron || l->neuron >= 0;
    }
    PatchingGrid grid;
    grid.hook = key;
    // Two split axes: rows are (layer, head or neuron), columns positions.
    const bool rowSplit = position && (head || neuron);
    grid.rows = rowSplit ? (head ? "layer,head" : "layer,neuron") : "layer";
    grid.columns = position ? "pos" : head ? "head" : neuron ? "neuron" : "";
    auto rowKey = [&](const PatchedLocation& l) {
      return std::pair{l.layer, rowSplit ? (head ? l.head : l.neuron) : -1};
    };
    auto column = [&](const PatchedLocation& l) {
      return position ? l.position : head ? l.head : neuron ? l.neuron : 0;
    };
    std::map<std::pair<int, int>, int> rowIndex;
    int columns = 1;
    for (const auto* l : locs) {
      rowIndex.emplace(rowKey(*l), 0);
      columns = std::max(columns, column(*l) + 1);
    }
    int r = 0;
    for (auto& [k, index] : rowIndex) {
      index = r++;
      auto label = layerLabel(k.first);
      if (rowSplit) {
        label.insert(0, 1, 'L');
        label += head ? 'H' : 'N';
        label += std::to_string(k.second);
      }
      grid.rowLabels.push_back(std::move(label));
    }
    grid.score = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(rowIndex.size()), columns,
                                           std::numeric_limits<double>::quiet_NaN());
    for (const auto* l : locs) grid.score(rowIndex.at(rowKey(*l)), column(*l)) = l->score;
    grids.push_back(std::move(grid));
  }
  return grids;
}

}  // namespace patching

PatchingResult analyseActivationPatching(models::Model& model, const PatchingPairs& input,
                                         const PatchingOptions& options, Progress& progress) {
  const auto pairs = patching::checkedPairs(input);
  if (options.locationsPerPass <= 0) throw ConfigError("locations per pass must be positive");
  c10::InferenceMode guard;
  const bool denoising = options.direction == PatchDirection::Denoising;
  const int64_t N = patching::pairCount(pairs);
  PatchingResult result;
  result.direction = denoising ? "denoising" : "noising";

  progress.setStage("clean and corrupted runs");
  // A pass whose locations all sit in blocks >= l starts from the receiving run's cached
  // blocks.{l}.hook_resid_pre: nothing before block l changes. Language models then read out
  // only the metric positions instead of unembedding every position.
  auto* transformer = dynamic_cast<models::Transformer*>(&model);
  if (transformer && transformer->config().nLayers == 0) transformer = nullptr;
  auto receiverPatterns = options.hookPatterns;
  if (transformer) receiverPatterns.push_back("blocks.*.hook_resid_pre");
  hooks::ActivationCache cleanCache, corruptedCache;
  const auto cleanLogits = models::runWithCache(
      model, pairs.clean, denoising ? options.hookPatterns : receiverPatterns, cleanCache);
  const auto corruptedLogits = models::runWithCache(
      model, pairs.corrupted, denoising ? receiverPatterns : options.hookPatterns, corruptedCache);
  patching::checkMetrics(cleanLogits, pairs.metrics);
  result.metric = patching::describeMetrics(cleanLogits, pairs.metrics);
  patching::setReferenceMetrics(
      result, patching::toVector(patching::metricValues(cleanLogits, pairs.metrics)),
      patching::toVector(patching::metricValues(corruptedLogits, pairs.metrics)));
  result.forwardPasses = 2;
  const auto& source = denoising ? cleanCache : corruptedCache;
  const auto& receiver = denoising ? pairs.corrupted : pairs.clean;
  const auto& receiverCache = denoising ? corruptedCache : cleanCache;

  const auto locations = patching::locationsOf(source, options);
  progress.setStage("patching " + std::to_string(locations.size()) + " locations");
  const auto G = static_cast<std::size_t>(options.locationsPerPass);
  for (std::size_t begin = 0; begin < locations.size(); begin += G) {
    progress.check();
    const std::size_t count = std::min(G, locations.size() - begin);
    // Per hook point, the (block, location) pairs patched there in this pass.
    std::map<std::pair<int, int>, std::vector<std::pair<int64_t, patching::Location>>> byPoint;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& loc = locations[begin + i];
      byPoint[{static_cast<int>(loc.point.kind), loc.point.layer}].push_back(
          {static_cast<int64_t>(i), loc});
    }
    hooks::ScopedHooks scope(model.hooks());
    for (const auto& [key, blocks] : byPoint) {
      const HookPoint point{static_cast<HookKind>(key.first), key.second};
      const auto& src = source.at(hooks::hookName(point));
      scope.add(point, [&src, N, blocks = blocks](const at::Tensor& x, const HookPoint&) {
        auto out = x.clone();
        for (const auto& [block, loc] : blocks) {
          patching::locationRegion(out, loc, block * N, N)
              .copy_(patching::locationRegion(src, loc, 0, N));
        }
        return std::optional<at::Tensor>(std::move(out));
      });
    }
    int firstLayer = std::numeric_limits<int>::max();
    for (std::size_t i = 0; i < count; ++i) {
      firstLayer = std::min(firstLayer, locations[begin + i].point.layer);
    }
    const auto tiledReceiver = patching::tiled(receiver, static_cast<int64_t>(count));
    const auto m = patching::toVector(
        transformer && firstLayer >= 0
            ? patching::resumedMetricValues(*transformer, firstLayer, receiverCache, tiledReceiver,
                                            static_cast<int64_t>(count), pairs.metrics)
            : patching::metricValues(model.forward(tiledReceiver), pairs.metrics));
    ++result.forwardPasses;
    for (std::size_t i = 0; i < count; ++i) {
      const auto& loc = locations[begin + i];
      const std::vector<double> patched(m.begin() + static_cast<std::ptrdiff_t>(i * N),
                                        m.begin() + static_cast<std::ptrdiff_t>((i + 1) * N));
      result.locations.push_back(patching::patchedLocation(
          loc, patched, result.cleanMetrics, result.corruptedMetrics, options.direction));
    }
    progress.setFraction(static_cast<double>(begin + count) /
                         static_cast<double>(locations.size()));
  }
  result.grids = patching::gridsOf(result.locations);
  return result;
}

PatchingResult patchActivations(models::Model& model, const models::ModelInput& clean,
                                const models::ModelInput& corrupted, const PatchMetric& metric,
                                const PatchingOptions& options, Progress& progress) {
  return analyseActivationPatching(model, {clean, corrupted, {metric}}, options, progress);
}

}  // namespace cs::analysis
