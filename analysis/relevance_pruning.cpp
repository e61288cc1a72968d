// Accumulating |relevance| over a reference set, and pruning curves from the scores.
#include "analysis/relevance_pruning.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "analysis/mask_evaluation.h"
#include "analysis/relevance.h"
#include "core/error.h"

namespace cs::analysis {

using hooks::HookKind;
using hooks::HookPoint;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Where the relevance of one block's components is read.
struct BlockPoints {
  int q = -1, k = -1, v = -1, proj = -1, pattern = -1;  // attention
  int fc1 = -1, fc2 = -1;                               // MLP
};

std::int64_t numelOf(const at::Tensor& t) { return t.defined() ? t.numel() : 0; }

std::vector<double> defaultRates() {
  std::vector<double> rates;
  for (int i = 0; i <= 19; ++i) rates.push_back(0.05 * i);
  return rates;
}

at::Tensor selectRows(const at::Tensor& t, const at::Tensor& rows) {
  return t.defined() ? t.index_select(0, rows.to(t.device())) : t;
}

}  // namespace

RelevanceScores scoreByRelevance(models::Transformer& model, const data::Dataset& dataset,
                                 const RelevanceScoreOptions& options, Progress& progress) {
  const auto& c = model.config();
  const int L = c.nLayers;
  if (options.batchSize <= 0) throw ConfigError("relevance scores: the batch size must be > 0");
  if (options.perClass < 0 || options.limit < 0) {
    throw ConfigError("relevance scores: --per-class and --limit must be >= 0");
  }
  const auto rules = options.rules.value_or(models::languageModelRelevanceRules());
  rules.validate(L);
  const std::set<std::int64_t> wanted(options.classes.begin(), options.classes.end());

  std::vector<HookPoint> points;
  std::vector<BlockPoints> at(L);
  const auto add = [&](HookKind kind, int layer) {
    points.push_back({kind, layer});
    return static_cast<int>(points.size()) - 1;
  };
  for (int l = 0; l < L; ++l) {
    if (!c.skipsAttention(l) && c.nHeads[l] > 0) {
      at[l].q = add(HookKind::Q, l);
      at[l].k = add(HookKind::K, l);
      at[l].v = add(HookKind::V, l);
      at[l].proj = add(HookKind::AttnOut, l);
      at[l].pattern = add(HookKind::Pattern, l);
    }
    if (!c.skipsMlp(l) && c.dMlp[l] > 0) {
      at[l].fc1 = add(HookKind::MlpPre, l);
      at[l].fc2 = add(HookKind::MlpOut, l);
    }
  }
  int maxF = 0, maxH = 0;
  for (int l = 0; l < L; ++l) {
    maxF = std::max(maxF, c.dMlp[l]);
    maxH = std::max(maxH, c.nHeads[l]);
  }
  RelevanceScores s;
  s.rules = rules.describe();
  s.dataset = dataset.describe();
  s.neurons = Eigen::MatrixXd::Constant(L, maxF, kNaN);
  s.heads = Eigen::MatrixXd::Constant(L, maxH, kNaN);
  std::vector<at::Tensor> neuronSums(L), headSums(L);
  std::vector<double> linearSums(static_cast<std::size_t>(4 * L), 0.0);

  std::map<std::int64_t, std::int64_t> perClass;
  progress.setStage("relevance scores: " + s.dataset);
  const auto rows = dataset.size();
  for (std::int64_t begin = 0; begin < rows; begin += options.batchSize) {
    if (options.limit > 0 && s.examples >= options.limit) break;
    progress.check();
    const auto batch = dataset.batch(begin, options.batchSize);
    if (!batch.targets.defined()) {
      throw ConfigError(
          "relevance scores need a dataset with targets (class labels or "
          "next-token targets at a scored position); " +
          dataset.describe() + " has none");
    }
    const auto targets = batch.targets.to(at::kCPU, at::kLong);
    std::vector<std::int64_t> chosen;
    for (std::int64_t b = 0; b < targets.size(0); ++b) {
      const auto t = targets[b].item<std::int64_t>();
      if (!wanted.empty() && !wanted.count(t)) continue;
      if (options.perClass > 0 && perClass[t] >= options.perClass) continue;
      if (options.limit > 0 &&
          s.examples + static_cast<std::int64_t>(chosen.size()) >= options.limit) {
        break;
      }
      ++perClass[t];
      chosen.push_back(b);
    }
    if (!chosen.empty()) {
      const auto index = at::tensor(chosen, at::kLong);
      const models::ModelInput input{selectRows(batch.tokens, index),
                                     selectRows(batch.attentionMask, index),
                                     {},
                                     selectRows(batch.pixels, index)};
      const auto target = selectRows(targets, index).to(model.device());
      const auto position = selectRows(batch.scorePositions, index);
      // Relevance 1 on each example's target logit: seed 1 / y_c in the gradient form.
      const auto objective = [&](const at::Tensor& logits) {
        auto rowsLogits = logits;
        if (logits.dim() == 3) {
          if (!position.defined()) {
            throw ConfigError(
                "relevance scores: a language-model dataset must name the scored "
                "position of each row");
          }
          const auto p = position.to(logits.device(), at::kLong);
          rowsLogits =
              logits.gather(1, p.view({-1, 1, 1}).expand({-1, 1, logits.size(2)})).squeeze(1);
        }
        const auto y = rowsLogits.gather(1, target.view({-1, 1})).squeeze(1);
        return (y / models::stabilize(y.detach(), 1e-9)).sum();
      };
      const auto pass = runRelevancePass(model, input, rules, points, objective);
      const auto absSum = [&](int slot) { return pass.relevance[slot].abs().sum().item<double>(); };
      for (int l = 0; l < L; ++l) {
        const auto& p = at[l];
        if (p.q >= 0) {
          linearSums[4 * l] += absSum(p.q) + absSum(p.k) + absSum(p.v);
          linearSums[4 * l + 1] += absSum(p.proj);
          // [B, H, T, S] -> per (example, head, query) over keys, |.|, then per head.
          const auto h =
              pass.relevance[p.pattern].sum(-1).abs().sum(at::IntArrayRef{0, 2}).to(at::kDouble);
          headSums[l] = headSums[l].defined() ? headSums[l] + h : h;
        }
        if (p.fc1 >= 0) {
          const auto& fc1 = pass.relevance[p.fc1];
          linearSums[4 * l + 2] += fc1.abs().sum().item<double>();
          linearSums[4 * l + 3] += absSum(p.fc2);
          const auto n = fc1.abs().sum(at::IntArrayRef{0, 1}).to(at::kDouble);
          neuronSums[l] = neuronSums[l].defined() ? neuronSums[l] + n : n;
        }
      }
      s.examples += static_cast<std::int64_t>(chosen.size());
    }
    progress.setFraction(static_cast<double>(std::min(begin + options.batchSize, rows)) /
                         static_cast<double>(rows));
  }
  if (s.examples == 0) {
    throw ConfigError("relevance scores: no example of " + dataset.describe() +
                      " matches the classes asked for");
  }
  for (const auto& [cls, n] : perClass) s.classes.push_back(cls);

  const auto toRow = [](const at::Tensor& t) {
    const auto v = t.to(at::kCPU, at::kDouble).contiguous();
    return Eigen::Map<const Eigen::VectorXd>(v.data_ptr<double>(), v.numel()).eval();
  };
  double totalContribution = 0.0;
  for (int l = 0; l < L; ++l) {
    const auto& w = model.weights().blocks[l];
    const auto& p = at[l];
    if (neuronSums[l].defined()) s.neurons.row(l).head(c.dMlp[l]) = toRow(neuronSums[l]);
    if (headSums[l].defined()) s.heads.row(l).head(c.nHeads[l]) = toRow(headSums[l]);
    const std::string prefix = "blocks." + std::to_string(l) + ".";
    if (p.q >= 0) {
      s.linear.push_back({prefix + "qkv", l, numelOf(w.attn.W_QKV) + numelOf(w.attn.b_QKV),
                          linearSums[4 * l], 0.0});
      s.linear.push_back({prefix + "proj", l, numelOf(w.attn.W_O) + numelOf(w.attn.b_O),
                          linearSums[4 * l + 1], 0.0});
    }
    if (p.fc1 >= 0) {
      s.linear.push_back({prefix + "fc1", l,
                          numelOf(w.mlp.W_in) + numelOf(w.mlp.b_in) + numelOf(w.mlp.W_gate),
                          linearSums[4 * l + 2], 0.0});
      s.linear.push_back({prefix + "fc2", l, numelOf(w.mlp.W_out) + numelOf(w.mlp.b_out),
                          linearSums[4 * l + 3], 0.0});
    }
  }
  for (auto& row : s.linear) {
    row.contribution /= static_cast<double>(s.examples);
    totalContribution += row.contribution;
  }
  for (auto& row : s.linear) {
    row.normalized = totalContribution > 0 ? row.contribution / totalContribution : 0.0;
  }
  progress.setFraction(1.0);
  return s;
}

