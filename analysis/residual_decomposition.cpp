// Residual path decomposition. One forward pass with observers gathers every path's output at
// the read sites only (never whole [B, T, D] tensors for language models); DLA and the views
// are then computed from those gathered vectors. Head results are formed from hook_z at the
// sites (z W_O^(i)), which is far cheaper than hooking hook_result at every position.
#include "analysis/residual_decomposition.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/hook_registry.h"
#include "models/layers.h"

namespace cs::analysis {

using hooks::HookKind;
using models::HeadKind;
using models::NormKind;

namespace {

int64_t batchOf(const models::ModelInput& input) {
  for (const auto* t : {&input.tokens, &input.embeddings, &input.pixels}) {
    if (t->defined()) return t->size(0);
  }
  throw ShapeError("residual decomposition: the input has neither tokens nor pixels");
}

bool pooledReadout(const models::TransformerConfig& config) {
  return config.head == HeadKind::Classifier && config.input == models::InputKind::Patches &&
         !config.classToken;
}

std::string normName(NormKind kind) {
  switch (kind) {
    case NormKind::LayerNorm:
      return "layer_norm";
    case NormKind::RmsNorm:
      return "rms_norm";
    case NormKind::None:
      break;
  }
  return "none";
}

// x [B, T, ...] at the sites: [S, 1, ...], or x itself when every position is pooled.
at::Tensor gatherSites(const at::Tensor& x, const ReadSites& sites) {
  if (!sites.positions.defined()) return x;
  auto sizes = x.sizes().vec();
  const int64_t T = sizes[1];
  sizes.erase(sizes.begin());
  sizes[0] = x.size(0) * T;
  const auto flat = sites.rows.to(x.device()) * T + sites.positions.to(x.device());
  return x.reshape(sizes).index_select(0, flat).unsqueeze(1);
}

std::vector<ResidualPath> pathList(const models::TransformerConfig& config) {
  std::vector<ResidualPath> paths{{"embed", -1, 0, false}};
  for (int l = 0; l < config.nLayers; ++l) {
    paths.push_back({"attn " + std::to_string(l), l, 2 * l + 1, config.skipsAttention(l)});
    paths.push_back({"mlp " + std::to_string(l), l, 2 * l + 2, config.skipsMlp(l)});
  }
  return paths;
}

int maxHeadsOf(const models::TransformerConfig& config) {
  return config.nHeads.empty() ? 0 : *std::max_element(config.nHeads.begin(), config.nHeads.end());
}

void checkOutputId(int64_t id, int64_t V, const std::string& what) {
  if (id < 0 || id >= V) {
    throw ConfigError(what + " " + std::to_string(id) + " is outside the model's outputs [0, " +
                      std::to_string(V) + ")");
  }
}

// One value per site from a per-example list of 1 or S values.
at::Tensor perSite(const std::vector<int64_t>& values, int64_t S, const std::string& what) {
  if (values.size() != 1 && static_cast<int64_t>(values.size()) != S) {
    throw ConfigError("give one " + what + " for every example (" + std::to_string(S) +
                      ") or one for all; got " + std::to_string(values.size()));
  }
  auto t = at::tensor(values, at::kLong);
  return values.size() == 1 ? t.expand({S}).contiguous() : t;
}

// The best output other than `exclude` [S].
at::Tensor runnerUp(const at::Tensor& logits, const at::Tensor& exclude) {
  auto masked = logits.to(at::kDouble).clone();
  masked.scatter_(1, exclude.to(logits.device()).unsqueeze(1),
                  -std::numeric_limits<double>::infinity());
  return masked.argmax(1).cpu();
}

struct Directions {
  at::Tensor answers;  // [S] int64, CPU
  at::Tensor foils;    // [S] int64, CPU; -1 = none
};

Directions chooseDirections(const at::Tensor& logits, const DecompositionOptions& options) {
  const int64_t S = logits.size(0), V = logits.size(1);
  Directions d;
  d.answers =
      options.answers.empty() ? logits.argmax(1).cpu() : perSite(options.answers, S, "answer");
  for (int64_t s = 0; s < S; ++s) checkOutputId(d.answers[s].item<int64_t>(), V, "answer");
  if (options.answerOnly) {
    if (!options.foils.empty()) throw ConfigError("a foil was given with answer-only DLA");
    d.foils = at::full({S}, -1, at::kLong);
  } else if (!options.foils.empty()) {
    d.foils = perSite(options.foils, S, "foil");
  } else {
    if (V < 2) {
      throw ConfigError(
          "the model has a single output, so there is no runner-up to use as the "
          "foil; use answer-only DLA");
    }
    d.foils = runnerUp(logits, d.answers);
  }
  const auto* a = d.answers.data_ptr<int64_t>();
  const auto* f = d.foils.data_ptr<int64_t>();
  for (int64_t s = 0; s < S; ++s) {
    if (f[s] == -1 && options.answerOnly) continue;
    checkOutputId(f[s], V, "foil");
    if (f[s] == a[s]) {
      throw ConfigError("the foil must differ from the answer (both are " + std::to_string(a[s]) +
                        ")");
    }
  }
  return d;
}

// Columns `ids` of W_U [D, V] as rows [S, D]. Tied models hold W_U as a transposed view of
// W_E, where index_select along the vocabulary axis would first copy the whole matrix.
at::Tensor unembedRows(const at::Tensor& W_U, const at::Tensor& ids) {
  const auto rows = W_U.t();  // [V, D]
  const auto i = ids.to(W_U.device());
  return rows.is_contiguous() ? rows.index_select(0, i) : W_U.index_select(1, i).t();
}

// sigma_f [S, R, 1] float64, as the final norm computes it (1 without a norm).
at::Tensor finalNormScale(const models::Transformer& model, const at::Tensor& finalResidual) {
  const auto& config = model.config();
  const auto h = finalResidual.to(at::kDouble);
  switch (config.norm) {
    case NormKind::LayerNorm:
      return at::sqrt(h.var(-1, /*unbiased=*/false, /*keepdim=*/true) + config.normEps);
    case NormKind::RmsNorm: {
      // The very scale the clean run used: the model computes RMSNorm in float32 (as Llama).
      const auto x32 = finalResidual.to(at::kFloat);
      return 1.0 /
             at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + config.normEps).to(at::kDouble);
    }
    case NormKind::None:
      break;
  }
  return at::ones({h.size(0), h.size(1), 1}, h.options());
}

// u^T logits per site [S] (float64).
at::Tensor directionLogits(const at::Tensor& logits, const at::Tensor& answers,
                           const at::Tensor& foils) {
  const auto l = logits.to(at::kDouble).cpu();
  auto out = l.gather(1, answers.unsqueeze(1)).squeeze(1);
  const auto present = foils.ge(0);
  const auto f = l.gather(1, foils.clamp_min(0).unsqueeze(1)).squeeze(1);
  return out - f * present.to(at::kDouble);
}

Eigen::VectorXd toVector(const at::Tensor& t) {
  const auto c = t.to(at::kDouble).cpu().contiguous();
  Eigen::VectorXd v(c.numel());
  std::copy_n(c.data_ptr<double>(), c.numel(), v.data());
  return v;
}

// The residuals of the three path views, per path p: lens (sum of paths up to p), solo (c_p)
// and leave-one-out (h_L - c_p), in that order: [3 P] tensors [S, R, D].
std::vector<at::Tensor> viewResiduals(const std::vector<at::Tensor>& ordered,
                                      const at::Tensor& finalResidual) {
  std::vector<at::Tensor> out;
  at::Tensor cumulative;
  for (std::size_t p = 0; p < ordered.size(); ++p) {
    const auto& c = ordered[p];
    cumulative = p == 0 ? c : cumulative + c;
    out.push_back(cumulative);
    out.push_back(c);
    out.push_back(finalResidual - c);
  }
  return out;
}

// Reads out many residuals [S, R, D] with as few unembedding GEMMs as memory allows (one
// readout per residual would stream W_U once per path: slow for large vocabularies), and calls
// use(i, logits [S, V]) for each.
template <typename Use>
void readoutMany(const models::Transformer& model, const std::vector<at::Tensor>& residuals,
                 Progress& progress, Use&& use) {
  if (residuals.empty()) return;
  const int64_t S = residuals.front().size(0);
  const int64_t V = model.config().dOutput();
  const int64_t perGroup =
      std::max<int64_t>(1, (int64_t{1} << 25) / std::max<int64_t>(1, S * std::max<int64_t>(V, 1)));
  const auto n = static_cast<int64_t>(residuals.size());
  for (int64_t begin = 0; begin < n; begin += perGroup) {
    progress.check();
    const int64_t count = std::min(perGroup, n - begin);
    const std::vector<at::Tensor> group(residuals.begin() + begin,
                                        residuals.begin() + begin + count);
    const auto logits = readoutSites(model, at::cat(group, 0));  // [count S, V]
    for (int64_t i = 0; i < count; ++i) use(begin + i, logits.narrow(0, i * S, S));
    progress.setFraction(static_cast<double>(begin + count) / static_cast<double>(n));
  }
}

// The sites a dataset batch scores, with their targets (and foils).
struct ScoredSites {
  ReadSites sites;
  at::Tensor targets;  // [S] int64, CPU
  at::Tensor foils;    // [S] int64, CPU, or undefined
};

ScoredSites scoredSites(const data::EvalBatch& batch, const models::TransformerConfig& config,
                        const models::ModelInput& input) {
  ScoredSites out;
  if (batch.lossMask.defined()) {
    // Logits at t - 1 predict the token at t wherever the mask marks t.
    const auto T = batch.tokens.size(1);
    const auto marked = batch.lossMask.cpu().narrow(1, 1, T - 1).nonzero();  // [S, 2]
    out.sites.rows = marked.select(1, 0).contiguous();
    out.sites.positions = marked.select(1, 1).contiguous();
    const auto next = out.sites.rows * T + out.sites.positions + 1;
    out.targets = batch.tokens.cpu().reshape({-1}).index_select(0, next);
    return out;
  }
  if (batch.scorePositions.defined()) {
    const auto B = batch.scorePositions.size(0);
    out.sites.rows = at::arange(B, at::kLong);
    out.sites.positions = batch.scorePositions.cpu().to(at::kLong);
  } else {
    out.sites = defaultReadSites(config, input);
  }
  out.targets = batch.targets.cpu().to(at::kLong);
  if (batch.foils.defined()) out.foils = batch.foils.cpu().to(at::kLong);
  return out;
}

// Correct top-1 predictions of residuals [S, R, D] against targets [S], in slices that keep
// the [slice, V] logits small.
int64_t correctCount(const models::Transformer& model, const at::Tensor& residual,
                     const at::Tensor& targets) {
  const int64_t S = residual.size(0);
  const int64_t V = model.config().dOutput();
  const int64_t slice = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(V, 1));
  int64_t correct = 0;
  for (int64_t begin = 0; begin < S; begin += slice) {
    const int64_t n = std::min(slice, S - begin);
    const auto logits = readoutSites(model, residual.narrow(0, begin, n));
    correct += logits.argmax(1).cpu().eq(targets.narrow(0, begin, n)).sum().item<int64_t>();
  }
  return correct;
}

