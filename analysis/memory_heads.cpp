// Memory vs context heads. Every batch of examples runs twice (x_conf and x_ref, right-padded
// and masked, read at each row's last real token); the head results at that token come from
// hook_z (z W_O^(i)), so e for every head is a final-norm readout of h_L + delta, computed for
// all heads of a layer at once, and only the two answer columns of W_U are ever used.
#include "analysis/memory_heads.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "analysis/residual_decomposition.h"
#include "core/error.h"
#include "models/layers.h"
#include "models/mask_application.h"

namespace cs::analysis {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

int maxHeadsOf(const models::TransformerConfig& config) {
  return config.nHeads.empty() ? 0 : *std::max_element(config.nHeads.begin(), config.nHeads.end());
}

void checkExamples(const models::TransformerConfig& config,
                   const std::vector<ConflictExample>& examples, const std::string& set) {
  if (config.head != models::HeadKind::LanguageModel || config.input != models::InputKind::Tokens) {
    throw ConfigError(
        "memory and context heads are defined for language models that read "
        "tokens; this model is " +
        std::string(config.head == models::HeadKind::Classifier ? "a classifier"
                                                                : "an image model"));
  }
  const int64_t V = config.dVocab;
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto& e = examples[i];
    const auto where = set + " example " + std::to_string(i) + ": ";
    if (e.conflict.empty()) throw ConfigError(where + "the conflict input is empty");
    if (e.reference.empty()) throw ConfigError(where + "the reference input is empty");
    for (const auto* ids : {&e.conflict, &e.reference}) {
      for (auto id : *ids) {
        if (id < 0 || id >= V) {
          throw ConfigError(where + "token id " + std::to_string(id) +
                            " is outside the vocabulary [0, " + std::to_string(V) + ")");
        }
      }
    }
    for (auto id : {e.memoryAnswer, e.contextAnswer}) {
      if (id < 0 || id >= V) {
        throw ConfigError(where + "answer token " + std::to_string(id) +
                          " is outside the vocabulary [0, " + std::to_string(V) + ")");
      }
    }
    if (e.memoryAnswer == e.contextAnswer) {
      throw ConfigError(where + "the memory and context answers start with the same token (" +
                        std::to_string(e.memoryAnswer) + "); they cannot be told apart");
    }
    const auto longest = static_cast<int64_t>(std::max(e.conflict.size(), e.reference.size()));
    if (config.positions == models::PositionKind::Learned && longest > config.nCtx) {
      throw ConfigError(where + std::to_string(longest) + " tokens, but the model knows " +
                        std::to_string(config.nCtx) + " positions");
    }
  }
}

// Rows of ids right-padded with 0 and masked: [B, T] tokens and mask.
models::ModelInput paddedBatch(const std::vector<const std::vector<int64_t>*>& rows) {
  std::size_t T = 0;
  for (const auto* r : rows) T = std::max(T, r->size());
  const auto B = static_cast<int64_t>(rows.size());
  auto tokens = at::zeros({B, static_cast<int64_t>(T)}, at::kLong);
  auto mask = at::zeros({B, static_cast<int64_t>(T)}, at::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = *rows[static_cast<std::size_t>(b)];
    const auto n = static_cast<int64_t>(r.size());
    tokens[b].narrow(0, 0, n).copy_(at::tensor(r, at::kLong));
    mask[b].narrow(0, 0, n).fill_(1);
  }
  return {tokens, mask, {}, {}};
}

models::ModelInput toDevice(models::ModelInput in, const c10::Device& device) {
  in.tokens = in.tokens.to(device);
  in.attentionMask = in.attentionMask.to(device);
  return in;
}

// One batch of examples, both inputs captured at their last real token.
struct ConflictBatch {
  ResidualPaths conflict, reference;
  at::Tensor memory, context;  // [S] int64, CPU
  at::Tensor u;                // [S, D] float64: W_U[:, o_m] - W_U[:, o_c]
  at::Tensor uBias;            // [S] float64: b_U[o_m] - b_U[o_c] (zeros without b_U)
};