hooks::MaskSet pruningMask(const Eigen::MatrixXd& scores, PruneComponent component, double rate,
                           PruneOrder order) {
  if (!(rate >= 0.0 && rate <= 1.0)) {
    throw ConfigError("pruning rate " + std::to_string(rate) + " is outside [0, 1]");
  }
  struct Candidate {
    double score;
    int layer;
    int index;
  };
  std::vector<Candidate> all;
  for (Eigen::Index l = 0; l < scores.rows(); ++l) {
    for (Eigen::Index i = 0; i < scores.cols(); ++i) {
      if (!std::isnan(scores(l, i))) {
        all.push_back({scores(l, i), static_cast<int>(l), static_cast<int>(i)});
      }
    }
  }
  std::stable_sort(all.begin(), all.end(), [&](const Candidate& a, const Candidate& b) {
    return order == PruneOrder::LeastRelevantFirst ? a.score < b.score : a.score > b.score;
  });
  const auto count = static_cast<std::size_t>(std::floor(rate * static_cast<double>(all.size())));
  hooks::MaskSet masks;
  for (std::size_t i = 0; i < count; ++i) {
    hooks::MaskEntry e;
    e.component = component == PruneComponent::Neurons ? hooks::MaskComponent::Neuron
                                                       : hooks::MaskComponent::Head;
    e.layer = all[i].layer;
    e.index = all[i].index;
    masks.set(e);
  }
  return masks;
}

