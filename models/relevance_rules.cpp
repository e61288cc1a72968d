// Relevance rules as custom autograd functions: forward values unchanged, backward reshaped.
#include "models/relevance_rules.h"

#include "core/torch_api.h"

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "models/layers.h"

namespace cs::models {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

constexpr double kDivisionGuard = 1e-10;

struct ScaleGradientFn : torch::autograd::Function<ScaleGradientFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double factor) {
    ctx->saved_data["factor"] = factor;
    // A copy, not x itself: an autograd function returning its input unchanged would alias it.
    return x.clone();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {grads[0] * ctx->saved_data["factor"].toDouble(), at::Tensor()};
  }
};

struct IdentityRuleFn : torch::autograd::Function<IdentityRuleFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& pre, const at::Tensor& post) {
    ctx->save_for_backward({post.detach() / stabilize(pre.detach(), kDivisionGuard)});
    return post.detach().clone();
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto ratio = ctx->get_saved_variables()[0];
    // Nothing flows into `post`'s own graph: the non-linearity passes relevance unchanged.
    return {grads[0] * ratio, at::Tensor()};
  }
};

struct GammaLinearFn : torch::autograd::Function<GammaLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b, double gamma, double eps) {
    auto z = project(x, w, b.defined() ? b : at::Tensor());
    ctx->save_for_backward({x.detach(), w.detach(), b.detach(), z.detach()});
    ctx->saved_data["gamma"] = gamma;
    ctx->saved_data["eps"] = eps;
    return z;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto relevanceOut = grads[0] * saved[3];
    const auto relevanceIn =
        gammaRule(x, saved[1], saved[2], relevanceOut, ctx->saved_data["gamma"].toDouble(),
                  ctx->saved_data["eps"].toDouble());
    return {relevanceIn / stabilize(x, kDivisionGuard), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

void checkGamma(double gamma, const std::string& what) {
  if (!std::isfinite(gamma) || gamma < 0.0) {
    throw ConfigError(what + " must be a finite number >= 0, got " + std::to_string(gamma));
  }
}

}  // namespace

double RelevanceRules::gammaFor(int layer) const {
  if (layer < 0) return gammaHead.value_or(gammaLinear);
  double gamma = gammaLinear;
  for (const auto& g : groups) {
    if (layer >= g.firstLayer && layer <= g.lastLayer) gamma = g.gamma;
  }
  return gamma;
}

std::string RelevanceRules::describe() const {
  std::ostringstream out;
  out << (attention == AttentionRule::AttnLrp ? "AttnLRP" : "CP-LRP");
  const bool anyGamma =
      gammaPatch > 0 || gammaLinear > 0 || !groups.empty() || gammaHead.value_or(0.0) > 0;
  if (!anyGamma) {
    out << ", epsilon";
    return out.str();
  }
  out << ", gamma patch " << gammaPatch << ", linear " << gammaLinear;
  for (const auto& g : groups) {
    out << ", blocks " << g.firstLayer << "-" << g.lastLayer << " " << g.gamma;
  }
  if (gammaHead) out << ", head " << *gammaHead;
  return out.str();
}

void RelevanceRules::validate(int nLayers) const {
  checkGamma(gammaPatch, "gamma of the patch embedding");
  checkGamma(gammaLinear, "gamma of the linear layers");
  if (gammaHead) checkGamma(*gammaHead, "gamma of the head");
  for (const auto& g : groups) {
    checkGamma(g.gamma, "gamma of a layer group");
    if (g.firstLayer < 0 || g.lastLayer >= nLayers || g.firstLayer > g.lastLayer) {
      throw ConfigError("gamma layer group " + std::to_string(g.firstLayer) + "-" +
                        std::to_string(g.lastLayer) + " is not a range of the model's " +
                        std::to_string(nLayers) + " blocks");
    }
  }
  if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
    throw ConfigError("the relevance stabiliser epsilon must be > 0");
  }
}

RelevanceRules languageModelRelevanceRules() { return {}; }

RelevanceRules visionRelevanceRules() {
  RelevanceRules rules;
  rules.attention = AttentionRule::CpLrp;
  rules.gammaPatch = 0.25;
  rules.gammaLinear = 0.05;
  return rules;
}

at::Tensor stabilize(const at::Tensor& z, double eps) {
  return z + eps * (2.0 * (z >= 0).to(z.scalar_type()) - 1.0);
}

at::Tensor scaleGradient(const at::Tensor& x, double factor) {
  return ScaleGradientFn::apply(x, factor);
}

at::Tensor identityRule(const at::Tensor& pre, const at::Tensor& post) {
  return IdentityRuleFn::apply(pre, post);
}

at::Tensor gammaLinear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double gamma,
                       double eps) {
  return GammaLinearFn::apply(x, w, b.defined() ? b : at::zeros({w.size(1)}, w.options()), gamma,
                              eps);
}

at::Tensor gammaRule(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                     const at::Tensor& r, double gamma, double eps) {
  const auto bias = b.defined() ? b : at::zeros({w.size(1)}, w.options());
  // Outputs with z > 0 use W + gamma W+ on x+ and W + gamma W- on x-; outputs with z < 0 the
  // reverse; outputs with z == 0 pass nothing.
  const auto wUp = w + gamma * w.clamp_min(0);
  const auto wDown = w + gamma * w.clamp_max(0);
  const auto xPos = x.clamp_min(0);
  const auto xNeg = x.clamp_max(0);
  const auto z = project(x, w, bias);
  const auto zUp = project(xPos, wUp) + project(xNeg, wDown) + (bias + gamma * bias.clamp_min(0));
  const auto zDown = project(xPos, wDown) + project(xNeg, wUp) + (bias + gamma * bias.clamp_max(0));
  const auto zero = at::zeros_like(r);
  const auto sUp = at::where(z > 0, r / stabilize(zUp, eps), zero);
  const auto sDown = at::where(z < 0, r / stabilize(zDown, eps), zero);
  const auto wUpT = wUp.t(), wDownT = wDown.t();
  return xPos * (project(sUp, wUpT) + project(sDown, wDownT)) +
         xNeg * (project(sUp, wDownT) + project(sDown, wUpT));
}

at::Tensor normWithConstantScale(const at::Tensor& x, const NormWeights& w, NormKind kind,
                                 double eps) {
  if (kind == NormKind::None) return x;
  if (kind == NormKind::LayerNorm) {
    const auto centred = x - x.mean(-1, /*keepdim=*/true);
    const auto inverseScale = at::rsqrt(centred.pow(2).mean(-1, /*keepdim=*/true) + eps).detach();
    auto y = centred * inverseScale;
    if (w.weight.defined()) y = y * w.weight;
    if (w.bias.defined()) y = y + w.bias;
    return y;
  }
  const auto wide = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  const auto inverseScale = at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + eps).detach();
  return w.weight * (wide * inverseScale).to(x.scalar_type());
}

}  // namespace cs::models