template <typename Use>
void forEachBatch(models::Transformer& model, const std::vector<ConflictExample>& examples,
                  std::int64_t batchSize, Progress& progress, Use&& use) {
  if (batchSize <= 0) throw ConfigError("batch size must be positive");
  const auto& config = model.config();
  const auto n = static_cast<int64_t>(examples.size());
  for (int64_t begin = 0; begin < n; begin += batchSize) {
    progress.check();
    const int64_t count = std::min(batchSize, n - begin);
    std::vector<const std::vector<int64_t>*> conf, ref;
    std::vector<int64_t> memory, context;
    for (int64_t i = begin; i < begin + count; ++i) {
      const auto& e = examples[static_cast<std::size_t>(i)];
      conf.push_back(&e.conflict);
      ref.push_back(&e.reference);
      memory.push_back(e.memoryAnswer);
      context.push_back(e.contextAnswer);
    }
    ConflictBatch b;
    const auto confInput = toDevice(paddedBatch(conf), model.device());
    const auto refInput = toDevice(paddedBatch(ref), model.device());
    b.conflict = captureResidualPaths(model, confInput, defaultReadSites(config, confInput), true);
    b.reference = captureResidualPaths(model, refInput, defaultReadSites(config, refInput), true);
    b.memory = at::tensor(memory, at::kLong);
    b.context = at::tensor(context, at::kLong);
    b.u = unembedDirections(model, b.memory, b.context);
    const auto dev = b.u.device();
    const auto& b_U = model.weights().b_U;
    b.uBias = b_U.defined()
                  ? (b_U.index_select(0, b.memory.to(dev)) - b_U.index_select(0, b.context.to(dev)))
                        .to(at::kDouble)
                  : at::zeros({count}, b.u.options());
    use(begin, b);
  }
}

// LD of residuals x [S, N, D] with the final norm recomputed: [S, N] float64.
at::Tensor logitDifference(const models::Transformer& model, const at::Tensor& x,
                           const ConflictBatch& b) {
  const auto& config = model.config();
  const auto& lnFinal = model.weights().lnFinal;
  models::NormWeights norm;
  if (lnFinal.weight.defined()) norm.weight = lnFinal.weight.to(at::kDouble);
  if (lnFinal.bias.defined()) norm.bias = lnFinal.bias.to(at::kDouble);
  const auto normed = models::applyNorm(x.to(at::kDouble), norm, config.norm, config.normEps);
  return (normed * b.u.unsqueeze(1)).sum(-1) + b.uBias.unsqueeze(1);
}

// delta [S, H, D] = r(x_ref) - r(x_conf) at the last token for every head of `layer`; undefined
// when the layer has no heads or its attention is skipped.
at::Tensor headDeltas(const models::Transformer& model, int layer, const ConflictBatch& b) {
  const auto& zc = b.conflict.z[static_cast<std::size_t>(layer)];
  const auto& zr = b.reference.z[static_cast<std::size_t>(layer)];
  if (!zc.defined() || !zr.defined()) return {};
  const auto W_O = model.weights().blocks[layer].attn.W_O.to(at::kDouble);  // [H, E, D]
  const auto dz = (zr - zc).select(1, 0).to(at::kDouble);                   // [S, H, E]
  return at::einsum("she,hed->shd", {dz, W_O});
}

MemoryHeadOptions checked(const MemoryHeadOptions& options) {
  if (options.batchSize <= 0) throw ConfigError("batch size must be positive");
  for (int k : options.kGrid) {
    if (k <= 0)
      throw ConfigError("the k grid takes positive head counts; got " + std::to_string(k));
  }
  return options;
}

Eigen::MatrixXd meanOver(const std::vector<ExampleHeadScores>& scores, bool effect,
                         const std::vector<bool>& use, int rows, int cols) {
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(rows, cols);
  int n = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!use[i]) continue;
    sum += effect ? scores[i].effect : scores[i].dla;
    ++n;
  }
  if (n == 0) return Eigen::MatrixXd::Constant(rows, cols, kNan);
  return sum / n;
}

}  // namespace

