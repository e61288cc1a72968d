// Path patching in batched passes. Rows of a pass are blocks of the N pairs: step a runs one
// block per sender set, step b one block per (sender set, receiver group). Frozen head outputs
// are the receiving run's cached z (not recomputed values), replaced wholesale at hook_z.
#include "analysis/path_patching.h"

#include "core/torch_api.h"

#include <cmath>
#include <map>

#include "core/error.h"
#include "hooks/activation_cache.h"
#include "hooks/hook_registry.h"
#include "models/cache_run.h"
#include "models/layers.h"

namespace cs::analysis {

using hooks::HookKind;
using hooks::HookPoint;

namespace {

using patching::mean;
using patching::toVector;

// x repeated `times` times along the batch: row g * B + b is row b.
at::Tensor tile(const at::Tensor& x, int64_t times) {
  std::vector<int64_t> counts(static_cast<std::size_t>(x.dim()), 1);
  counts[0] = times;
  return times == 1 ? x : x.repeat(counts);
}

bool isLogitsGroup(const std::vector<PathReceiver>& group) {
  return group.front().input == ReceiverInput::Logits;
}

int kvHeadOf(const models::TransformerConfig& c, int layer, int head) {
  if (!c.kvHeadOfQuery.empty()) return c.kvHeadOfQuery[static_cast<std::size_t>(layer)][head];
  return head / (c.nHeads[layer] / c.nKvHeads[layer]);
}

// A hook a receiver's input is replaced at, and the head slice along its head axis (-1: all).
struct Slot {
  HookKind kind;
  int layer;
  int head;
};

std::vector<Slot> slotsOf(const PathReceiver& r, const models::TransformerConfig& c) {
  switch (r.input) {
    case ReceiverInput::Query:
      return {{HookKind::Q, r.layer, r.head}};
    case ReceiverInput::Key:
      return {{HookKind::K, r.layer, kvHeadOf(c, r.layer, r.head)}};
    case ReceiverInput::Value:
      return {{HookKind::V, r.layer, kvHeadOf(c, r.layer, r.head)}};
    case ReceiverInput::QueryKeyValue:
      return {{HookKind::Q, r.layer, r.head},
              {HookKind::K, r.layer, kvHeadOf(c, r.layer, r.head)},
              {HookKind::V, r.layer, kvHeadOf(c, r.layer, r.head)}};
    case ReceiverInput::Mlp:
      return {{HookKind::Ln2Normalized, r.layer, -1}};
    case ReceiverInput::Logits:
      break;
  }
  return {};
}

void checkLayer(int layer, const models::TransformerConfig& c, const std::string& what) {
  if (layer < 0 || layer >= c.nLayers) {
    throw ConfigError(what + ": layer " + std::to_string(layer) +
                      " does not exist; the model has " + std::to_string(c.nLayers) + " layers");
  }
}

void checkHead(int layer, int head, const models::TransformerConfig& c, const std::string& what) {
  checkLayer(layer, c, what);
  if (c.skipsAttention(layer)) {
    throw ConfigError(what + ": the attention of layer " + std::to_string(layer) +
                      " is skipped; it has no heads");
  }
  if (head < 0 || head >= c.nHeads[layer]) {
    throw ConfigError(what + ": head " + std::to_string(head) + " does not exist in layer " +
                      std::to_string(layer) + " (0 to " + std::to_string(c.nHeads[layer] - 1) +
                      ")");
  }
}

void checkMlp(int layer, const models::TransformerConfig& c, const std::string& what) {
  checkLayer(layer, c, what);
  if (c.skipsMlp(layer) || c.dMlp[layer] == 0) {
    throw ConfigError(what + ": layer " + std::to_string(layer) + " has no MLP");
  }
}

// Rows of x [R, T, ...] at each row's position (pair r % N reads positions[r % N]): [R, 1, ...].
at::Tensor atPositions(const at::Tensor& x, const std::vector<int64_t>& positions) {
  const auto R = x.size(0), T = x.size(1);
  const auto N = static_cast<int64_t>(positions.size());
  std::vector<int64_t> rows(static_cast<std::size_t>(R));
  for (int64_t r = 0; r < R; ++r) rows[r] = r * T + positions[static_cast<std::size_t>(r % N)];
  const auto index = at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(x.device());
  return x.flatten(0, 1).index_select(0, index).unsqueeze(1);
}

std::vector<int64_t> metricPositions(const std::vector<PatchMetric>& metrics, int64_t T) {
  std::vector<int64_t> out;
  for (const auto& m : metrics) out.push_back(m.position < 0 ? T - 1 : m.position);
  return out;
}

// M of final residuals h [R, T', D] (LMs: T' = 1, each row at its metric position), through
// the final norm and only the answer and foil columns of the unembedding: the shortcut then
// costs O(R D), not O(R D V). A frozen norm divides by the scale of `reference` (same shape)
// instead of h's own. Row r is scored by metrics[r % metrics.size()].
at::Tensor residualMetric(const models::Transformer& model, const at::Tensor& h,
                          const at::Tensor& reference, bool frozen,
                          const std::vector<PatchMetric>& metrics) {
  const auto& c = model.config();
  const auto& w = model.weights();
  at::Tensor y;
  if (!frozen) {
    y = models::applyNorm(h, w.lnFinal, c.norm, c.normEps);
  } else if (c.norm == models::NormKind::LayerNorm) {
    const auto centred = reference - reference.mean(-1, true);
    const auto sigma = (centred.pow(2).mean(-1, true) + c.normEps).sqrt();
    y = (h - h.mean(-1, true)) / sigma * w.lnFinal.weight;
    if (w.lnFinal.bias.defined()) y = y + w.lnFinal.bias;
  } else if (c.norm == models::NormKind::RmsNorm) {
    y = h / (reference.pow(2).mean(-1, true) + c.normEps).sqrt() * w.lnFinal.weight;
  } else {
    y = h;
  }
  if (c.head == models::HeadKind::Classifier) {
    const bool pooled = c.input == models::InputKind::Patches && !c.classToken;
    y = pooled ? y.mean(1) : y.select(1, 0);
  } else {
    y = y.select(1, 0);
  }  // [R, D]
  const auto R = y.size(0);
  const auto K = static_cast<int64_t>(metrics.size());
  std::vector<int64_t> answers, foils;
  std::vector<double> hasFoil;
  for (int64_t r = 0; r < R; ++r) {
    const auto& m = metrics[static_cast<std::size_t>(r % K)];
    answers.push_back(m.answer);
    foils.push_back(m.foil < 0 ? m.answer : m.foil);
    hasFoil.push_back(m.foil < 0 ? 0.0 : 1.0);
  }
  auto logitOf = [&](const std::vector<int64_t>& ids) {
    const auto index = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).to(y.device());
    // Rows of W_U^T: a tied W_U is a transposed view, whose columns are contiguous rows of W_E.
    const auto columns = w.W_U.t().is_contiguous() ? w.W_U.t().index_select(0, index)
                                                   : w.W_U.index_select(1, index).t();
    auto logit = (y * columns).sum(-1);  // [R]
    if (w.b_U.defined()) logit = logit + w.b_U.index_select(0, index);
    return logit.to(at::kDouble).cpu();
  };
  return logitOf(answers) - logitOf(foils) * at::tensor(hasFoil, at::kDouble);
}

}  // namespace