Eigen::MatrixXd magnitudeScores(const models::Transformer& model, PruneComponent component) {
  torch::NoGradGuard noGrad;
  const auto& c = model.config();
  const int L = c.nLayers;
  int width = 0;
  for (int l = 0; l < L; ++l) {
    width = std::max(width, component == PruneComponent::Neurons ? c.dMlp[l] : c.nHeads[l]);
  }
  Eigen::MatrixXd out = Eigen::MatrixXd::Constant(L, width, kNaN);
  for (int l = 0; l < L; ++l) {
    const auto& w = model.weights().blocks[l];
    at::Tensor norms;
    if (component == PruneComponent::Neurons) {
      if (c.skipsMlp(l) || c.dMlp[l] == 0) continue;
      auto squares = w.mlp.W_in.pow(2).sum(0);  // [F]
      if (w.mlp.W_gate.defined()) squares = squares + w.mlp.W_gate.pow(2).sum(0);
      norms = squares.sqrt();
    } else {
      if (c.skipsAttention(l) || c.nHeads[l] == 0) continue;
      norms = w.attn.W_O.pow(2).sum(at::IntArrayRef{1, 2}).sqrt();  // [H]
    }
    const auto v = norms.to(at::kCPU, at::kDouble).contiguous();
    out.row(l).head(v.numel()) = Eigen::Map<const Eigen::VectorXd>(v.data_ptr<double>(), v.numel());
  }
  return out;
}

double curveArea(const std::vector<double>& rates, const std::vector<double>& accuracy) {
  double area = 0.0;
  for (std::size_t i = 1; i < rates.size() && i < accuracy.size(); ++i) {
    area += (rates[i] - rates[i - 1]) * 0.5 * (accuracy[i] + accuracy[i - 1]);
  }
  return area;
}