void greedyPrune(const models::Transformer& model, const at::Tensor& stacked,
                 const at::Tensor& targets, PathAccuracyResult& result, Progress& progress) {
  progress.setStage("path pruning");
  const int64_t P = stacked.size(0);
  const double n = static_cast<double>(targets.size(0));
  std::vector<bool> kept(static_cast<std::size_t>(P), true);
  auto total = stacked[0].clone();
  for (int64_t p = 1; p < P; ++p) total = total + stacked[p];
  int64_t correct = correctCount(model, total, targets);
  result.pruned = true;
  result.pruningAccuracy.push_back(static_cast<double>(correct) / n);
  for (;;) {
    int64_t best = -1, bestCorrect = correct;
    for (int64_t p = 0; p < P; ++p) {
      progress.check();
      if (!kept[static_cast<std::size_t>(p)]) continue;
      const auto c = correctCount(model, total - stacked[p], targets);
      if (c > bestCorrect) {  // strictly better: the loop ends
        best = p;
        bestCorrect = c;
      }
    }
    if (best < 0) break;
    total = total - stacked[best];
    kept[static_cast<std::size_t>(best)] = false;
    correct = bestCorrect;
    result.prunedPaths.push_back(static_cast<int>(best));
    result.pruningAccuracy.push_back(static_cast<double>(correct) / n);
  }
}

}  // namespace

