// Layer similarity: one hooked pass per scoring over the calibration set, then the ranking of
// the chosen mode and, on request, the drop curve. Cosines are taken in float64 on unit vectors
// (a zero vector stays zero, so its cosine is 0 and nothing divides by zero) and summed over
// valid positions in float64.
#include "analysis/layer_similarity.h"

#include "core/torch_api.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/error.h"
#include "hooks/hook_registry.h"

namespace cs::analysis {

namespace {

using hooks::HookKind;
using models::Sublayer;

enum class Kind { Block, Attention, Mlp };

std::string kindName(Kind kind) {
  return kind == Kind::Block ? "block" : kind == Kind::Attention ? "attn" : "mlp";
}

// Restores every skip flag it changed when the scope ends, however it ends. Flags are only
// written where they differ, so a model that was never touched keeps its config bit for bit.
class SkipFlagsGuard {
 public:
  explicit SkipFlagsGuard(models::Transformer& model) : m_model(model) {
    for (int l = 0; l < model.config().nLayers; ++l) {
      m_attn.push_back(model.config().skipsAttention(l));
      m_mlp.push_back(model.config().skipsMlp(l));
    }
  }
  ~SkipFlagsGuard() { restore(); }
  SkipFlagsGuard(const SkipFlagsGuard&) = delete;
  SkipFlagsGuard& operator=(const SkipFlagsGuard&) = delete;

  void restore() {
    const auto& c = m_model.config();
    for (int l = 0; l < static_cast<int>(m_attn.size()); ++l) {
      if (c.skipsAttention(l) != m_attn[l]) m_model.setSkipped(l, Sublayer::Attention, m_attn[l]);
      if (c.skipsMlp(l) != m_mlp[l]) m_model.setSkipped(l, Sublayer::Mlp, m_mlp[l]);
    }
  }

