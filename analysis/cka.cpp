// Linear CKA: the three estimators on plain matrices, and the pass over a dataset that fills
// the all-pairs matrix of chosen hooks. Everything past the forward pass runs in float64.
#include "analysis/cka.h"

#include "core/torch_api.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/hook_registry.h"
#include "hooks/position_selection.h"

namespace cs::analysis {

namespace {

// A representation whose centred squared norm is below this fraction of its raw squared norm
// does not vary over the samples (float32 rounding alone is ~1e-14 of it): CKA is undefined.
constexpr double kConstantRatio = 1e-12;
// The feature form holds p x q (and p x p, q x q) products in float64: 64 Mi entries, 512 MiB.
constexpr std::int64_t kMaxFeatureProduct = std::int64_t{1} << 26;
// Columns per chunk when forming Grams from stored representations (float64 copies of
// n x chunk stay near 128 MiB).
constexpr std::int64_t kChunkElements = std::int64_t{1} << 24;

void checkMatrices(const at::Tensor& x, const at::Tensor& y, std::int64_t minRows) {
  for (const auto* t : {&x, &y}) {
    if (!t->defined() || t->dim() != 2) {
      throw ShapeError("CKA takes matrices [samples, features]; got " +
                       (t->defined() ? shapeText(t->sizes()) : std::string("nothing")));
    }
  }
  if (x.size(0) != y.size(0)) {
    throw ConfigError("CKA compares representations of the same samples: x has " +
                      std::to_string(x.size(0)) + " rows, y has " + std::to_string(y.size(0)));
  }
  if (x.size(0) < minRows) {
    throw ConfigError("CKA needs at least " + std::to_string(minRows) + " samples, got " +
                      std::to_string(x.size(0)));
  }
}

at::Tensor centerColumns(const at::Tensor& x) {
  const auto d = x.to(at::kDouble);
  return d - d.mean(0, true);
}

bool varies(double centredSq, double rawSq) {
  return rawSq > 0.0 && centredSq > kConstantRatio * rawSq;
}

bool varies(const at::Tensor& x, const at::Tensor& centred) {
  return varies(centred.pow(2).sum().item<double>(), x.to(at::kDouble).pow(2).sum().item<double>());
}

void checkFeatureProduct(std::int64_t p, std::int64_t q) {
  if (p * q > kMaxFeatureProduct || p * p > kMaxFeatureProduct || q * q > kMaxFeatureProduct) {
    throw ConfigError("the feature form of CKA needs " + std::to_string(std::max(p, q)) + " x " +
                      std::to_string(std::max(p, q)) +
                      " products, too large to hold; use the Gram form (or fewer positions)");
  }
}

// The diagonal-free Gram and what unbiased HSIC needs of it: all pairs of a set of Grams give
// HSIC_u(i, j) = (<K̃_i, K̃_j> + s_i s_j / ((n-1)(n-2)) - 2 r_i·r_j / (n-2)) / (n(n-3)).
struct HsicTerms {
  at::Tensor flat;   // [n n] K̃ flattened
  at::Tensor rows;   // [n] K̃ 1
  at::Tensor total;  // [] 1ᵀ K̃ 1
};

HsicTerms hsicTerms(const at::Tensor& gram) {
  auto k = gram.to(at::kDouble).clone();
  k.fill_diagonal_(0.0);
  return {k.flatten(), k.sum(1), k.sum()};
}

// [m, m] unbiased HSIC between every pair of m Grams of one batch of n rows.
at::Tensor pairwiseUnbiasedHsic(const std::vector<HsicTerms>& terms, std::int64_t n) {
  std::vector<at::Tensor> flats, rows, totals;
  for (const auto& t : terms) {
    flats.push_back(t.flat);
    rows.push_back(t.rows);
    totals.push_back(t.total);
  }
  const auto g = at::stack(flats), r = at::stack(rows), s = at::stack(totals).unsqueeze(1);
  const double nd = static_cast<double>(n);
  return (g.mm(g.t()) + s.mm(s.t()) / ((nd - 1) * (nd - 2)) - r.mm(r.t()) * (2.0 / (nd - 2))) /
         (nd * (nd - 3));
}

// One sample's representation at a hook, [B, features]: positions selected along the hook's
// position axis (hooks without one, e.g. a classifier's logits, are used whole).
at::Tensor representation(const at::Tensor& x, hooks::HookKind kind, CkaPosition position,
                          const at::Tensor& mask) {
  const auto B = x.size(0);
  const int axis = hooks::positionAxis(kind, x.dim());
  if (axis < 0 || position == CkaPosition::All) return x.reshape({B, -1}).clone();
  if (position == CkaPosition::Cls) return x.select(axis, 0).reshape({B, -1}).clone();
  const auto T = x.size(axis);
  const auto valid = mask.defined()
                         ? mask.to(x.device()).ne(0)
                         : at::ones({B, T}, at::TensorOptions(x.device()).dtype(at::kBool));
  if (position == CkaPosition::Last) {
    // The last real token wherever the padding sits; a row of only padding keeps position 0.
    const auto steps = at::arange(1, T + 1, at::TensorOptions(x.device()).dtype(at::kLong));
    const auto last = ((valid.to(at::kLong) * steps).amax(1, true) - 1).clamp_min(0);  // [B, 1]
    return hooks::selectPositions(x, axis, last).reshape({B, -1});
  }
  auto weights = valid.to(x.scalar_type());
  weights = weights / weights.sum(1, true).clamp_min(1.0);  // [B, T]
  std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[0] = B;
  shape[static_cast<std::size_t>(axis)] = T;
  return (x * weights.view(shape)).sum(axis).reshape({B, -1});
}

// Gram of the column-centred rows of x [n, p], built column chunk by column chunk in float64,
// plus the squared norms that tell whether x varies at all.
at::Tensor centredGramOf(const at::Tensor& x, double& centredSq, double& rawSq) {
  const auto n = x.size(0), p = x.size(1);
  const auto width = std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(n, 1));
  auto gram = at::zeros({n, n}, x.options().dtype(at::kDouble));
  centredSq = rawSq = 0.0;
  for (std::int64_t j = 0; j < p; j += width) {
    auto c = x.narrow(1, j, std::min(width, p - j)).to(at::kDouble);
    rawSq += c.pow(2).sum().item<double>();
    c = c - c.mean(0, true);
    centredSq += c.pow(2).sum().item<double>();
    gram.addmm_(c, c.t());
  }
  return gram;
}

struct HookState {
  hooks::HookPoint point;
  std::string name;
  std::int64_t features = -1;
  std::vector<at::Tensor> parts;  // feature and Gram forms: [B, p] per batch
  double centredSq = 0.0, rawSq = 0.0;
};

}  // namespace

