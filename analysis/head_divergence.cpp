// Head divergence. Head outputs are read at hook_z (before W_O) by observers attached after any
// masks, so they see the reinforcement that AppliedMasks puts on hook_z. The lockstep of VHR
// step 1 is replayed by re-running the forward pair whenever a layer's selection changes the
// model: layer l's z depends only on layers < l, so this gives exactly the lockstep values.
#include "analysis/head_divergence.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/hook_registry.h"
#include "models/mask_application.h"

namespace cs::analysis {

using hooks::HookKind;

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

int maxHeads(const models::TransformerConfig& c) {
  return c.nHeads.empty() ? 0 : *std::max_element(c.nHeads.begin(), c.nHeads.end());
}

const at::Tensor& mainTensor(const models::ModelInput& in) {
  for (const auto* t : {&in.tokens, &in.embeddings, &in.pixels}) {
    if (t->defined()) return *t;
  }
  throw ShapeError("head divergence: an input has neither tokens, embeddings nor pixels");
}

void expectSingle(const models::ModelInput& in, const std::string& which) {
  const auto& t = mainTensor(in);
  if (t.dim() < 2 || t.size(0) != 1) {
    throw ShapeError("head divergence takes one example per branch; the " + which + " input is " +
                     shapeText(t.sizes()));
  }
  // Heads are compared at the last position, which must be a real token.
  if (in.attentionMask.defined() && in.attentionMask.numel() > 0 &&
      in.attentionMask.view({-1})[-1].item<int64_t>() == 0) {
    throw ConfigError("head divergence compares the last position, and the " + which +
                      " input ends in padding; pass it unpadded");
  }
}

// The two branches as one batch of two when they have the same kind and shape, else nothing.
std::optional<models::ModelInput> pairedBatch(const models::ModelInput& a,
                                              const models::ModelInput& b) {
  auto same = [](const at::Tensor& x, const at::Tensor& y) {
    return x.defined() == y.defined() && (!x.defined() || x.sizes() == y.sizes());
  };
  if (!same(a.tokens, b.tokens) || !same(a.embeddings, b.embeddings) || !same(a.pixels, b.pixels)) {
    return std::nullopt;
  }
  auto cat = [](const at::Tensor& x, const at::Tensor& y) {
    return x.defined() ? at::cat({x, y.to(x.device(), x.scalar_type())}, 0) : x;
  };
  models::ModelInput out{
      cat(a.tokens, b.tokens), {}, cat(a.embeddings, b.embeddings), cat(a.pixels, b.pixels)};
  if (a.attentionMask.defined() || b.attentionMask.defined()) {
    const auto& shape = mainTensor(a);
    auto maskOf = [&](const models::ModelInput& in) {
      return in.attentionMask.defined()
                 ? in.attentionMask.to(at::kLong)
                 : at::ones({1, shape.size(1)}, at::TensorOptions().dtype(at::kLong));
    };
    out.attentionMask = at::cat({maskOf(a), maskOf(b).to(maskOf(a).device())}, 0);
  }
  return out;
}

// z of every layer at the given positions, float64 on the CPU: [B, P, H_l, E] per layer
// (undefined where the attention sublayer is skipped). Positions < 0 count from the end.
std::vector<at::Tensor> headOutputsAt(models::Transformer& model, const models::ModelInput& input,
                                      std::vector<int64_t> positions) {
  const auto& c = model.config();
  std::vector<at::Tensor> z(static_cast<std::size_t>(c.nLayers));
  hooks::ScopedHooks scope(model.hooks());
  for (int l = 0; l < c.nLayers; ++l) {
    if (c.skipsAttention(l)) continue;
    scope.observe({HookKind::Z, l}, [&z, &positions, l](const at::Tensor& x, const auto&) {
      std::vector<int64_t> where;
      for (auto p : positions) where.push_back(p < 0 ? x.size(1) + p : p);
      const auto index = torch::tensor(where, torch::TensorOptions().dtype(at::kLong));
      z[l] = x.index_select(1, index.to(x.device())).to(at::kDouble).cpu();
    });
  }
  model.forward(input);
  return z;
}

struct BranchOutputs {
  std::vector<at::Tensor> with, without;  // per layer [P, H_l, E]
};

// Both branches at the given positions of each, batched into one pass when the shapes allow.
BranchOutputs branchOutputs(models::Transformer& model, const models::ModelInput& with,
                            const models::ModelInput& without, const std::vector<int64_t>& atWith,
                            const std::vector<int64_t>& atWithout, int& passes) {
  BranchOutputs out;
  passes += 2;
  if (atWith == atWithout) {
    if (const auto batch = pairedBatch(with, without)) {
      const auto z = headOutputsAt(model, *batch, atWith);
      for (const auto& t : z) {
        out.with.push_back(t.defined() ? t[0] : t);
        out.without.push_back(t.defined() ? t[1] : t);
      }
      return out;
    }
  }
  auto first = [](std::vector<at::Tensor> z) {
    for (auto& t : z) {
      if (t.defined()) t = t[0];
    }
    return z;
  };
  out.with = first(headOutputsAt(model, with, atWith));
  out.without = first(headOutputsAt(model, without, atWithout));
  return out;
}

double meanOf(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double sampleStd(const std::vector<double>& v) {
  const double m = meanOf(v);
  double sum = 0.0;
  for (double x : v) sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(v.size() - 1));
}

double medianOf(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<int> checkedLayers(const std::vector<int>& wanted, int nLayers) {
  std::set<int> layers;
  for (int l : wanted) {
    if (l < 0 || l >= nLayers) {
      throw ConfigError("head divergence: layer " + std::to_string(l) +
                        " does not exist; the model has layers 0 to " +
                        std::to_string(nLayers - 1));
    }
    layers.insert(l);
  }
  return {layers.begin(), layers.end()};
}

void checkTokens(const at::Tensor& tokens, int64_t vocab, const std::string& which) {
  if (!tokens.defined() || tokens.dim() != 2 || tokens.size(0) != 1 || tokens.size(1) == 0) {
    throw ConfigError("per-token head divergence continues token prompts: the " + which +
                      " branch needs one row of token ids");
  }
  if (tokens.numel() > 0 &&
      (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= vocab)) {
    throw ConfigError("the " + which + " prompt has a token id outside [0, " +
                      std::to_string(vocab) + ")");
  }
}

at::Tensor appended(const at::Tensor& prompt, const std::vector<int64_t>& tokens, int64_t count) {
  if (count == 0) return prompt;
  const std::vector<int64_t> tail(tokens.begin(), tokens.begin() + count);
  return at::cat({prompt.to(at::kLong).cpu(),
                  torch::tensor(tail, torch::TensorOptions().dtype(at::kLong)).unsqueeze(0)},
                 1);
}

}  // namespace

std::vector<int> defaultDivergenceLayers(int nLayers) {
  std::set<int> layers;
  if (nLayers > 1) layers.insert(1);
  const int last = (7 * nLayers + 15) / 16;  // ceil(7 L / 16)
  for (int l = std::max(0, nLayers - last); l < nLayers; ++l) layers.insert(l);
  return {layers.begin(), layers.end()};
}

LayerSelection selectDivergentHeads(const std::vector<double>& vhd, const std::vector<double>& ta) {
  if (vhd.size() != ta.size()) {
    throw ShapeError("head selection: " + std::to_string(vhd.size()) + " VHD values and " +
                     std::to_string(ta.size()) + " TA values");
  }
  LayerSelection s;
  s.filtered = vhd;
  if (vhd.empty()) return s;
  if (vhd.size() >= 2) {
    const double vhdLimit = meanOf(vhd) + sampleStd(vhd);
    const double taLimit = meanOf(ta) + sampleStd(ta);
    for (std::size_t i = 0; i < vhd.size(); ++i) {
      if (vhd[i] > vhdLimit && ta[i] > taLimit) s.filtered[i] = 0.0;
    }
  }
  const double median = medianOf(s.filtered);
  for (std::size_t i = 0; i < s.filtered.size(); ++i) {
    if (s.filtered[i] > median) s.selected.push_back(static_cast<int>(i));
  }
  return s;
}

HeadDivergenceResult analyseHeadDivergence(models::Transformer& model,
                                           const models::ModelInput& with,
                                           const models::ModelInput& without,
                                           const HeadDivergenceOptions& options,
                                           Progress& progress) {
  const auto& c = model.config();
  expectSingle(with, "with");
  expectSingle(without, "without");
  if (!std::isfinite(options.alpha)) {
    throw ConfigError("head divergence: the reinforcement factor alpha must be a finite number");
  }
  HeadDivergenceResult r;
  r.alpha = options.alpha;
  r.lockstep = options.lockstep;
  r.layers = options.layers.empty() ? defaultDivergenceLayers(c.nLayers)
                                    : checkedLayers(options.layers, c.nLayers);
  const int H = maxHeads(c);
  r.vhd = Eigen::MatrixXd::Constant(c.nLayers, H, kNan);
  r.ta = Eigen::MatrixXd::Constant(c.nLayers, H, kNan);
  r.relativeVhd = Eigen::MatrixXd::Constant(c.nLayers, H, kNan);
  r.filteredVhd = Eigen::MatrixXd::Constant(c.nLayers, H, kNan);
  r.selected = Eigen::MatrixXi::Zero(c.nLayers, H);
  const std::set<int> analysed(r.layers.begin(), r.layers.end());

  c10::InferenceMode guard;
  hooks::MaskSet reinforcement;
  int next = 0;  // the first layer whose VHD is not yet recorded
  while (next < c.nLayers) {
    progress.check();
    progress.setStage("head divergence: layers " + std::to_string(next) + " to " +
                      std::to_string(c.nLayers - 1));
    BranchOutputs z;
    {
      models::AppliedMasks applied(model, reinforcement);
      z = branchOutputs(model, with, without, {-1}, {-1}, r.forwardPasses);
    }
    int layer = next;
    for (; layer < c.nLayers; ++layer) {
      const auto& a = z.with[layer];
      if (!a.defined()) continue;  // skipped attention: no heads to compare
      const auto& b = z.without[layer];
      const auto vhd = (a[0] - b[0]).norm(2, -1).contiguous();  // [H_l]
      const auto ta = b[0].pow(2).sum(-1).contiguous();         // [H_l]
      const int n = static_cast<int>(vhd.size(0));
      std::vector<double> vhdValues(vhd.data_ptr<double>(), vhd.data_ptr<double>() + n);
      std::vector<double> taValues(ta.data_ptr<double>(), ta.data_ptr<double>() + n);
      const double median = medianOf(vhdValues);
      for (int h = 0; h < n; ++h) {
        r.vhd(layer, h) = vhdValues[h];
        r.ta(layer, h) = taValues[h];
        if (median > 0.0) r.relativeVhd(layer, h) = vhdValues[h] / median;
      }
      if (!analysed.count(layer)) continue;
      const auto s = selectDivergentHeads(vhdValues, taValues);
      for (int h = 0; h < n; ++h) r.filteredVhd(layer, h) = s.filtered[h];
      for (int h : s.selected) {
        r.selected(layer, h) = 1;
        r.selectedHeads.push_back({layer, h});
        reinforcement.set(
            {hooks::MaskComponent::Head, layer, h, hooks::AblationMode::Scale, options.alpha});
      }
      // Later layers must see this layer reinforced: measure them in a new pass.
      if (options.lockstep && !s.selected.empty() && options.alpha != 1.0) break;
    }
    next = layer + 1;
    progress.setFraction(static_cast<double>(std::min(next, c.nLayers)) / c.nLayers);
  }
  return r;
}

hooks::MaskSet reinforcementMask(const HeadDivergenceResult& result) {
  hooks::MaskSet masks;
  for (const auto& h : result.selectedHeads) {
    masks.set(
        {hooks::MaskComponent::Head, h.layer, h.head, hooks::AblationMode::Scale, result.alpha});
  }
  return masks;
}

models::ModelInput withoutSegment(const models::ModelInput& with, std::int64_t begin,
                                  std::int64_t end) {
  if (with.pixels.defined()) {
    throw ConfigError(
        "removing a segment is for language models; image models compare with a "
        "blank image");
  }
  const auto& t = mainTensor(with);
  const int64_t T = t.size(1);
  if (begin < 0 || end > T || begin >= end) {
    throw ConfigError("the removed range " + std::to_string(begin) + ":" + std::to_string(end) +
                      " must satisfy 0 <= A < B <= " + std::to_string(T) +
                      " (the input has that many positions)");
  }
  if (begin == 0 && end == T) {
    throw ConfigError("the removed range " + std::to_string(begin) + ":" + std::to_string(end) +
                      " covers the whole input; keep at least one position");
  }
  auto cut = [&](const at::Tensor& x) {
    if (!x.defined()) return x;
    return at::cat({x.narrow(1, 0, begin), x.narrow(1, end, T - end)}, 1);
  };
  return {cut(with.tokens), cut(with.attentionMask), cut(with.embeddings), {}};
}

models::ModelInput blankImage(const models::ModelInput& with, BlankImage kind) {
  if (!with.pixels.defined() || with.pixels.dim() != 4) {
    throw ConfigError("a blank image replaces an image input [batch, channels, height, width]");
  }
  models::ModelInput out;
  out.pixels = kind == BlankImage::Zero
                   ? at::zeros_like(with.pixels)
                   : with.pixels.mean({2, 3}, /*keepdim=*/true).expand_as(with.pixels).clone();
  return out;
}

std::vector<std::int64_t> greedyContinuation(models::Transformer& model,
                                             const models::ModelInput& prompt, int n,
                                             Progress& progress) {
  checkTokens(prompt.tokens, model.config().dVocab, "prompt");
  c10::InferenceMode guard;
  std::vector<int64_t> tokens;
  for (int t = 0; t < n; ++t) {
    progress.check();
    const auto logits = model.forward({appended(prompt.tokens, tokens, t), {}, {}, {}});
    tokens.push_back(logits[0][-1].argmax().item<int64_t>());
    progress.setFraction(static_cast<double>(t + 1) / n);
  }
  return tokens;
}

TokenDivergenceResult analyseTokenDivergence(models::Transformer& model,
                                             const models::ModelInput& with,
                                             const models::ModelInput& without,
                                             const TokenDivergenceOptions& options,
                                             Progress& progress) {
  const auto& c = model.config();
  if (c.head != models::HeadKind::LanguageModel) {
    throw ConfigError(
        "per-token head divergence follows generated tokens: it needs a language "
        "model, this one is a classifier");
  }
  checkTokens(with.tokens, c.dVocab, "with");
  checkTokens(without.tokens, c.dVocab, "without");
  for (const auto* m : {&with.attentionMask, &without.attentionMask}) {
    if (m->defined() && m->eq(0).any().item<bool>()) {
      throw ConfigError("per-token head divergence takes unpadded prompts");
    }
  }
  const bool generate = options.continuation.empty();
  if (generate == (options.generate <= 0)) {
    throw ConfigError(generate ? "per-token head divergence needs a continuation: give tokens "
                                 "or a number of tokens to generate"
                               : "give either a continuation or a number of tokens to "
                                 "generate, not both");
  }
  for (auto id : options.continuation) {
    if (id < 0 || id >= c.dVocab) {
      throw ConfigError("continuation token " + std::to_string(id) + " is outside [0, " +
                        std::to_string(c.dVocab) + ")");
    }
  }
  const int N = generate ? options.generate : static_cast<int>(options.continuation.size());
  const int64_t Pw = with.tokens.size(1), Po = without.tokens.size(1);
  if (c.positions == models::PositionKind::Learned && std::max(Pw, Po) + N - 1 > c.nCtx) {
    throw ConfigError("the prompt (" + std::to_string(std::max(Pw, Po)) + " tokens) and " +
                      std::to_string(N) + " continuation tokens need " +
                      std::to_string(std::max(Pw, Po) + N - 1) + " positions; the model has " +
                      std::to_string(c.nCtx) + ": shorten the prompt or the continuation");
  }
  const int H = maxHeads(c);
  TokenDivergenceResult r;
  r.generated = generate;
  r.topK = options.topK > 0 ? options.topK : std::max(1, H / 8);
  if (r.topK > H) {
    throw ConfigError("top-k of " + std::to_string(r.topK) + " heads per layer, but layers have " +
                      "at most " + std::to_string(H) + " heads");
  }
  c10::InferenceMode guard;
  progress.setStage("per-token head divergence");
  // Per layer [N, H_l, E]: the z that predicts y_t, t = 0..N-1, in each branch.
  std::vector<at::Tensor> zWith, zWithout;
  auto positions = [N](int64_t prompt) {
    std::vector<int64_t> p(static_cast<std::size_t>(N));
    std::iota(p.begin(), p.end(), prompt - 1);
    return p;
  };
  auto stepByStep = [&](const at::Tensor& prompt, bool greedy) {
    std::vector<std::vector<at::Tensor>> steps;
    for (int t = 0; t < N; ++t) {
      progress.check();
      std::vector<at::Tensor> z(static_cast<std::size_t>(c.nLayers));
      {
        hooks::ScopedHooks scope(model.hooks());
        for (int l = 0; l < c.nLayers; ++l) {
          if (c.skipsAttention(l)) continue;
          scope.observe({HookKind::Z, l}, [&z, l](const at::Tensor& x, const auto&) {
            z[l] = x[0][-1].to(at::kDouble).cpu();
          });
        }
        const auto logits = model.forward({appended(prompt, r.tokens, t), {}, {}, {}});
        if (greedy) r.tokens.push_back(logits[0][-1].argmax().item<int64_t>());
      }
      ++r.forwardPasses;
      steps.push_back(std::move(z));
      progress.setFraction(0.5 * (t + 1) / N);
    }
    std::vector<at::Tensor> out(static_cast<std::size_t>(c.nLayers));
    for (int l = 0; l < c.nLayers; ++l) {
      if (c.skipsAttention(l)) continue;
      std::vector<at::Tensor> rows;
      for (const auto& s : steps) rows.push_back(s[l]);
      out[l] = at::stack(rows);
    }
    return out;
  };
  // A causal model's z at position p depends on tokens <= p only: one pass over the whole
  // continuation gives every step's value.
  auto onePass = [&](const at::Tensor& prompt) {
    progress.check();
    auto z = headOutputsAt(model, {appended(prompt, r.tokens, N - 1), {}, {}, {}},
                           positions(prompt.size(1)));
    ++r.forwardPasses;
    for (auto& t : z) {
      if (t.defined()) t = t[0];
    }
    return z;
  };
  if (generate) {
    zWith = stepByStep(with.tokens, true);
  } else {
    r.tokens = options.continuation;
    zWith = c.causal ? onePass(with.tokens) : stepByStep(with.tokens, false);
  }
  zWithout = c.causal ? onePass(without.tokens) : stepByStep(without.tokens, false);

  for (int t = 0; t < N; ++t) {
    Eigen::MatrixXd vhd = Eigen::MatrixXd::Constant(c.nLayers, H, kNan);
    Eigen::MatrixXi top = Eigen::MatrixXi::Zero(c.nLayers, H);
    double total = 0.0;
    for (int l = 0; l < c.nLayers; ++l) {
      if (!zWith[l].defined()) continue;
      const auto d = (zWith[l][t] - zWithout[l][t]).norm(2, -1).contiguous();  // [H_l]
      const int n = static_cast<int>(d.size(0));
      std::vector<int> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      const auto* v = d.data_ptr<double>();
      for (int h = 0; h < n; ++h) vhd(l, h) = v[h];
      std::stable_sort(order.begin(), order.end(), [v](int a, int b) { return v[a] > v[b]; });
      for (int i = 0; i < std::min(r.topK, n); ++i) {
        top(l, order[i]) = 1;
        total += v[order[i]];
      }
    }
    r.vhd.push_back(std::move(vhd));
    r.inTopK.push_back(std::move(top));
    r.tokenDivergence.push_back(total);
  }
  progress.setFraction(1.0);
  return r;
}

}  // namespace cs::analysis