std::vector<at::Tensor> ResidualPaths::ordered() const {
  std::vector<at::Tensor> out{embed};
  for (std::size_t l = 0; l < attn.size(); ++l) {
    out.push_back(attn[l]);
    out.push_back(mlp[l]);
  }
  return out;
}

ReadSites defaultReadSites(const models::TransformerConfig& config, const models::ModelInput& input,
                           std::int64_t position) {
  const int64_t B = batchOf(input);
  ReadSites sites;
  sites.rows = at::arange(B, at::kLong);
  if (config.head == HeadKind::Classifier) {
    if (position >= 0) {
      throw ConfigError(
          "classifiers read their class token (or pool the patches); a read "
          "position is for language models");
    }
    if (!pooledReadout(config)) sites.positions = at::zeros({B}, at::kLong);
    return sites;
  }
  const auto& seq = input.tokens.defined() ? input.tokens : input.embeddings;
  if (!seq.defined() || seq.dim() < 2) {
    throw ShapeError("a language model reads token ids [batch, pos]");
  }
  const int64_t T = seq.size(1);
  if (position >= T) {
    throw ConfigError("read position " + std::to_string(position) + " is past the input's " +
                      std::to_string(T) + " positions");
  }
  if (!input.attentionMask.defined()) {
    sites.positions = at::full({B}, position >= 0 ? position : T - 1, at::kLong);
    return sites;
  }
  const auto valid = input.attentionMask.cpu().ne(0);  // [B, T]
  if (valid.sizes() != at::IntArrayRef({B, T})) {
    throw ShapeError("attention mask: expected " + shapeText({B, T}) + ", got " +
                     shapeText(valid.sizes()));
  }
  const auto realCount = valid.sum(1);
  for (int64_t b = 0; b < B; ++b) {
    if (realCount[b].item<int64_t>() == 0) {
      throw ConfigError("row " + std::to_string(b) + " is all padding: nothing to read");
    }
  }
  if (position >= 0) {
    const auto there = valid.select(1, position);
    for (int64_t b = 0; b < B; ++b) {
      if (!there[b].item<bool>()) {
        throw ConfigError("read position " + std::to_string(position) + " is padding in row " +
                          std::to_string(b) + "; pick a real token or leave the default");
      }
    }
    sites.positions = at::full({B}, position, at::kLong);
    return sites;
  }
  // The last real token: the largest index whose mask is set (left or right padding alike).
  const auto index = at::arange(T, at::kLong).unsqueeze(0).expand({B, T});
  sites.positions = at::where(valid, index, at::full_like(index, -1)).amax(1);
  return sites;
}