std::string ckaFormName(CkaForm form) {
  switch (form) {
    case CkaForm::Feature:
      return "feature";
    case CkaForm::Gram:
      return "gram";
    case CkaForm::Unbiased:
      return "unbiased";
  }
  return "?";
}

std::string ckaPositionName(CkaPosition position) {
  switch (position) {
    case CkaPosition::All:
      return "all";
    case CkaPosition::Cls:
      return "cls";
    case CkaPosition::Last:
      return "last";
    case CkaPosition::Mean:
      return "mean";
  }
  return "?";
}

CkaForm parseCkaForm(const std::string& text) {
  for (auto f : {CkaForm::Feature, CkaForm::Gram, CkaForm::Unbiased}) {
    if (text == ckaFormName(f)) return f;
  }
  throw ConfigError("unknown CKA form '" + text + "'; use feature, gram or unbiased");
}

CkaPosition parseCkaPosition(const std::string& text) {
  for (auto p : {CkaPosition::All, CkaPosition::Cls, CkaPosition::Last, CkaPosition::Mean}) {
    if (text == ckaPositionName(p)) return p;
  }
  throw ConfigError("unknown CKA position '" + text + "'; use all, cls, last or mean");
}

double linearCkaFeature(const at::Tensor& x, const at::Tensor& y) {
  checkMatrices(x, y, 2);
  checkFeatureProduct(x.size(1), y.size(1));
  const auto xc = centerColumns(x), yc = centerColumns(y);
  if (!varies(x, xc) || !varies(y, yc)) return 0.0;
  const double cross = yc.t().mm(xc).pow(2).sum().item<double>();
  const double xx = xc.t().mm(xc).norm().item<double>();
  const double yy = yc.t().mm(yc).norm().item<double>();
  return cross / (xx * yy);
}

at::Tensor centerGram(const at::Tensor& gram) {
  if (gram.dim() != 2 || gram.size(0) != gram.size(1)) {
    throw ShapeError("a Gram matrix is square; got " + shapeText(gram.sizes()));
  }
  const auto k = gram.to(at::kDouble);
  return k - k.mean(0, true) - k.mean(1, true) + k.mean();
}

double linearCkaGram(const at::Tensor& x, const at::Tensor& y) {
  checkMatrices(x, y, 2);
  const auto xd = x.to(at::kDouble), yd = y.to(at::kDouble);
  if (!varies(x, centerColumns(x)) || !varies(y, centerColumns(y))) return 0.0;
  const auto kc = centerGram(xd.mm(xd.t())), lc = centerGram(yd.mm(yd.t()));
  return (kc * lc).sum().item<double>() / (kc.norm().item<double>() * lc.norm().item<double>());
}