std::string pathNodeLabel(const PathNode& node) {
  auto label = "L" + std::to_string(node.layer);
  if (node.head < 0) return label + "MLP";
  label += 'H';
  label += std::to_string(node.head);
  return label;
}

std::string pathReceiverLabel(const PathReceiver& r) {
  const auto head = "L" + std::to_string(r.layer) + "H" + std::to_string(r.head);
  switch (r.input) {
    case ReceiverInput::Logits:
      return "logits";
    case ReceiverInput::Query:
      return head + ".q";
    case ReceiverInput::Key:
      return head + ".k";
    case ReceiverInput::Value:
      return head + ".v";
    case ReceiverInput::QueryKeyValue:
      return head + ".qkv";
    case ReceiverInput::Mlp:
      return "L" + std::to_string(r.layer) + "MLP.in";
  }
  return "?";
}

namespace {

// The sender sets, every head alone when none are given; ConfigError for what the model lacks.
std::vector<std::vector<PathNode>> checkedSenders(std::vector<std::vector<PathNode>> senders,
                                                  const models::TransformerConfig& c) {
  if (senders.empty()) {
    for (int l = 0; l < c.nLayers; ++l) {
      for (int h = 0; !c.skipsAttention(l) && h < c.nHeads[l]; ++h) senders.push_back({{l, h}});
    }
    if (senders.empty()) throw ConfigError("the model has no attention heads; name the senders");
  }
  for (const auto& set : senders) {
    if (set.empty()) throw ConfigError("a sender set is empty");
    for (const auto& node : set) {
      const auto what = "sender " + pathNodeLabel(node);
      if (node.head >= 0) {
        checkHead(node.layer, node.head, c, what);
      } else {
        checkMlp(node.layer, c, what);
      }
    }
  }
  return senders;
}

// The receiver groups, the logits alone when none are given; a group is the logits or inputs.
std::vector<std::vector<PathReceiver>> checkedReceivers(
    std::vector<std::vector<PathReceiver>> receivers, const models::TransformerConfig& c) {
  if (receivers.empty()) receivers.push_back({PathReceiver{}});
  for (const auto& group : receivers) {
    if (group.empty()) throw ConfigError("a receiver group is empty");
    for (const auto& r : group) {
      if ((r.input == ReceiverInput::Logits) != isLogitsGroup(group)) {
        throw ConfigError(
            "a receiver group mixes the logits with head or MLP inputs; give the logits a group "
            "of their own");
      }
      if (r.input == ReceiverInput::Mlp) {
        checkMlp(r.layer, c, "receiver " + pathReceiverLabel(r));
      } else if (r.input != ReceiverInput::Logits) {
        checkHead(r.layer, r.head, c, "receiver " + pathReceiverLabel(r));
      }
    }
  }
  return receivers;
}

// "L0H1+L0H2".
template <typename T, typename Label>
std::string joinedLabels(const std::vector<T>& items, Label label) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += '+';
    out += label(item);
  }
  return out;
}

}  // namespace