ResidualPaths captureResidualPaths(models::Transformer& model, const models::ModelInput& input,
                                   const ReadSites& sites, bool withHeads) {
  c10::InferenceMode guard;
  const auto& config = model.config();
  const int L = config.nLayers;
  ResidualPaths paths;
  paths.attn.resize(L);
  paths.mlp.resize(L);
  paths.z.resize(L);
  at::Tensor tokenEmbed, posEmbed;
  hooks::ScopedHooks scope(model.hooks());
  auto keep = [&sites](at::Tensor& into) {
    return [&into, &sites](const at::Tensor& x, const hooks::HookPoint&) {
      into = gatherSites(x, sites);
    };
  };
  if (L > 0) {
    scope.observe({HookKind::ResidPre, 0}, keep(paths.embed));
    scope.observe({HookKind::ResidPost, L - 1}, keep(paths.finalResidual));
  } else {
    // No block: h_0 is the final residual. Gathering each term and adding them is the same
    // elementwise sum the forward pass does.
    scope.observe({HookKind::Embed, -1}, keep(tokenEmbed));
    if (config.positions == models::PositionKind::Learned) {
      scope.observe({HookKind::PosEmbed, -1}, keep(posEmbed));
    }
  }
  for (int l = 0; l < L; ++l) {
    if (!config.skipsAttention(l)) {
      scope.observe({HookKind::AttnOut, l}, keep(paths.attn[l]));
      if (withHeads && config.nHeads[l] > 0) scope.observe({HookKind::Z, l}, keep(paths.z[l]));
    }
    if (!config.skipsMlp(l)) scope.observe({HookKind::MlpOut, l}, keep(paths.mlp[l]));
  }
  const auto logits = model.forward(input);
  if (L == 0) {
    paths.embed = posEmbed.defined() ? tokenEmbed + posEmbed : tokenEmbed;
    paths.finalResidual = paths.embed;
  }
  for (int l = 0; l < L; ++l) {
    if (!paths.attn[l].defined()) paths.attn[l] = at::zeros_like(paths.embed);
    if (!paths.mlp[l].defined()) paths.mlp[l] = at::zeros_like(paths.embed);
  }
  if (logits.dim() == 3) {
    paths.logits = gatherSites(logits, sites).squeeze(1);
  } else {
    paths.logits = logits.index_select(0, sites.rows.to(logits.device()));
  }
  return paths;
}