RelevancePruningResult relevancePruningCurves(models::Transformer& model,
                                              const RelevanceScores& scores,
                                              const data::Dataset& dataset,
                                              const RelevancePruningOptions& options,
                                              Progress& progress) {
  const auto rates = options.rates.empty() ? defaultRates() : options.rates;
  for (std::size_t i = 0; i < rates.size(); ++i) {
    if (!(rates[i] >= 0.0 && rates[i] <= 1.0) || (i > 0 && rates[i] <= rates[i - 1])) {
      throw ConfigError("pruning rates must rise strictly within [0, 1]");
    }
  }
  const bool neurons = options.component == PruneComponent::Neurons;
  const Eigen::MatrixXd& relevance = neurons ? scores.neurons : scores.heads;
  const auto& c = model.config();
  if (relevance.rows() != c.nLayers) {
    throw ConfigError("the relevance scores are for a model with " +
                      std::to_string(relevance.rows()) + " layers, this one has " +
                      std::to_string(c.nLayers));
  }
  RelevancePruningResult r;
  r.component = neurons ? "neurons" : "heads";
  r.dataset = dataset.describe();
  r.total = static_cast<std::int64_t>((relevance.array() == relevance.array()).count());

  std::vector<std::pair<std::string, Eigen::MatrixXd>> orders{{"relevance", relevance}};
  if (options.randomBaseline) {
    std::mt19937_64 engine(options.seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    Eigen::MatrixXd random = relevance;
    for (Eigen::Index i = 0; i < random.size(); ++i) {
      if (!std::isnan(random.data()[i])) random.data()[i] = uniform(engine);
    }
    orders.emplace_back("random", random);
  }
  if (options.magnitudeBaseline) {
    orders.emplace_back("magnitude", magnitudeScores(model, options.component));
  }

  progress.setStage("pruning curves (" + r.component + ")");
  const double evaluations = static_cast<double>(orders.size() * rates.size());
  double done = 0.0;
  std::optional<double> unpruned;
  for (const auto& [name, table] : orders) {
    PruningCurve curve;
    curve.order = name;
    curve.rates = rates;
    for (const double rate : rates) {
      progress.check();
      const auto masks = pruningMask(table, options.component, rate, options.order);
      curve.pruned.push_back(static_cast<std::int64_t>(masks.size()));
      double accuracy = 0.0;
      if (masks.empty() && unpruned) {
        accuracy = *unpruned;  // every order's rate-0 point is the same model
      } else {
        accuracy = evaluateMasked(model, dataset, masks, nullptr, options.eval).accuracy;
        if (masks.empty()) unpruned = accuracy;
      }
      curve.accuracy.push_back(accuracy);
      progress.setFraction(++done / evaluations);
    }
    curve.auc = curveArea(curve.rates, curve.accuracy);
    r.curves.push_back(std::move(curve));
  }
  if (!unpruned) unpruned = evaluate(model, dataset, options.eval).accuracy;
  r.unprunedAccuracy = *unpruned;
  return r;
}

BitAllocation allocateBits(const RelevanceScores& scores, std::vector<int> levels, double budget) {
  if (levels.empty() || !std::is_sorted(levels.begin(), levels.end()) ||
      std::adjacent_find(levels.begin(), levels.end()) != levels.end() || levels.front() <= 0) {
    throw ConfigError("bit levels must be positive and strictly ascending, e.g. 4,6,8");
  }
  if (!(budget >= levels.front())) {
    throw ConfigError("the bit budget " + std::to_string(budget) + " is below the lowest level " +
                      std::to_string(levels.front()));
  }
  BitAllocation a;
  a.levels = levels;
  a.budget = budget;
  const auto n = scores.linear.size();
  std::vector<std::size_t> level(n, 0);
  double parameters = 0.0;
  for (const auto& row : scores.linear) parameters += static_cast<double>(row.parameters);
  double bitSum = 0.0;  // sum of parameters x bits
  for (const auto& row : scores.linear) bitSum += static_cast<double>(row.parameters) * levels[0];
  std::vector<std::size_t> byContribution(n);
  std::iota(byContribution.begin(), byContribution.end(), 0);
  std::stable_sort(byContribution.begin(), byContribution.end(), [&](auto x, auto y) {
    return scores.linear[x].normalized > scores.linear[y].normalized;
  });
  for (const auto i : byContribution) {
    const double p = static_cast<double>(scores.linear[i].parameters);
    while (level[i] + 1 < levels.size()) {
      const double raised = bitSum + p * (levels[level[i] + 1] - levels[level[i]]);
      if (parameters > 0 && raised / parameters > budget + 1e-12) break;
      bitSum = raised;
      ++level[i];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto& row = scores.linear[i];
    a.rows.push_back({row.name, row.parameters, row.normalized, levels[level[i]]});
  }
  a.meanBits = parameters > 0 ? bitSum / parameters : levels.front();
  return a;
}

}  // namespace cs::analysis