std::vector<ExampleHeadScores> scoreConflictHeads(models::Transformer& model,
                                                  const std::vector<ConflictExample>& examples,
                                                  const MemoryHeadOptions& options,
                                                  Progress& progress) {
  c10::InferenceMode guard;
  const auto& config = model.config();
  checkExamples(config, examples, "head-finding");
  const int L = config.nLayers, maxHeads = maxHeadsOf(config);
  std::vector<ExampleHeadScores> scores(examples.size());
  for (auto& s : scores) {
    s.effect = Eigen::MatrixXd::Constant(L, maxHeads, kNan);
    s.dla = s.effect;
  }
  forEachBatch(
      model, examples, options.batchSize, progress, [&](int64_t begin, const ConflictBatch& b) {
        const int64_t S = b.memory.size(0);
        const auto h = b.conflict.finalResidual;                          // [S, 1, D]
        const auto base = logitDifference(model, h, b).squeeze(1).cpu();  // [S]
        const auto w = dlaReadVectors(model, h, b.memory, b.context);     // [S, 1, D]
        const auto refTop = b.reference.logits.argmax(1).cpu();
        const auto confTop = b.conflict.logits.argmax(1).cpu();
        for (int64_t s = 0; s < S; ++s) {
          auto& out = scores[static_cast<std::size_t>(begin + s)];
          out.logitDifference = base[s].item<double>();
          out.memoryOnReference = refTop[s].item<int64_t>() == b.memory[s].item<int64_t>();
          out.contextOnConflict = confTop[s].item<int64_t>() == b.context[s].item<int64_t>();
        }
        for (int l = 0; l < L; ++l) {
          const int H = config.nHeads[l];
          if (H == 0) continue;
          at::Tensor effect, dla;  // [S, H]
          const auto delta = headDeltas(model, l, b);
          if (!delta.defined()) {  // skipped attention: its heads add nothing
            effect = at::zeros({S, H}, at::kDouble);
            dla = effect;
          } else {
            if (options.freezeFinalNorm) {
              effect = (delta * w).sum(-1).cpu();
            } else {
              effect =
                  (logitDifference(model, h + delta, b) - base.unsqueeze(1).to(h.device())).cpu();
            }
            dla = headAttribution(model, l, b.conflict.z[static_cast<std::size_t>(l)], w).cpu();
          }
          for (int64_t s = 0; s < S; ++s) {
            auto& out = scores[static_cast<std::size_t>(begin + s)];
            for (int i = 0; i < H; ++i) {
              out.effect(l, i) = effect[s][i].item<double>();
              out.dla(l, i) = dla[s][i].item<double>();
            }
          }
        }
        progress.setFraction(static_cast<double>(begin + S) / static_cast<double>(examples.size()));
      });
  return scores;
}

double senderSetEffect(models::Transformer& model, const std::vector<ConflictExample>& examples,
                       const std::vector<std::pair<int, int>>& heads, bool freezeFinalNorm,
                       std::int64_t batchSize) {
  c10::InferenceMode guard;
  const auto& config = model.config();
  checkExamples(config, examples, "sender-set");
  if (examples.empty()) throw ConfigError("sender-set effect: no examples");
  for (const auto& [l, i] : heads) {
    if (l < 0 || l >= config.nLayers || i < 0 || i >= config.nHeads[l]) {
      throw ConfigError("head " + std::to_string(l) + "." + std::to_string(i) +
                        " does not exist in this model");
    }
  }
  double total = 0;
  forEachBatch(model, examples, batchSize, noProgress(), [&](int64_t, const ConflictBatch& b) {
    const auto h = b.conflict.finalResidual;  // [S, 1, D]
    auto delta = at::zeros_like(h, h.options().dtype(at::kDouble));
    for (const auto& [l, i] : heads) {
      const auto d = headDeltas(model, l, b);
      if (d.defined()) delta = delta + d.narrow(1, i, 1);
    }
    at::Tensor effect;
    if (freezeFinalNorm) {
      effect = (delta * dlaReadVectors(model, h, b.memory, b.context)).sum(-1);
    } else {
      effect = logitDifference(model, h + delta, b) - logitDifference(model, h, b);
    }
    total += effect.sum().item<double>();
  });
  return total / static_cast<double>(examples.size());
}