double unbiasedHsic(const at::Tensor& k, const at::Tensor& l) {
  if (k.dim() != 2 || k.size(0) != k.size(1) || l.sizes() != k.sizes()) {
    throw ShapeError("unbiased HSIC takes two square Grams of the same size; got " +
                     shapeText(k.sizes()) + " and " + shapeText(l.sizes()));
  }
  if (k.size(0) < 4) {
    throw ConfigError("unbiased HSIC needs at least 4 samples, got " + std::to_string(k.size(0)));
  }
  // Written out rather than through pairwiseUnbiasedHsic so that a non-symmetric input is
  // still read as the formula says (1ᵀK̃L̃1 = (K̃ᵀ1)·(L̃1)).
  auto kt = k.to(at::kDouble).clone(), lt = l.to(at::kDouble).clone();
  kt.fill_diagonal_(0.0);
  lt.fill_diagonal_(0.0);
  const double n = static_cast<double>(k.size(0));
  const double trace = (kt * lt.t()).sum().item<double>();
  const double sums = kt.sum().item<double>() * lt.sum().item<double>();
  const double middle = (kt.sum(0) * lt.sum(1)).sum().item<double>();
  return (trace + sums / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * middle) / (n * (n - 3));
}

double linearCkaMinibatch(const at::Tensor& x, const at::Tensor& y, std::int64_t batchSize) {
  checkMatrices(x, y, 4);
  if (batchSize < 4) {
    throw ConfigError("minibatch CKA needs batches of at least 4 samples, got " +
                      std::to_string(batchSize));
  }
  double xy = 0.0, xx = 0.0, yy = 0.0;
  const auto n = x.size(0);
  for (std::int64_t begin = 0; begin + 4 <= n; begin += batchSize) {
    const auto count = std::min(batchSize, n - begin);
    const auto xb = x.narrow(0, begin, count).to(at::kDouble);
    const auto yb = y.narrow(0, begin, count).to(at::kDouble);
    const auto k = xb.mm(xb.t()), l = yb.mm(yb.t());
    xy += unbiasedHsic(k, l);
    xx += unbiasedHsic(k, k);
    yy += unbiasedHsic(l, l);
  }
  if (xx <= 0.0 || yy <= 0.0) return 0.0;
  return xy / std::sqrt(xx * yy);
}

std::vector<std::string> residualStreamHooks(int nLayers) {
  if (nLayers < 1) throw ConfigError("the residual stream needs a model with at least one block");
  std::vector<std::string> names;
  for (int l = 0; l < nLayers; ++l) names.push_back(hooks::hookName(hooks::HookKind::ResidPre, l));
  names.push_back(hooks::hookName(hooks::HookKind::ResidPost, nLayers - 1));
  return names;
}