at::Tensor unembedDirections(const models::Transformer& model, const at::Tensor& answers,
                             const at::Tensor& foils) {
  const auto& W_U = model.weights().W_U;  // [D, V]
  auto g = unembedRows(W_U, answers).to(at::kDouble);
  if (foils.defined()) {
    const auto f = foils.to(W_U.device());
    const auto present = f.ge(0).to(at::kDouble).unsqueeze(1);
    g = g - unembedRows(W_U, f.clamp_min(0)).to(at::kDouble) * present;
  }
  return g;
}

at::Tensor dlaReadVectors(const models::Transformer& model, const at::Tensor& finalResidual,
                          const at::Tensor& answers, const at::Tensor& foils) {
  const auto& config = model.config();
  auto g = unembedDirections(model, answers, foils).to(finalResidual.device());  // [S, D]
  if (config.hasNormWeights()) g = g * model.weights().lnFinal.weight.to(at::kDouble);
  // LayerNorm subtracts the mean: (c - mean c) . g == c . (g - mean g).
  if (config.norm == NormKind::LayerNorm) g = g - g.mean(-1, /*keepdim=*/true);
  const auto sigma = finalNormScale(model, finalResidual);  // [S, R, 1]
  return g.unsqueeze(1) / sigma;                            // [S, R, D]
}

at::Tensor dlaConstant(const models::Transformer& model, const at::Tensor& answers,
                       const at::Tensor& foils) {
  const auto& config = model.config();
  const auto& w = model.weights();
  auto out = at::zeros({answers.size(0)}, at::kDouble);
  if (config.norm == NormKind::LayerNorm && w.lnFinal.bias.defined()) {
    const auto g = unembedDirections(model, answers, foils);
    out = out + g.matmul(w.lnFinal.bias.to(at::kDouble)).cpu();
  }
  if (w.b_U.defined()) {
    const auto b = w.b_U.to(at::kDouble).cpu();
    out = out + b.index_select(0, answers.cpu());
    if (foils.defined()) {
      const auto f = foils.cpu();
      out = out - b.index_select(0, f.clamp_min(0)) * f.ge(0).to(at::kDouble);
    }
  }
  return out;
}

at::Tensor directAttribution(const at::Tensor& contribution, const at::Tensor& readVectors) {
  return (contribution.to(at::kDouble) * readVectors).sum(-1).mean(-1);
}