ConflictAccuracy evaluateConflicts(models::Transformer& model,
                                   const std::vector<ConflictExample>& examples,
                                   const hooks::MaskSet& masks, SteeringMode target,
                                   std::int64_t batchSize) {
  c10::InferenceMode guard;
  const auto& config = model.config();
  checkExamples(config, examples, "evaluation");
  if (batchSize <= 0) throw ConfigError("batch size must be positive");
  ConflictAccuracy out;
  if (examples.empty()) return out;
  models::AppliedMasks applied(model, masks);
  const auto n = static_cast<int64_t>(examples.size());
  for (int64_t begin = 0; begin < n; begin += batchSize) {
    const int64_t count = std::min(batchSize, n - begin);
    std::vector<const std::vector<int64_t>*> rows;
    std::vector<int64_t> targets;
    for (int64_t i = begin; i < begin + count; ++i) {
      const auto& e = examples[static_cast<std::size_t>(i)];
      rows.push_back(&e.conflict);
      targets.push_back(target == SteeringMode::Context ? e.contextAnswer : e.memoryAnswer);
    }
    const auto input = toDevice(paddedBatch(rows), model.device());
    const auto sites = defaultReadSites(config, input);
    const auto logits = model.forward(input);  // [B, T, V]
    const auto last =
        logits.index({sites.rows.to(logits.device()), sites.positions.to(logits.device())})
            .to(at::kDouble)
            .cpu();  // [B, V]
    const auto t = at::tensor(targets, at::kLong);
    out.rate += last.argmax(1).eq(t).sum().item<double>();
    out.probability += at::softmax(last, 1).gather(1, t.unsqueeze(1)).sum().item<double>();
  }
  out.rate /= static_cast<double>(n);
  out.probability /= static_cast<double>(n);
  return out;
}