 private:
  models::Transformer& m_model;
  std::vector<bool> m_attn, m_mlp;
};

void drop(models::Transformer& model, Kind kind, int layer) {
  if (kind != Kind::Mlp) model.setSkipped(layer, Sublayer::Attention, true);
  if (kind != Kind::Attention) model.setSkipped(layer, Sublayer::Mlp, true);
}

// Mean cosine similarities of one scoring pass.
struct Similarities {
  std::vector<double> block, attn, mlp;  // [L]
  Eigen::MatrixXd pairs;                 // [L + 1, L + 1] when asked for, else empty
  std::int64_t rows = 0, tokens = 0;
};

// x / ‖x‖ over the last axis in float64; zero rows stay zero.
at::Tensor unit(const at::Tensor& x) {
  const auto d = x.to(at::kDouble);
  return d / d.norm(2, {-1}, true).clamp_min(std::numeric_limits<double>::min());
}

Similarities scoringPass(models::Transformer& model, const data::Dataset& dataset,
                         std::int64_t rows, std::int64_t batchSize, bool allPairs,
                         Progress& progress) {
  const int L = model.config().nLayers;
  // Sums as device scalars, read once at the end: no synchronisation per batch.
  std::vector<at::Tensor> blockSum(L), attnSum(L), mlpSum(L);
  std::vector<std::vector<at::Tensor>> pairSum(L + 1, std::vector<at::Tensor>(L + 1));
  at::Tensor tokenSum;
  auto add = [](at::Tensor& sum, const at::Tensor& value) {
    sum = sum.defined() ? sum + value : value;
  };

  c10::InferenceMode guard;
  Similarities out;
  for (std::int64_t begin = 0; begin < rows; begin += batchSize) {
    progress.check();
    const auto batch = dataset.batch(begin, std::min(batchSize, rows - begin));
    at::Tensor valid;                  // [B, T] float64, 1 at real tokens
    std::vector<at::Tensor> h(L + 1);  // unit residual stream h_0..h_L
    at::Tensor mid;                    // unit h_mid of the current block
    auto masked = [&](const at::Tensor& u, const at::Tensor& v) {
      return ((u * v).sum(-1) * valid).sum();
    };
    hooks::ScopedHooks scope(model.hooks());
    scope.observe({HookKind::ResidPre, 0}, [&](const at::Tensor& x, const hooks::HookPoint&) {
      valid = batch.attentionMask.defined()
                  ? batch.attentionMask.to(x.device()).ne(0).to(at::kDouble)
                  : at::ones({x.size(0), x.size(1)}, x.options().dtype(at::kDouble));
      add(tokenSum, valid.sum());
      h[0] = unit(x);
    });
    for (int l = 0; l < L; ++l) {
      scope.observe({HookKind::ResidMid, l}, [&, l](const at::Tensor& x, const hooks::HookPoint&) {
        mid = unit(x);
        add(attnSum[l], masked(h[l], mid));
      });
      scope.observe({HookKind::ResidPost, l}, [&, l](const at::Tensor& x, const hooks::HookPoint&) {
        h[l + 1] = unit(x);
        add(mlpSum[l], masked(mid, h[l + 1]));
        add(blockSum[l], masked(h[l], h[l + 1]));
        if (allPairs) {
          for (int i = 0; i <= l; ++i) add(pairSum[i][l + 1], masked(h[i], h[l + 1]));
        } else {
          h[l] = at::Tensor();  // only adjacent states are compared: free memory as we go
        }
      });
    }
    model.forward({batch.tokens, batch.attentionMask, {}, batch.pixels});
    out.rows += batch.tokens.defined() ? batch.tokens.size(0) : batch.pixels.size(0);
    progress.setFraction(static_cast<double>(out.rows) / static_cast<double>(rows));
  }
  out.tokens = static_cast<std::int64_t>(tokenSum.item<double>());
  if (out.tokens == 0) {
    throw ConfigError("the calibration rows of " + dataset.describe() +
                      " hold no real token (every position is padding)");
  }
  const double n = static_cast<double>(out.tokens);
  auto mean = [&](const at::Tensor& sum) { return sum.item<double>() / n; };
  for (int l = 0; l < L; ++l) {
    out.block.push_back(mean(blockSum[l]));
    out.attn.push_back(mean(attnSum[l]));
    out.mlp.push_back(mean(mlpSum[l]));
  }
  if (allPairs) {
    out.pairs = Eigen::MatrixXd::Identity(L + 1, L + 1);
    for (int i = 0; i <= L; ++i) {
      for (int j = i + 1; j <= L; ++j) out.pairs(i, j) = out.pairs(j, i) = mean(pairSum[i][j]);
    }
  }
  // What the model already skips is reported as unchanged (importance 0); it cannot be
  // dropped again. (A skipped sublayer passes X through, so cos is 1 anyway unless X = 0.)
  const auto& c = model.config();
  for (int l = 0; l < L; ++l) {
    if (c.skipsAttention(l)) out.attn[l] = 1.0;
    if (c.skipsMlp(l)) out.mlp[l] = 1.0;
    if (c.skipsAttention(l) && c.skipsMlp(l)) out.block[l] = 1.0;
  }
  return out;
}

struct Candidate {
  Kind kind;
  int layer;
  double similarity;
};

// The droppable modules of `target` on the model as it is now, most similar first. Ties keep
// layer order (attention before MLP within a block), so every ranking restricted to one kind
// is that kind's own ranking.
std::vector<Candidate> ranked(const models::Transformer& model, const Similarities& s,
                              DropTarget target) {
  const auto& c = model.config();
  std::vector<Candidate> out;
  for (int l = 0; l < c.nLayers; ++l) {
    const bool attnOn = !c.skipsAttention(l), mlpOn = !c.skipsMlp(l);
    if (target == DropTarget::Block && (attnOn || mlpOn))
      out.push_back({Kind::Block, l, s.block[l]});
    if ((target == DropTarget::Attention || target == DropTarget::Sublayers) && attnOn) {
      out.push_back({Kind::Attention, l, s.attn[l]});
    }
    if ((target == DropTarget::Mlp || target == DropTarget::Sublayers) && mlpOn) {
      out.push_back({Kind::Mlp, l, s.mlp[l]});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.similarity > b.similarity;
  });
  return out;
}

std::string describeDrops(const std::vector<DroppedModule>& drops, std::size_t k) {
  std::string out;
  for (std::size_t i = 0; i < k; ++i) {
    const auto& d = drops[i];
    out += out.empty() ? "" : ", ";
    if (d.count > 1) {
      out += "blocks " + std::to_string(d.layer) + "-" + std::to_string(d.layer + d.count - 1);
    } else {
      out += d.kind + " " + std::to_string(d.layer);
    }
  }
  return out.empty() ? "nothing" : out;
}

Kind kindOf(const std::string& name) {
  return name == "block" ? Kind::Block : name == "attn" ? Kind::Attention : Kind::Mlp;
}

// An evaluation whose cancellation follows `outer`.
EvalResult evaluateFollowing(models::Transformer& model, const data::Dataset& dataset,
                             const EvalOptions& options, Progress& outer) {
  Progress inner;
  inner.setListener([&](const std::string&, double) {
    if (outer.cancelled()) inner.cancel();
  });
  outer.check();
  return evaluate(model, dataset, options, inner);
}

}  // namespace

std::string dropModeName(DropMode mode) {
  switch (mode) {
    case DropMode::Discrete:
      return "discrete";
    case DropMode::Joint:
      return "joint";
    case DropMode::Iterative:
      return "iterative";
    case DropMode::Consecutive:
      return "consecutive";
  }
  return "?";
}

std::string dropTargetName(DropTarget target) {
  switch (target) {
    case DropTarget::Block:
      return "block";
    case DropTarget::Attention:
      return "attn";
    case DropTarget::Mlp:
      return "mlp";
    case DropTarget::Sublayers:
      return "sublayers";
  }
  return "?";
}

DropMode parseDropMode(const std::string& text) {
  for (auto m : {DropMode::Discrete, DropMode::Joint, DropMode::Iterative, DropMode::Consecutive}) {
    if (text == dropModeName(m)) return m;
  }
  throw ConfigError("unknown drop mode '" + text +
                    "'; use discrete, joint, iterative or consecutive");
}

DropTarget parseDropTarget(const std::string& text) {
  for (auto t :
       {DropTarget::Block, DropTarget::Attention, DropTarget::Mlp, DropTarget::Sublayers}) {
    if (text == dropTargetName(t)) return t;
  }
  throw ConfigError("unknown drop target '" + text + "'; use block, attn, mlp or sublayers");
}

LayerSimilarityResult analyseLayerSimilarity(models::Transformer& model,
                                             const data::Dataset& dataset,
                                             const LayerSimilarityOptions& options,
                                             Progress& progress) {
  if (options.batchSize <= 0) throw ConfigError("the calibration batch size must be positive");
  if (options.limit < 0) throw ConfigError("the calibration row limit must not be negative");
  if (options.dropN < 1) {
    throw ConfigError("the drop count must be at least 1, got " + std::to_string(options.dropN));
  }
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  if (rows < 1) throw ConfigError("the calibration set " + dataset.describe() + " has no rows");
  const auto start = std::chrono::steady_clock::now();
  const int L = model.config().nLayers;
  const auto target = options.mode == DropMode::Joint         ? DropTarget::Sublayers
                      : options.mode == DropMode::Consecutive ? DropTarget::Block
                                                              : options.target;
  const bool consecutive = options.mode == DropMode::Consecutive;

  LayerSimilarityResult result;
  result.dataset = dataset.describe();
  result.mode = dropModeName(options.mode);
  result.target = dropTargetName(target);
  for (int l = 0; l < L; ++l) {
    result.attnSkipped.push_back(model.config().skipsAttention(l));
    result.mlpSkipped.push_back(model.config().skipsMlp(l));
  }
  SkipFlagsGuard guard(model);

  auto pass = [&](const std::string& stage) {
    progress.setStage("layer similarity: " + stage);
    ++result.forwardPasses;
    return scoringPass(model, dataset, rows, options.batchSize, consecutive, progress);
  };
  const auto first = pass("scoring");
  result.samples = first.rows;
  result.tokens = first.tokens;
  result.blockSimilarity = first.block;
  result.attnSimilarity = first.attn;
  result.mlpSimilarity = first.mlp;
  for (int l = 0; l < L; ++l) {
    result.blockImportance.push_back(1.0 - first.block[l]);
    result.attnImportance.push_back(1.0 - first.attn[l]);
    result.mlpImportance.push_back(1.0 - first.mlp[l]);
  }

  if (consecutive) {
    // sim_n(i) compares h_i with h_{i+n}: the n blocks i..i+n-1 lie between them. (The
    // reference compares h_i with h_{i+n+1} while dropping n blocks.)
    result.residualSimilarity = first.pairs;
    const int n = std::min(options.dropN, L);
    result.dropN = n;
    int best = 0;
    for (int i = 0; i + n <= L; ++i) {
      result.consecutiveSimilarity.push_back(first.pairs(i, i + n));
      if (first.pairs(i, i + n) > first.pairs(best, best + n)) best = i;
    }
    result.dropped.push_back({"block", best, n, first.pairs(best, best + n)});
  } else if (options.mode == DropMode::Iterative) {
    auto current = first;
    for (int k = 0; k < options.dropN; ++k) {
      const auto candidates = ranked(model, current, target);
      if (candidates.empty()) break;
      const auto& c = candidates.front();
      result.dropped.push_back({kindName(c.kind), c.layer, 1, c.similarity});
      drop(model, c.kind, c.layer);
      if (k + 1 < options.dropN && !ranked(model, current, target).empty()) {
        current = pass("rescoring after drop " + std::to_string(k + 1));
      }
    }
    result.dropN = static_cast<int>(result.dropped.size());
    guard.restore();
  } else {
    const auto candidates = ranked(model, first, target);
    const auto n =
        std::min<std::size_t>(static_cast<std::size_t>(options.dropN), candidates.size());
    for (std::size_t k = 0; k < n; ++k) {
      result.dropped.push_back(
          {kindName(candidates[k].kind), candidates[k].layer, 1, candidates[k].similarity});
    }
    result.dropN = static_cast<int>(n);
  }

  if (options.curve) {
    const int n = result.dropN;
    for (int k = 0; k <= n; ++k) {
      progress.setStage("drop curve: " + std::to_string(k) + " of " + std::to_string(n) +
                        " dropped");
      progress.setFraction(static_cast<double>(k) / (n + 1));
      DropCurvePoint point;
      point.dropped = k;
      if (consecutive) {
        // The best start for k blocks, from the same table.
        guard.restore();
        int best = 0;
        for (int i = 0; k > 0 && i + k <= L; ++i) {
          if (first.pairs(i, i + k) > first.pairs(best, best + k)) best = i;
        }
        for (int b = best; b < best + k; ++b) drop(model, Kind::Block, b);
        point.modules = k == 0
                            ? "nothing"
                            : describeDrops({{"block", best, k, first.pairs(best, best + k)}}, 1);
      } else {
        if (k > 0) {
          const auto& d = result.dropped[static_cast<std::size_t>(k - 1)];
          drop(model, kindOf(d.kind), d.layer);
        }
        point.modules = describeDrops(result.dropped, static_cast<std::size_t>(k));
      }
      progress.check();
      const auto r = evaluateFollowing(model, dataset, options.eval, progress);
      point.accuracy = r.accuracy;
      point.meanLoss = r.meanLoss;
      result.curve.push_back(point);
    }
    guard.restore();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.setFraction(1.0);
  return result;
}

}  // namespace cs::analysis