at::Tensor headAttribution(const models::Transformer& model, int layer, const at::Tensor& z,
                           const at::Tensor& readVectors) {
  const auto W_O = model.weights().blocks[layer].attn.W_O.to(at::kDouble);  // [H, E, D]
  // r_{l,i} . w = z_i . (W_O^(i) w): contract D first, so no [S, R, H, D] tensor is built.
  const auto back = at::einsum("hed,srd->srhe", {W_O, readVectors});
  return (z.to(at::kDouble) * back).sum(-1).mean(1);  // [S, H]
}

at::Tensor readoutSites(const models::Transformer& model, const at::Tensor& residual) {
  auto logits = model.readout(residual.to(model.dtype()));
  if (logits.dim() == 3) logits = logits.select(1, 0);  // language models: R == 1
  return logits;
}

ResidualDecompositionResult analyseResidualDecomposition(models::Transformer& model,
                                                         const models::ModelInput& input,
                                                         const DecompositionOptions& options,
                                                         Progress& progress) {
  c10::InferenceMode guard;
  const auto& config = model.config();
  ResidualDecompositionResult result;
  result.paths = pathList(config);
  result.norm = normName(config.norm);
  result.maxHeads = maxHeadsOf(config);
  if (config.head == HeadKind::Classifier) {
    result.readout = pooledReadout(config)
                         ? "mean over " + std::to_string(config.nPatches()) + " patches"
                         : "class token";
  } else {
    result.readout =
        options.position >= 0 ? "position " + std::to_string(options.position) : "last real token";
  }

  progress.setStage("decomposition: forward pass");
  const auto sites = defaultReadSites(config, input, options.position);
  const auto paths = captureResidualPaths(model, input, sites, options.perHead);
  const int64_t S = paths.logits.size(0);
  const auto dir = chooseDirections(paths.logits, options);
  const auto w = dlaReadVectors(model, paths.finalResidual, dir.answers, dir.foils);
  const auto constant = dlaConstant(model, dir.answers, dir.foils);
  const auto target = directionLogits(paths.logits, dir.answers, dir.foils);
  const auto ordered = paths.ordered();
  const auto P = static_cast<int64_t>(ordered.size());

  result.answers.assign(dir.answers.data_ptr<int64_t>(), dir.answers.data_ptr<int64_t>() + S);
  result.foils.assign(dir.foils.data_ptr<int64_t>(), dir.foils.data_ptr<int64_t>() + S);
  if (sites.positions.defined()) {
    const auto pos = sites.positions.cpu().contiguous();
    result.positions.assign(pos.data_ptr<int64_t>(), pos.data_ptr<int64_t>() + S);
  } else {
    result.positions.assign(static_cast<std::size_t>(S), -1);
  }
  result.directionLogit = toVector(target);
  result.constant = toVector(constant);
  result.finalScale = toVector(finalNormScale(model, paths.finalResidual).squeeze(-1).mean(-1));

  result.dla.resize(S, P);
  auto magnitude = constant.abs();
  for (int64_t p = 0; p < P; ++p) {
    const auto d = directAttribution(ordered[static_cast<std::size_t>(p)], w).cpu();
    result.dla.col(p) = toVector(d);
    magnitude = magnitude + d.abs();
  }
  const Eigen::VectorXd total = toVector(constant) + result.dla.rowwise().sum();
  const Eigen::VectorXd scale = toVector(magnitude);
  for (int64_t s = 0; s < S; ++s) {
    const double err = std::abs(total(s) - result.directionLogit(s));
    result.completenessError =
        std::max(result.completenessError, scale(s) > 0 ? err / scale(s) : err);
  }
  // The paths added in the forward pass's order reproduce h_L bit for bit.
  auto sum = ordered.front().clone();
  for (std::size_t p = 1; p < ordered.size(); ++p) sum = sum + ordered[p];
  result.decompositionError =
      (sum.to(at::kDouble) - paths.finalResidual.to(at::kDouble)).abs().max().item<double>();

  if (options.perHead) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    result.headDla.assign(static_cast<std::size_t>(S),
                          Eigen::MatrixXd::Constant(config.nLayers, result.maxHeads, nan));
    result.biasDla = Eigen::MatrixXd::Zero(S, config.nLayers);
    for (int l = 0; l < config.nLayers; ++l) {
      if (config.skipsAttention(l)) continue;
      if (paths.z[static_cast<std::size_t>(l)].defined()) {
        const auto heads =
            headAttribution(model, l, paths.z[static_cast<std::size_t>(l)], w).cpu().contiguous();
        for (int64_t s = 0; s < S; ++s) {
          for (int h = 0; h < config.nHeads[l]; ++h) {
            result.headDla[static_cast<std::size_t>(s)](l, h) = heads[s][h].item<double>();
          }
        }
      }
      const auto& b_O = model.weights().blocks[l].attn.b_O;
      if (b_O.defined()) {
        result.biasDla.col(l) = toVector((w * b_O.to(at::kDouble).to(w.device())).sum(-1).mean(-1));
      }
    }
  }

  if (options.views) {
    progress.setStage("decomposition: path views");
    result.hasViews = true;
    result.lens.resize(S, P);
    result.solo.resize(S, P);
    result.leaveOneOut.resize(S, P);
    result.lensTop.resize(S, P);
    result.soloTop.resize(S, P);
    result.leaveOneOutTop.resize(S, P);
    auto record = [&](Eigen::MatrixXd& value, Eigen::MatrixXi& top, int64_t p,
                      const at::Tensor& logits) {
      value.col(p) = toVector(directionLogits(logits, dir.answers, dir.foils));
      const auto best = logits.argmax(1).cpu();
      for (int64_t s = 0; s < S; ++s) top(s, p) = static_cast<int>(best[s].item<int64_t>());
    };
    readoutMany(model, viewResiduals(ordered, paths.finalResidual), progress,
                [&](int64_t i, const at::Tensor& logits) {
                  const int64_t p = i / 3;
                  switch (i % 3) {
                    case 0:
                      record(result.lens, result.lensTop, p, logits);
                      break;
                    case 1:
                      record(result.solo, result.soloTop, p, logits);
                      break;
                    default:
                      record(result.leaveOneOut, result.leaveOneOutTop, p, logits);
                  }
                });
  }
  return result;
}