MemoryHeadResult analyseMemoryHeads(models::Transformer& model,
                                    const std::vector<ConflictExample>& find,
                                    const std::vector<ConflictExample>& validation,
                                    const std::vector<ConflictExample>& test,
                                    const MemoryHeadOptions& rawOptions, Progress& progress) {
  const auto options = checked(rawOptions);
  const auto& config = model.config();
  if (find.empty()) throw ConfigError("memory heads: no head-finding examples");
  if (validation.empty()) {
    throw ConfigError("memory heads: k is chosen on a validation split, and it is empty");
  }
  checkExamples(config, validation, "validation");
  checkExamples(config, test, "test");
  const int L = config.nLayers;
  MemoryHeadResult result;
  result.mode = options.mode == SteeringMode::Context ? "context" : "memory";
  result.rankBy = options.rankBy == HeadRanking::Effect ? "effect" : "dla";
  result.maxHeads = maxHeadsOf(config);
  result.findExamples = static_cast<int>(find.size());
  result.validationExamples = static_cast<int>(validation.size());
  result.testExamples = static_cast<int>(test.size());

  progress.setStage("memory heads: scoring heads on " + std::to_string(find.size()) + " examples");
  const auto scores = scoreConflictHeads(model, find, options, progress);
  std::vector<bool> all(find.size(), true);
  int memoryRef = 0, contextConf = 0;
  for (const auto& s : scores) {
    result.kept.push_back(s.memoryOnReference && s.contextOnConflict);
    result.keptExamples += result.kept.back() ? 1 : 0;
    memoryRef += s.memoryOnReference ? 1 : 0;
    contextConf += s.contextOnConflict ? 1 : 0;
  }
  const double n = static_cast<double>(find.size());
  result.memoryRateOnReference = memoryRef / n;
  result.contextRateOnConflict = contextConf / n;
  result.effectAll = meanOver(scores, true, all, L, result.maxHeads);
  result.dlaAll = meanOver(scores, false, all, L, result.maxHeads);
  result.effectKept = meanOver(scores, true, result.kept, L, result.maxHeads);
  result.dlaKept = meanOver(scores, false, result.kept, L, result.maxHeads);
  result.rankedOnKept = options.filter && result.keptExamples > 0;
  if (options.filter && result.keptExamples == 0) {
    result.note =
        "no head-finding example passed the filter (o_m on x_ref and o_c on x_conf); "
        "heads were ranked on all examples";
  }
  const auto& use = result.rankedOnKept ? result.kept : all;
  result.effect = result.rankedOnKept ? result.effectKept : result.effectAll;
  result.dla = result.rankedOnKept ? result.dlaKept : result.dlaAll;
  double ld = 0;
  int used = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (!use[i]) continue;
    ld += scores[i].logitDifference;
    ++used;
  }
  result.meanLogitDifference = ld / used;

  for (int l = 0; l < L; ++l) {
    for (int i = 0; i < config.nHeads[l]; ++i) {
      const ConflictHead head{l, i, result.effect(l, i), result.dla(l, i)};
      if (head.dla > 0) result.memoryHeads.push_back(head);
      if (head.dla < 0) result.contextHeads.push_back(head);
    }
  }
  const bool byEffect = options.rankBy == HeadRanking::Effect;
  auto stronger = [byEffect](const ConflictHead& a, const ConflictHead& b) {
    return byEffect ? std::abs(a.effect) > std::abs(b.effect) : std::abs(a.dla) > std::abs(b.dla);
  };
  std::stable_sort(result.memoryHeads.begin(), result.memoryHeads.end(), stronger);
  std::stable_sort(result.contextHeads.begin(), result.contextHeads.end(), stronger);

  // PH3: prune the group that works against the wanted answer.
  const auto& group =
      options.mode == SteeringMode::Context ? result.memoryHeads : result.contextHeads;
  std::set<int> ks{0};
  for (int k : options.kGrid) ks.insert(std::min<int>(k, static_cast<int>(group.size())));
  progress.setStage("memory heads: pruning curve over " + std::to_string(ks.size()) + " k");
  int step = 0;
  for (int k : ks) {
    progress.check();
    hooks::MaskSet masks;
    for (int j = 0; j < k; ++j) {
      masks.set({hooks::MaskComponent::Head, group[static_cast<std::size_t>(j)].layer,
                 group[static_cast<std::size_t>(j)].head, hooks::AblationMode::Zero});
    }
    PruningPoint point;
    point.k = k;
    const auto v = evaluateConflicts(model, validation, masks, options.mode, options.batchSize);
    point.validationRate = v.rate;
    point.validationProbability = v.probability;
    point.testRate = point.testProbability = kNan;
    if (!test.empty()) {
      const auto t = evaluateConflicts(model, test, masks, options.mode, options.batchSize);
      point.testRate = t.rate;
      point.testProbability = t.probability;
    }
    result.curve.push_back(point);
    progress.setFraction(static_cast<double>(++step) / static_cast<double>(ks.size()));
  }
  const auto best = std::max_element(result.curve.begin(), result.curve.end(),
                                     [](const PruningPoint& a, const PruningPoint& b) {
                                       if (a.validationRate != b.validationRate)
                                         return a.validationRate < b.validationRate;
                                       return a.validationProbability < b.validationProbability;
                                     });
  result.chosenK = best->k;
  result.prunedHeads.assign(group.begin(), group.begin() + result.chosenK);
  if (group.empty()) {
    if (!result.note.empty()) result.note += "; ";
    result.note += std::string("no ") +
                   (options.mode == SteeringMode::Context ? "memory" : "context") +
                   " heads were found, so nothing was pruned";
  }
  return result;
}

}  // namespace cs::analysis