CkaResult analyseCka(models::Model& model, const data::Dataset& dataset, const CkaOptions& options,
                     Progress& progress) {
  const bool unbiased = options.form == CkaForm::Unbiased;
  const std::int64_t minRows = unbiased ? 4 : 2;
  if (options.batchSize < minRows) {
    throw ConfigError("CKA (" + ckaFormName(options.form) +
                      " form) needs a batch size of at least " + std::to_string(minRows) +
                      ", got " + std::to_string(options.batchSize));
  }
  if (options.limit < 0) throw ConfigError("the CKA row limit must not be negative");
  const auto start = std::chrono::steady_clock::now();
  const auto patterns =
      options.hooks.empty() ? residualStreamHooks(model.hooks().nLayers()) : options.hooks;
  const auto points = hooks::matchHookPoints(model.hookPoints(), patterns);
  const std::int64_t rows =
      options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  if (rows < minRows) {
    throw ConfigError("CKA (" + ckaFormName(options.form) + " form) needs at least " +
                      std::to_string(minRows) + " samples; " + dataset.describe() + " gives " +
                      std::to_string(rows));
  }

  CkaResult result;
  result.dataset = dataset.describe();
  result.form = ckaFormName(options.form);
  result.position = ckaPositionName(options.position);
  std::vector<HookState> states;
  for (const auto& p : points) {
    states.push_back({p, hooks::hookName(p), -1, {}, 0.0, 0.0});
    result.hooks.push_back(states.back().name);
  }
  const auto m = static_cast<std::int64_t>(states.size());
  at::Tensor hsic;  // unbiased form: [m, m] summed over batches

  c10::InferenceMode guard;
  progress.setStage("CKA: " + std::to_string(m) + " hooks over " + result.dataset);
  for (std::int64_t begin = 0; begin < rows; begin += options.batchSize) {
    progress.check();
    const auto count = std::min(options.batchSize, rows - begin);
    const auto batch = dataset.batch(begin, count);
    if (options.position == CkaPosition::All && batch.attentionMask.defined() &&
        batch.attentionMask.eq(0).any().item<bool>()) {
      throw ConfigError("rows of " + result.dataset +
                        " are padded: position 'all' flattens every position and needs rows of "
                        "equal length; use position last or mean");
    }
    std::vector<at::Tensor> reps(states.size());
    {
      hooks::ScopedHooks scope(model.hooks());
      for (std::size_t i = 0; i < states.size(); ++i) {
        scope.observe(states[i].point, [&, i](const at::Tensor& x, const hooks::HookPoint& p) {
          reps[i] = representation(x, p.kind, options.position, batch.attentionMask);
        });
      }
      model.forward({batch.tokens, batch.attentionMask, {}, batch.pixels});
    }
    const auto batchRows = reps.empty() || !reps[0].defined() ? count : reps[0].size(0);
    std::vector<HsicTerms> terms;
    for (std::size_t i = 0; i < states.size(); ++i) {
      auto& s = states[i];
      if (!reps[i].defined()) {
        throw ConfigError("hook " + s.name + " did not fire in a forward pass of this model");
      }
      const auto p = reps[i].size(1);
      if (s.features >= 0 && s.features != p) {
        throw ShapeError("hook " + s.name + " gives " + std::to_string(p) +
                         " features per sample in one batch and " + std::to_string(s.features) +
                         " in another (rows of different lengths?); use position cls, last "
                         "or mean");
      }
      s.features = p;
      if (!unbiased) {
        s.parts.push_back(reps[i]);
      } else if (batchRows >= 4) {
        const auto d = reps[i].to(at::kDouble);
        s.rawSq += d.pow(2).sum().item<double>();
        s.centredSq += (d - d.mean(0, true)).pow(2).sum().item<double>();
        terms.push_back(hsicTerms(d.mm(d.t())));
      }
    }
    if (unbiased && batchRows >= 4) {
      const auto h = pairwiseUnbiasedHsic(terms, batchRows);
      hsic = hsic.defined() ? hsic + h : h;
      result.samples += batchRows;
    } else if (!unbiased) {
      result.samples += batchRows;
    }
    progress.setFraction(static_cast<double>(begin + count) / static_cast<double>(rows));
  }

  // Scores of every pair before normalisation: <Kc_i, Kc_j> (Gram), ‖X_jᵀX_i‖² (feature) or
  // summed unbiased HSIC; the matrix below divides by the square roots of the diagonal.
  at::Tensor scores;
  if (options.form == CkaForm::Gram) {
    progress.setStage("CKA: centred Grams");
    std::vector<at::Tensor> grams;
    for (auto& s : states) {
      progress.check();
      const auto x = at::cat(s.parts);
      s.parts.clear();
      grams.push_back(centredGramOf(x, s.centredSq, s.rawSq).flatten());
    }
    const auto g = at::stack(grams);
    scores = g.mm(g.t());
  } else if (options.form == CkaForm::Feature) {
    progress.setStage("CKA: feature products");
    for (const auto& a : states) {
      for (const auto& b : states) checkFeatureProduct(a.features, b.features);
    }
    std::vector<at::Tensor> centred;
    for (auto& s : states) {
      const auto x = at::cat(s.parts).to(at::kDouble);
      s.parts.clear();
      s.rawSq = x.pow(2).sum().item<double>();
      centred.push_back(x - x.mean(0, true));
      s.centredSq = centred.back().pow(2).sum().item<double>();
    }
    scores = at::zeros({m, m}, at::kDouble);
    for (std::int64_t i = 0; i < m; ++i) {
      progress.check();
      for (std::int64_t j = 0; j <= i; ++j) {
        const double v = centred[j].t().mm(centred[i]).pow(2).sum().item<double>();  // ‖X_jᵀ X_i‖²
        scores[i][j] = v;
        scores[j][i] = v;
      }
    }
  } else {
    if (!hsic.defined()) {
      throw ConfigError("no batch of at least 4 rows: the unbiased form needs them");
    }
    scores = hsic;
  }

  const auto s = scores.to(at::kCPU).contiguous();
  const auto acc = s.accessor<double, 2>();
  result.cka = Eigen::MatrixXd::Zero(m, m);
  for (std::int64_t i = 0; i < m; ++i) {
    const auto& st = states[static_cast<std::size_t>(i)];
    result.features.push_back(st.features);
    result.constant.push_back(!varies(st.centredSq, st.rawSq) || acc[i][i] <= 0.0);
  }
  for (std::int64_t i = 0; i < m; ++i) {
    result.cka(i, i) = 1.0;
    for (std::int64_t j = 0; j < i; ++j) {
      double v = 0.0;
      if (!result.constant[i] && !result.constant[j]) {
        v = acc[i][j] / std::sqrt(acc[i][i] * acc[j][j]);
        // The biased forms lie in [0, 1] up to rounding; the unbiased estimate may stray.
        if (!unbiased) v = std::clamp(v, 0.0, 1.0);
      }
      result.cka(i, j) = result.cka(j, i) = v;
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.setFraction(1.0);
  return result;
}

}  // namespace cs::analysis
