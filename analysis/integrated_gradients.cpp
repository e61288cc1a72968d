// Integrated gradients over a model's input. The model is wrapped as a batched scalar function
// of the input elements (embeddings or pixels) and handed to the generic routine of
// quadrature.h; F(input) and F(baseline) come from one extra forward pass of two rows.
#include "analysis/integrated_gradients.h"

#include "core/torch_api.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/shape_text.h"

namespace cs::analysis {

namespace {

bool isImageModel(const models::TransformerConfig& c) {
  return c.input == models::InputKind::Patches;
}

// The element tensor a [...] (no batch axis) that IG differentiates, in the model's dtype.
at::Tensor inputElements(models::Transformer& model, const models::ModelInput& input) {
  const auto& c = model.config();
  const auto options = at::TensorOptions(model.device()).dtype(model.dtype());
  at::Tensor a;
  if (isImageModel(c)) {
    if (!input.pixels.defined()) {
      throw ShapeError("integrated gradients: this is an image model; pass pixel values");
    }
    a = input.pixels;
  } else if (input.embeddings.defined()) {
    a = input.embeddings;
  } else if (input.tokens.defined()) {
    if (input.tokens.dim() != 2 || input.tokens.size(1) == 0) {
      throw ShapeError("integrated gradients: token ids must be [1, pos], got " +
                       shapeText(input.tokens.sizes()));
    }
    const auto ids = input.tokens.to(model.device(), at::kLong);
    if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= c.dVocab) {
      throw ShapeError("integrated gradients: a token id is outside the vocabulary [0, " +
                       std::to_string(c.dVocab) + ")");
    }
    a = at::embedding(model.weights().W_E, ids);
  } else {
    throw ShapeError(
        "integrated gradients: this is a language model; pass token ids or "
        "embeddings");
  }
  if (a.dim() < 3 || a.size(0) != 1) {
    throw ShapeError("integrated gradients take one example; the input is " + shapeText(a.sizes()));
  }
  return a[0].detach().to(options);
}

at::Tensor baselineElements(models::Transformer& model, const at::Tensor& a,
                            const IgBaseline& baseline, std::string& description) {
  const auto& c = model.config();
  const bool image = isImageModel(c);
  switch (baseline.kind) {
    case IgBaselineKind::Zero:
      description = image ? "zero image" : "zero embeddings";
      return at::zeros_like(a);
    case IgBaselineKind::Token: {
      if (image) throw ConfigError("a token baseline is for language models");
      if (baseline.token < 0 || baseline.token >= c.dVocab) {
        throw ConfigError("baseline token " + std::to_string(baseline.token) +
                          " is outside the vocabulary [0, " + std::to_string(c.dVocab) + ")");
      }
      description = "token " + std::to_string(baseline.token);
      return model.weights().W_E[baseline.token].detach().to(a.options()).expand_as(a).clone();
    }
    case IgBaselineKind::Black: {
      if (!image) throw ConfigError("a black-image baseline is for image models");
      description = "black image";
      const auto C = a.size(0);
      if (baseline.blackLevel.empty()) return at::zeros_like(a);
      if (static_cast<int64_t>(baseline.blackLevel.size()) != C) {
        throw ConfigError("the black level has " + std::to_string(baseline.blackLevel.size()) +
                          " channels, the image " + std::to_string(C));
      }
      return at::tensor(baseline.blackLevel, at::TensorOptions().dtype(at::kDouble))
          .to(a.options())
          .view({C, 1, 1})
          .expand_as(a)
          .clone();
    }
    case IgBaselineKind::Mean:
      if (!image) throw ConfigError("a mean-image baseline is for image models");
      description = "mean image";
      return a.mean({1, 2}, /*keepdim=*/true).expand_as(a).clone();
    case IgBaselineKind::Custom: {
      auto expected = a.sizes().vec();
      expected.insert(expected.begin(), 1);
      if (!baseline.custom.defined() || baseline.custom.sizes() != at::IntArrayRef(expected)) {
        throw ShapeError(
            "integrated gradients: the baseline must have the input's shape " +
            shapeText(expected) + ", got " +
            (baseline.custom.defined() ? shapeText(baseline.custom.sizes()) : std::string("none")));
      }
      description = "given baseline";
      return baseline.custom[0].detach().to(a.options());
    }
  }
  throw ConfigError("unknown baseline");
}

}  // namespace