PathPatchingResult analysePathPatching(models::Transformer& model, const PatchingPairs& input,
                                       const PathPatchingOptions& options, Progress& progress) {
  const auto& c = model.config();
  const auto& W = model.weights();
  if (options.rowsPerPass <= 0) throw ConfigError("rows per pass must be positive");

  const auto senders = checkedSenders(options.senders, c);
  const auto receivers = checkedReceivers(options.receivers, c);
  bool anyLogits = false, anyInputs = false;
  for (const auto& group : receivers) (isLogitsGroup(group) ? anyLogits : anyInputs) = true;
  if (options.frozenNorm && !anyLogits) {
    throw ConfigError(
        "a frozen norm applies to the logits receiver only; add it or drop the "
        "option");
  }
  const bool shortcut = options.direct && options.logitsShortcut;
  const bool needsForward = anyInputs || (anyLogits && !shortcut);
  const bool classifier = c.head == models::HeadKind::Classifier;
  const auto pairs = patching::checkedPairs(input, needsForward || classifier);
  const int64_t N = patching::pairCount(pairs);

  c10::InferenceMode guard;
  const bool noising = options.direction == PatchDirection::Noising;
  const auto& receiving = noising ? pairs.clean : pairs.corrupted;
  const auto& source = noising ? pairs.corrupted : pairs.clean;

  PathPatchingResult result;
  result.direction = noising ? "noising" : "denoising";
  result.mode = options.direct ? "direct" : "through-mlps";
  result.frozenNorm = options.frozenNorm;
  for (const auto& set : senders) result.senders.push_back(joinedLabels(set, pathNodeLabel));
  for (const auto& group : receivers) {
    result.receivers.push_back(joinedLabels(group, pathReceiverLabel));
  }

  // Reference runs: every head output, every MLP output and the final residual.
  progress.setStage("reference runs");
  std::vector<std::string> names;
  for (int l = 0; l < c.nLayers; ++l) {
    if (!c.skipsAttention(l)) names.push_back(hooks::hookName(HookKind::Z, l));
    if (!c.skipsMlp(l)) names.push_back(hooks::hookName(HookKind::MlpOut, l));
  }
  const auto finalName = hooks::hookName(HookKind::ResidPost, c.nLayers - 1);
  names.push_back(finalName);
  hooks::ActivationCache recvCache, srcCache;
  const auto recvLogits = models::runWithCache(model, receiving, names, recvCache);
  const auto srcLogits = models::runWithCache(model, source, names, srcCache);
  patching::checkMetrics(recvLogits, pairs.metrics);
  patching::checkMetrics(srcLogits, pairs.metrics);
  result.metric = patching::describeMetrics(recvLogits, pairs.metrics);
  const auto recvM = toVector(patching::metricValues(recvLogits, pairs.metrics));
  const auto srcM = toVector(patching::metricValues(srcLogits, pairs.metrics));
  patching::setReferenceMetrics(result, noising ? recvM : srcM, noising ? srcM : recvM);
  result.forwardPasses = 2;

  const auto S = static_cast<int64_t>(senders.size());
  const auto G = static_cast<int64_t>(receivers.size());
  result.score = Eigen::MatrixXd::Zero(S, G);
  result.patchedMetric = Eigen::MatrixXd::Zero(S, G);
  // m holds blocks of N values; block b is (sender set s, group g).
  auto record = [&](const std::vector<double>& m, int64_t block, int64_t s, int64_t g) {
    const std::vector<double> patched(m.begin() + block * N, m.begin() + (block + 1) * N);
    result.patchedMetric(s, g) = mean(patched);
    result.score(s, g) = patching::meanScore(patched, result.cleanMetrics, result.corruptedMetrics,
                                             options.direction);
  };
  // M of final residuals [k N, T, D] (LMs: at each pair's metric position).
  const auto recvFinal = recvCache.at(finalName);
  const auto recvPositions = metricPositions(pairs.metrics, recvFinal.size(1));
  auto metricsOfFinal = [&](const at::Tensor& finalResid, int64_t blocks) {
    at::Tensor h = finalResid, reference = tile(recvFinal, blocks);
    if (!classifier) {
      h = atPositions(h, recvPositions);
      reference = atPositions(reference, recvPositions);
    }
    return toVector(residualMetric(model, h, reference, options.frozenNorm, pairs.metrics));
  };

  // The logits shortcut: h_L(receiving) + the senders' output differences, no forward pass.
  if (anyLogits && shortcut) {
    progress.setStage("logits shortcut");
    const auto srcPositions = metricPositions(pairs.metrics, srcCache.at(finalName).size(1));
    // Both runs' activations at the metric position ([N, 1, ...]), or whole for classifiers.
    auto recvAt = [&](const at::Tensor& x) {
      return classifier ? x : atPositions(x, recvPositions);
    };
    auto srcAt = [&](const at::Tensor& x) { return classifier ? x : atPositions(x, srcPositions); };
    const auto hRecv = recvAt(recvFinal);
    // Each sender's output difference at the metric position, [N, T', D], once.
    std::map<std::pair<int, int>, at::Tensor> deltaOf;
    for (const auto& set : senders) {
      for (const auto& node : set) {
        if (deltaOf.count({node.layer, node.head})) continue;
        at::Tensor delta;
        if (node.head >= 0) {
          const auto name = hooks::hookName(HookKind::Z, node.layer);
          const auto dz = srcAt(srcCache.at(name)).select(2, node.head) -
                          recvAt(recvCache.at(name)).select(2, node.head);  // [N, T', E]
          delta = at::matmul(dz, W.blocks[node.layer].attn.W_O[node.head]);
        } else {
          const auto name = hooks::hookName(HookKind::MlpOut, node.layer);
          delta = srcAt(srcCache.at(name)) - recvAt(recvCache.at(name));
        }
        deltaOf[{node.layer, node.head}] = delta;
      }
    }
    const auto chunk = std::max<int64_t>(1, options.rowsPerPass / N);
    for (int64_t begin = 0; begin < S; begin += chunk) {
      progress.check();
      const auto count = std::min(chunk, S - begin);
      std::vector<at::Tensor> finals;
      for (int64_t s = begin; s < begin + count; ++s) {
        auto delta = at::zeros_like(hRecv);
        for (const auto& node : senders[static_cast<std::size_t>(s)]) {
          delta = delta + deltaOf.at({node.layer, node.head});
        }
        finals.push_back(hRecv + delta);
      }
      const auto h = at::cat(finals, 0);
      const auto reference = tile(hRecv, count);
      const auto m =
          toVector(residualMetric(model, h, reference, options.frozenNorm, pairs.metrics));
      for (int64_t s = 0; s < count; ++s) {
        for (int64_t g = 0; g < G; ++g) {
          if (isLogitsGroup(receivers[static_cast<std::size_t>(g)])) record(m, s, begin + s, g);
        }
      }
    }
  }
  if (!needsForward) return result;

  // Steps a and b, a chunk of sender sets at a time.
  std::vector<int64_t> inputGroups;
  for (int64_t g = 0; g < G; ++g) {
    if (!isLogitsGroup(receivers[static_cast<std::size_t>(g)])) inputGroups.push_back(g);
  }
  const auto chunk = std::max<int64_t>(1, options.rowsPerPass / N);
  for (int64_t begin = 0; begin < S; begin += chunk) {
    progress.check();
    progress.setStage("path patching");
    progress.setFraction(static_cast<double>(begin) / static_cast<double>(S));
    const auto count = std::min(chunk, S - begin);
    auto nodesAt = [&](int64_t sLocal) -> const std::vector<PathNode>& {
      return senders[static_cast<std::size_t>(begin + sLocal)];
    };

    // Step a: senders from the source run, every other head (direct: every MLP) frozen.
    std::map<std::pair<int, int>, at::Tensor> captured;  // (kind, layer) -> [count N, ...]
    {
      hooks::ScopedHooks scope(model.hooks());
      for (int l = 0; l < c.nLayers; ++l) {
        if (!c.skipsAttention(l)) {
          const auto name = hooks::hookName(HookKind::Z, l);
          auto z = tile(recvCache.at(name), count).clone();
          for (int64_t s = 0; s < count; ++s) {
            for (const auto& node : nodesAt(s)) {
              if (node.layer != l || node.head < 0) continue;
              z.narrow(0, s * N, N)
                  .select(2, node.head)
                  .copy_(srcCache.at(name).select(2, node.head));
            }
          }
          scope.add({HookKind::Z, l}, [z](const at::Tensor&, const HookPoint&) {
            return std::optional<at::Tensor>(z);
          });
        }
        if (c.skipsMlp(l)) continue;
        const auto name = hooks::hookName(HookKind::MlpOut, l);
        std::vector<int64_t> senderBlocks;
        for (int64_t s = 0; s < count; ++s) {
          for (const auto& node : nodesAt(s)) {
            if (node.layer == l && node.head < 0) senderBlocks.push_back(s);
          }
        }
        if (!options.direct && senderBlocks.empty()) continue;
        at::Tensor frozen;
        if (options.direct) frozen = tile(recvCache.at(name), count);
        const auto& src = srcCache.at(name);
        scope.add({HookKind::MlpOut, l},
                  [frozen, senderBlocks, &src, N](const at::Tensor& x, const HookPoint&) {
                    auto out = (frozen.defined() ? frozen : x).clone();
                    for (auto s : senderBlocks) out.narrow(0, s * N, N).copy_(src);
                    return std::optional<at::Tensor>(std::move(out));
                  });
      }
      // Receivers' inputs as step a computes them.
      for (auto g : inputGroups) {
        for (const auto& r : receivers[static_cast<std::size_t>(g)]) {
          for (const auto& slot : slotsOf(r, c)) {
            const std::pair key{static_cast<int>(slot.kind), slot.layer};
            if (captured.count(key)) continue;
            captured[key] = at::Tensor();
            scope.observe({slot.kind, slot.layer},
                          [&captured, key](const at::Tensor& x, const HookPoint&) {
                            captured[key] = x.clone();
                          });
          }
        }
      }
      if (anyLogits && !shortcut) {
        const std::pair key{static_cast<int>(HookKind::ResidPost), c.nLayers - 1};
        scope.observe(
            {HookKind::ResidPost, c.nLayers - 1},
            [&captured, key](const at::Tensor& x, const HookPoint&) { captured[key] = x.clone(); });
      }
      model.forward(patching::tiled(receiving, count));
      ++result.forwardPasses;
    }
    if (anyLogits && !shortcut) {
      const auto m = metricsOfFinal(
          captured.at({static_cast<int>(HookKind::ResidPost), c.nLayers - 1}), count);
      for (int64_t s = 0; s < count; ++s) {
        for (int64_t g = 0; g < G; ++g) {
          if (isLogitsGroup(receivers[static_cast<std::size_t>(g)])) record(m, s, begin + s, g);
        }
      }
    }

    // Step b: the receiving run with only the receivers' inputs replaced.
    const auto groupChunk = std::max<int64_t>(1, options.rowsPerPass / (count * N));
    const auto nGroups = static_cast<int64_t>(inputGroups.size());
    for (int64_t gBegin = 0; gBegin < nGroups; gBegin += groupChunk) {
      progress.check();
      const auto gCount = std::min(groupChunk, nGroups - gBegin);
      // Per hook: (block, sender block, head slice) to copy from the step-a capture.
      struct Copy {
        int64_t block, sender;
        int head;
      };
      std::map<std::pair<int, int>, std::vector<Copy>> copies;
      for (int64_t s = 0; s < count; ++s) {
        for (int64_t g = 0; g < gCount; ++g) {
          const auto& group = receivers[static_cast<std::size_t>(inputGroups[gBegin + g])];
          for (const auto& r : group) {
            for (const auto& slot : slotsOf(r, c)) {
              copies[{static_cast<int>(slot.kind), slot.layer}].push_back(
                  {s * gCount + g, s, slot.head});
            }
          }
        }
      }
      hooks::ScopedHooks scope(model.hooks());
      for (const auto& [key, list] : copies) {
        const auto& from = captured.at(key);
        scope.add({static_cast<HookKind>(key.first), key.second},
                  [&from, list = list, N](const at::Tensor& x, const HookPoint&) {
                    auto out = x.clone();
                    for (const auto& copy : list) {
                      auto dst = out.narrow(0, copy.block * N, N);
                      auto src = from.narrow(0, copy.sender * N, N);
                      if (copy.head >= 0) {
                        dst.select(2, copy.head).copy_(src.select(2, copy.head));
                      } else {
                        dst.copy_(src);
                      }
                    }
                    return std::optional<at::Tensor>(std::move(out));
                  });
      }
      const auto logits = model.forward(patching::tiled(receiving, count * gCount));
      ++result.forwardPasses;
      const auto m = toVector(patching::metricValues(logits, pairs.metrics));
      for (int64_t s = 0; s < count; ++s) {
        for (int64_t g = 0; g < gCount; ++g)
          record(m, s * gCount + g, begin + s, inputGroups[gBegin + g]);
      }
    }
  }
  progress.setFraction(1.0);
  return result;
}

}  // namespace cs::analysis