PathAccuracyResult analysePathAccuracy(models::Transformer& model, const data::Dataset& dataset,
                                       const PathAccuracyOptions& options, Progress& progress) {
  if (options.batchSize <= 0) throw ConfigError("path accuracy: batch size must be positive");
  c10::InferenceMode guard;
  const auto& config = model.config();
  const int L = config.nLayers;
  PathAccuracyResult result;
  result.dataset = dataset.describe();
  result.paths = pathList(config);
  result.maxHeads = maxHeadsOf(config);
  const auto P = static_cast<int64_t>(result.paths.size());
  const int64_t V = config.dOutput();
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();

  Eigen::VectorXd lens = Eigen::VectorXd::Zero(P), solo = lens, loo = lens, delta = lens,
                  dla = lens;
  Eigen::MatrixXd heads = Eigen::MatrixXd::Zero(L, result.maxHeads);
  Eigen::VectorXd bias = Eigen::VectorXd::Zero(L);
  double correct = 0, constantSum = 0, directionSum = 0;
  std::vector<at::Tensor> stacks, targetList;
  double keptBytes = 0;
  constexpr double kPruneBudget = 2.0 * (1 << 30);

  progress.setStage("path accuracy on " + result.dataset);
  for (std::int64_t begin = 0; begin < rows; begin += options.batchSize) {
    progress.check();
    const auto batch = dataset.batch(begin, std::min(options.batchSize, rows - begin));
    const models::ModelInput input{batch.tokens, batch.attentionMask, {}, batch.pixels};
    const auto scored = scoredSites(batch, config, input);
    const int64_t S = scored.sites.rows.size(0);
    if (S == 0) continue;
    const auto paths = captureResidualPaths(model, input, scored.sites, options.perHead);
    const auto& targets = scored.targets;
    const auto range = at::aminmax(targets);
    if (std::get<0>(range).item<int64_t>() < 0 || std::get<1>(range).item<int64_t>() >= V) {
      throw ConfigError("the dataset's targets do not fit the model's " + std::to_string(V) +
                        " outputs; is it the dataset for this model?");
    }
    const auto foils = scored.foils.defined() ? scored.foils : runnerUp(paths.logits, targets);
    correct += paths.logits.argmax(1).cpu().eq(targets).sum().item<double>();
    const auto w = dlaReadVectors(model, paths.finalResidual, targets, foils);
    constantSum += dlaConstant(model, targets, foils).sum().item<double>();
    directionSum += directionLogits(paths.logits, targets, foils).sum().item<double>();
    const auto reference =
        directionLogits(readoutSites(model, paths.finalResidual), targets, foils);
    const auto ordered = paths.ordered();
    auto hits = [&targets](const at::Tensor& logits) {
      return logits.argmax(1).cpu().eq(targets).sum().item<double>();
    };
    for (int64_t p = 0; p < P; ++p) {
      dla(p) += directAttribution(ordered[static_cast<std::size_t>(p)], w).sum().item<double>();
    }
    Progress inner;  // the views' fraction is not this loop's
    readoutMany(model, viewResiduals(ordered, paths.finalResidual), inner,
                [&](int64_t i, const at::Tensor& logits) {
                  const int64_t p = i / 3;
                  if (i % 3 == 0) lens(p) += hits(logits);
                  if (i % 3 == 1) solo(p) += hits(logits);
                  if (i % 3 == 2) {
                    loo(p) += hits(logits);
                    delta(p) +=
                        (directionLogits(logits, targets, foils) - reference).sum().item<double>();
                  }
                });
    if (options.perHead) {
      for (int l = 0; l < L; ++l) {
        const auto& z = paths.z[static_cast<std::size_t>(l)];
        if (z.defined()) {
          const auto sums = headAttribution(model, l, z, w).sum(0).cpu();
          for (int h = 0; h < config.nHeads[l]; ++h) heads(l, h) += sums[h].item<double>();
        }
        const auto& b_O = model.weights().blocks[l].attn.b_O;
        if (b_O.defined() && !config.skipsAttention(l)) {
          bias(l) += (w * b_O.to(at::kDouble).to(w.device())).sum(-1).mean(-1).sum().item<double>();
        }
      }
    }
    if (options.prune) {
      auto stacked = at::stack(ordered);  // [P, S, R, D]
      keptBytes += static_cast<double>(stacked.numel() * stacked.element_size());
      if (keptBytes > kPruneBudget) {
        throw ConfigError("path pruning keeps every scored site's path outputs in memory, and " +
                          std::to_string(result.predictions + S) +
                          " sites already need more than 2 GiB; evaluate fewer rows (a limit)");
      }
      stacks.push_back(std::move(stacked));
      targetList.push_back(targets);
    }
    result.predictions += S;
    progress.setFraction(static_cast<double>(std::min(begin + options.batchSize, rows)) /
                         static_cast<double>(rows));
  }
  if (result.predictions == 0) {
    throw ConfigError("the dataset " + result.dataset + " scored nothing; give more rows");
  }
  const double n = static_cast<double>(result.predictions);
  result.accuracy = correct / n;
  result.lensAccuracy = lens / n;
  result.soloAccuracy = solo / n;
  result.leaveOneOutAccuracy = loo / n;
  result.leaveOneOutDelta = delta / n;
  result.meanDla = dla / n;
  result.meanConstant = constantSum / n;
  result.meanDirectionLogit = directionSum / n;
  result.meanBiasDla = bias / n;
  if (options.perHead) {
    result.meanHeadDla = heads / n;
    for (int l = 0; l < L; ++l) {
      for (int h = config.nHeads[l]; h < result.maxHeads; ++h) {
        result.meanHeadDla(l, h) = std::numeric_limits<double>::quiet_NaN();
      }
    }
  }
  if (options.prune) {
    greedyPrune(model, at::cat(stacks, 1), at::cat(targetList), result, progress);
  }
  progress.setFraction(1.0);
  return result;
}

}  // namespace cs::analysis