IntegratedGradientsResult analyseIntegratedGradients(models::Transformer& model,
                                                     const models::ModelInput& input,
                                                     const IntegratedGradientsOptions& options,
                                                     Progress& progress) {
  const auto& c = model.config();
  const bool image = isImageModel(c);
  IntegratedGradientsResult r;
  r.rule = std::string(ruleName(options.rule));
  r.steps = options.steps;
  const auto nodes = quadratureNodes(options.rule, options.steps);
  r.points = static_cast<int>(nodes.alphas.size());
  if (options.chunk < 1) throw ConfigError("integrated gradients: --chunk must be at least 1");

  const auto a = inputElements(model, input);  // [T, D] or [C, H, W]
  const auto base = baselineElements(model, a, options.baseline, r.baseline);  // same shape
  at::Tensor mask;  // [1, T] or undefined
  if (!image && input.attentionMask.defined()) {
    if (input.attentionMask.sizes() != at::IntArrayRef({1, a.size(0)})) {
      throw ShapeError("integrated gradients: the attention mask must be [1, " +
                       std::to_string(a.size(0)) + "], got " +
                       shapeText(input.attentionMask.sizes()));
    }
    mask = input.attentionMask;
  }
  const int64_t T = image ? 0 : a.size(0);
  const auto& target = options.target;
  if (!image && (target.position < -1 || target.position >= T)) {
    throw ConfigError("integrated gradients: position " + std::to_string(target.position) +
                      " is outside the input's " + std::to_string(T) + " positions");
  }
  r.position = image ? -1 : (target.position < 0 ? T - 1 : target.position);
  const int64_t V = c.dOutput();
  for (auto id : {target.answer, target.foil}) {
    if (id >= V) {
      throw ConfigError("integrated gradients: target " + std::to_string(id) + " is outside [0, " +
                        std::to_string(V) + ")" + (image ? " (the classes)" : " (the vocabulary)"));
    }
  }

  // Logits of a batch of element tensors [K, ...] at the scored row: [K, V].
  auto scoredLogits = [&](const at::Tensor& points) {
    models::ModelInput in;
    if (image) {
      in.pixels = points;
    } else {
      in.embeddings = points;
      if (mask.defined()) in.attentionMask = mask.expand({points.size(0), T});
    }
    auto logits = model.forward(in);
    return image ? logits : logits.select(1, r.position);
  };

  progress.setStage("integrated gradients: input and baseline");
  {
    torch::NoGradGuard noGrad;
    const auto both = scoredLogits(at::stack({a, base})).to(at::kDouble);  // [2, V]
    ++r.forwardPasses;
    r.answer = target.answer >= 0 ? target.answer : both[0].argmax().item<int64_t>();
    r.foil = target.foil;
    auto value = both.select(1, r.answer);
    if (r.foil >= 0) value = value - both.select(1, r.foil);
    r.inputValue = value[0].item<double>();
    r.baselineValue = value[1].item<double>();
  }
  r.target = "logit[" + std::to_string(r.answer) + "]";
  if (r.foil >= 0) r.target += " - logit[" + std::to_string(r.foil) + "]";
  if (!image) r.target += " at position " + std::to_string(r.position);

  progress.setStage("integrated gradients: " + std::to_string(r.points) + " points");
  const int64_t answer = r.answer, foil = r.foil;
  const auto f = [&](const at::Tensor& points) {
    const auto logits = scoredLogits(points);
    auto value = logits.select(1, answer);
    return foil >= 0 ? value - logits.select(1, foil) : value;
  };
  const auto ig = integratedGradientsOf(f, a, base, nodes, options.chunk, progress).cpu();
  r.forwardBackwardPasses = (r.points + options.chunk - 1) / options.chunk;

  r.elementShape = a.sizes().vec();
  const auto flat = ig.contiguous().view({-1});
  r.elements.assign(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  r.attributionSum = ig.sum().item<double>();
  const double difference = r.inputValue - r.baselineValue;
  r.completenessError = std::abs(r.attributionSum - difference);
  r.relativeError = r.completenessError == 0.0 ? 0.0
                    : difference == 0.0        ? std::numeric_limits<double>::infinity()
                                               : r.completenessError / std::abs(difference);
  if (image) {
    const auto pixels = ig.sum(0).contiguous();  // [H, W]
    using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    r.perPixel =
        Eigen::Map<const RowMajor>(pixels.data_ptr<double>(), pixels.size(0), pixels.size(1));
  } else {
    const auto tokens = ig.sum(1).contiguous();  // [T]
    r.perToken = Eigen::Map<const Eigen::VectorXd>(tokens.data_ptr<double>(), tokens.size(0));
  }
  progress.setFraction(1.0);
  return r;
}

}  // namespace cs::analysis
