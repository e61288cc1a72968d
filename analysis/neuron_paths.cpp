// Influential neuron paths. Every attribution is one "sweep": m copies of the example run in
// chunks, and in each copy k the hook of every held layer replaces the scored position's FFN
// activations by a leaf tensor (clean values, some of them scaled by alpha_k = k/m); one backward
// pass of the summed F gives each leaf's gradient, summed over the copies in float64. The leaf
// replaces the activation out of place (a concatenation), so autograd stays valid and the
// model's own tensors are never written.
#include "analysis/neuron_paths.h"

#include "core/torch_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/shape_text.h"
#include "hooks/hook_point.h"
#include "hooks/hook_registry.h"

namespace cs::analysis {

namespace {

using hooks::HookKind;

// What every pass needs: the example as one row on the model's device, where the neurons are
// read, and which F is scored.
struct Setup {
  models::ModelInput input;  // one row
  bool classifier = false;
  std::int64_t position = 0;
  std::int64_t answer = 0;
  bool logitTarget = false;
  std::string targetText;
};

// A held layer of a sweep: its clean activations at the scored position, and which of them move
// with alpha (all of them, or the listed neurons).
struct LayerScaling {
  int layer = 0;
  at::Tensor clean;  // [F]
  std::vector<std::int64_t> neurons;
  bool all = false;
};

struct Sweep {
  std::vector<at::Tensor> gradientSums;  // per held layer, [F] float64: sum_k dF/da at alpha_k
  double valueAtAlphaZero = 0.0;
  int passes = 0;
};

// Fraction of the whole analysis done, counted in chunks.
struct ChunkCounter {
  Progress& progress;
  int done = 0;
  int total = 1;
  void advance() {
    ++done;
    progress.setFraction(static_cast<double>(done) / static_cast<double>(total));
  }
};

int chunksPerSweep(const NeuronPathOptions& o) { return (o.steps + o.chunk - 1) / o.chunk; }

void checkCommonOptions(const NeuronPathOptions& o) {
  if (o.steps < 1) {
    throw ConfigError("neuron path: steps must be at least 1 (m left-Riemann points), got " +
                      std::to_string(o.steps));
  }
  if (o.chunk < 1) {
    throw ConfigError("neuron path: chunk must hold at least 1 point, got " +
                      std::to_string(o.chunk));
  }
  if (!std::isfinite(o.enhanceFactor)) {
    throw ConfigError("neuron path: the enhance factor must be a finite number");
  }
}

// The model's MLP width at a layer, refusing layers without neurons to read.
std::int64_t mlpWidth(const models::Transformer& model, int layer) {
  const auto& c = model.config();
  if (layer < 0 || layer >= c.nLayers) {
    throw ConfigError("neuron path: layer " + std::to_string(layer) +
                      " does not exist; the model has layers 0.." + std::to_string(c.nLayers - 1));
  }
  if (c.skipsMlp(layer)) {
    throw ConfigError("neuron path: the MLP of layer " + std::to_string(layer) +
                      " is skipped, so it has no neurons; restore it or leave the layer out");
  }
  const auto width = model.weights().blocks[static_cast<std::size_t>(layer)].mlp.W_out.size(0);
  if (width == 0) {
    throw ConfigError("neuron path: layer " + std::to_string(layer) +
                      " has no MLP neurons (compacted away); leave the layer out");
  }
  return width;
}

models::ModelInput oneRow(const models::Transformer& model, const models::ModelInput& input,
                          bool image, std::int64_t& tokens) {
  models::ModelInput row;
  const auto device = model.device();
  if (image) {
    if (!input.pixels.defined()) {
      throw ShapeError("neuron path: this is an image model; pass pixel values");
    }
    if (input.pixels.dim() != 4 || input.pixels.size(0) != 1) {
      throw ShapeError("neuron path takes one image [1, C, H, W], got " +
                       shapeText(input.pixels.sizes()));
    }
    row.pixels = input.pixels.detach().to(device, model.dtype());
    tokens = model.config().nImageTokens();
    return row;
  }
  if (input.embeddings.defined()) {
    if (input.embeddings.dim() != 3 || input.embeddings.size(0) != 1) {
      throw ShapeError("neuron path takes one example; the embeddings are " +
                       shapeText(input.embeddings.sizes()));
    }
    row.embeddings = input.embeddings.detach().to(device, model.dtype());
    tokens = input.embeddings.size(1);
  } else if (input.tokens.defined()) {
    if (input.tokens.dim() != 2 || input.tokens.size(0) != 1 || input.tokens.size(1) == 0) {
      throw ShapeError("neuron path takes one example; the token ids are " +
                       shapeText(input.tokens.sizes()));
    }
    row.tokens = input.tokens.to(device, at::kLong);
    tokens = input.tokens.size(1);
  } else {
    throw ShapeError("neuron path: this is a language model; pass token ids or embeddings");
  }
  if (input.attentionMask.defined()) {
    if (input.attentionMask.sizes() != at::IntArrayRef({1, tokens})) {
      throw ShapeError("neuron path: the attention mask must be [1, " + std::to_string(tokens) +
                       "], got " + shapeText(input.attentionMask.sizes()));
    }
    row.attentionMask = input.attentionMask.to(device);
  }
  return row;
}

// The example repeated `count` times (contiguous: patch embedding wants real rows).
models::ModelInput repeated(const models::ModelInput& row, std::int64_t count) {
  auto repeat = [count](const at::Tensor& t) {
    if (!t.defined()) return t;
    std::vector<std::int64_t> times(static_cast<std::size_t>(t.dim()), 1);
    times[0] = count;
    return t.repeat(times);
  };
  return {repeat(row.tokens), repeat(row.attentionMask), repeat(row.embeddings),
          repeat(row.pixels)};
}

// The scored row of the logits, [B, V] in float64.
at::Tensor scoredLogits(const at::Tensor& logits, const Setup& s) {
  return (s.classifier ? logits : logits.select(1, s.position)).to(at::kDouble);
}

at::Tensor targetValues(const at::Tensor& logits, const Setup& s) {
  const auto rows = scoredLogits(logits, s);
  return s.logitTarget ? rows.select(1, s.answer) : at::softmax(rows, 1).select(1, s.answer);
}

// post [B, T, F] with position `position` replaced by `values` [B, F], out of place.
at::Tensor replacePosition(const at::Tensor& post, std::int64_t position,
                           const at::Tensor& values) {
  const auto T = post.size(1);
  return at::cat({post.narrow(1, 0, position), values.unsqueeze(1),
                  post.narrow(1, position + 1, T - position - 1)},
                 1);
}

// Resolves the position and the options that do not need a forward pass.
Setup prepare(models::Transformer& model, const models::ModelInput& input,
              const NeuronPathOptions& options) {
  checkCommonOptions(options);
  const auto& c = model.config();
  Setup s;
  const bool image = c.input == models::InputKind::Patches;
  s.classifier = c.head == models::HeadKind::Classifier;
  std::int64_t T = 0;
  s.input = oneRow(model, input, image, T);
  if (image) {
    // The paper reads the class token; a model without one pools the patches, and its neurons
    // at any one position are not what the classifier reads.
    if (!c.classToken) {
      throw ConfigError(
          "neuron path: this image model has no class token (its classifier averages the "
          "patches); the path is defined on the class token");
    }
    if (options.position != -1 && options.position != 0) {
      throw ConfigError(
          "neuron path: image models use the class token (position 0); got position " +
          std::to_string(options.position));
    }
    s.position = 0;
  } else if (options.position < 0) {
    if (options.position != -1) {
      throw ConfigError("neuron path: position " + std::to_string(options.position) +
                        " is invalid; use -1 for the last real token");
    }
    s.position = T - 1;
    if (s.input.attentionMask.defined()) {
      const auto real = s.input.attentionMask[0].nonzero();
      if (real.size(0) == 0) throw ConfigError("neuron path: the attention mask hides every token");
      s.position = real[real.size(0) - 1][0].item<std::int64_t>();
    }
  } else {
    if (options.position >= T) {
      throw ConfigError("neuron path: position " + std::to_string(options.position) +
                        " is outside the input's " + std::to_string(T) + " positions");
    }
    s.position = options.position;
  }
  const auto V = c.dOutput();
  if (options.target < -1 || options.target >= V) {
    throw ConfigError("neuron path: target " + std::to_string(options.target) + " is outside [0, " +
                      std::to_string(V) + ")" +
                      (s.classifier ? " (the classes)" : " (the vocabulary)"));
  }
  s.logitTarget = options.targetKind == NeuronPathTarget::Logit;
  return s;
}

// The clean pass: activations at the scored position of `layers` ([F] each), the answer (the
// top prediction unless given) and F.
std::vector<at::Tensor> cleanPass(models::Transformer& model, Setup& s,
                                  const std::vector<int>& layers, const NeuronPathOptions& options,
                                  double& cleanValue, double& cleanProbability) {
  torch::NoGradGuard noGrad;
  std::vector<at::Tensor> activations(layers.size());
  hooks::ScopedHooks scoped(model.hooks());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    scoped.observe({HookKind::MlpPost, layers[i]},
                   [&activations, i, &s](const at::Tensor& post, const hooks::HookPoint&) {
                     activations[i] = post[0][s.position].detach().clone();
                   });
  }
  const auto logits = scoredLogits(model.forward(s.input), s)[0];  // [V]
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!activations[i].defined()) {
      throw ConfigError("neuron path: " + hooks::hookName(HookKind::MlpPost, layers[i]) +
                        " did not fire; the layer has no MLP to read");
    }
  }
  s.answer = options.target >= 0 ? options.target : logits.argmax().item<std::int64_t>();
  cleanProbability = at::softmax(logits, 0)[s.answer].item<double>();
  cleanValue = s.logitTarget ? logits[s.answer].item<double>() : cleanProbability;
  const auto where = s.classifier && model.config().input == models::InputKind::Patches
                         ? std::string(" at the class token")
                         : " at position " + std::to_string(s.position);
  s.targetText = (s.logitTarget ? "logit[" : "p[") + std::to_string(s.answer) + "]" + where;
  return activations;
}

// One sweep of m left-Riemann points in chunks, returning the summed gradient of every held
// layer.
Sweep sweep(models::Transformer& model, const Setup& s, const std::vector<LayerScaling>& held,
            const NeuronPathOptions& options, ChunkCounter& counter) {
  torch::AutoGradMode gradients(true);
  Sweep result;
  for (const auto& h : held) {
    result.gradientSums.push_back(
        at::zeros({h.clean.size(0)}, h.clean.options().dtype(at::kDouble)));
  }
  // Which entries of each held layer follow alpha: [F] bool.
  std::vector<at::Tensor> moving;
  for (const auto& h : held) {
    auto mask = at::full({h.clean.size(0)}, h.all, h.clean.options().dtype(at::kBool));
    if (!h.all && !h.neurons.empty()) {
      const auto index =
          at::tensor(h.neurons, at::TensorOptions().dtype(at::kLong)).to(h.clean.device());
      mask.index_fill_(0, index, true);
    }
    moving.push_back(mask);
  }
  const int m = options.steps;
  for (int begin = 0; begin < m; begin += options.chunk) {
    counter.progress.check();
    const int count = std::min(options.chunk, m - begin);
    std::vector<double> alphas(static_cast<std::size_t>(count));
    for (int k = 0; k < count; ++k)
      alphas[static_cast<std::size_t>(k)] = static_cast<double>(begin + k) / m;
    const auto alpha = at::tensor(alphas, at::TensorOptions().dtype(at::kDouble))
                           .to(model.device(), model.dtype())
                           .unsqueeze(1);  // [count, 1]
    std::vector<at::Tensor> leaves;
    hooks::ScopedHooks scoped(model.hooks());
    for (std::size_t i = 0; i < held.size(); ++i) {
      const auto& clean = held[i].clean;  // [F]
      const auto scale = at::where(moving[i].unsqueeze(0), alpha, at::ones_like(alpha));
      auto leaf = (clean.unsqueeze(0) * scale).detach().requires_grad_(true);  // [count, F]
      leaves.push_back(leaf);
      const auto position = s.position;
      scoped.add({HookKind::MlpPost, held[i].layer},
                 [leaf, position](const at::Tensor& post, const hooks::HookPoint&) {
                   return std::optional<at::Tensor>(replacePosition(post, position, leaf));
                 });
    }
    const auto values = targetValues(model.forward(repeated(s.input, count)), s);  // [count]
    if (begin == 0) result.valueAtAlphaZero = values[0].item<double>();
    const auto grads = torch::autograd::grad({values.sum()}, leaves, {}, /*retain_graph=*/false,
                                             /*create_graph=*/false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < held.size(); ++i) {
      // A leaf F does not depend on (it cannot happen for a live layer) has no gradient.
      if (grads[i].defined()) result.gradientSums[i] += grads[i].to(at::kDouble).sum(0);
    }
    ++result.passes;
    counter.advance();
  }
  return result;
}

// Indices of the k largest values, best first; ties keep the lower index (like argmax).
std::vector<std::int64_t> topIndices(const at::Tensor& values, int k) {
  const auto v = values.to(at::kDouble).contiguous().cpu();
  const auto* data = v.data_ptr<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(v.numel()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [data](std::int64_t a, std::int64_t b) { return data[a] > data[b]; });
  order.resize(static_cast<std::size_t>(k));
  return order;
}

// The JAS of a set given per layer, from the clean activations of those layers.
JointAttribution attributeSet(models::Transformer& model, const Setup& s,
                              const std::vector<int>& layers, const std::vector<at::Tensor>& clean,
                              const std::vector<std::vector<std::int64_t>>& neurons,
                              double cleanValue, const NeuronPathOptions& options,
                              ChunkCounter& counter, int& passes) {
  std::vector<LayerScaling> held;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    held.push_back({layers[i], clean[i], neurons[i], false});
  }
  const auto sw = sweep(model, s, held, options, counter);
  passes += sw.passes;
  JointAttribution r;
  double gradientSum = 0.0, activationSum = 0.0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto a = clean[i].to(at::kDouble).cpu();
    const auto g = (sw.gradientSums[i] / options.steps).cpu();
    for (auto n : neurons[i]) {
      r.neurons.push_back({layers[i], n});
      r.activations.push_back(a[n].item<double>());
      r.meanGradients.push_back(g[n].item<double>());
      r.paperScore += r.activations.back() * r.meanGradients.back();
      gradientSum += r.meanGradients.back();
      activationSum += r.activations.back();
    }
  }
  r.referenceScore = gradientSum * activationSum;
  r.score = options.scoring == NeuronPathScoring::Paper ? r.paperScore : r.referenceScore;
  r.valueAtInput = cleanValue;
  r.valueAtBaseline = sw.valueAtAlphaZero;
  return r;
}

// p_c for each row: the listed neurons of the row multiplied by its factor (live activations at
// the scored position), all rows in one forward pass.
std::vector<double> manipulatedProbabilities(
    models::Transformer& model, const Setup& s,
    const std::vector<std::pair<std::vector<NeuronRef>, double>>& rows) {
  torch::NoGradGuard noGrad;
  const auto B = static_cast<std::int64_t>(rows.size());
  std::map<int, at::Tensor> factors;  // layer -> [B, F]
  for (std::int64_t b = 0; b < B; ++b) {
    for (const auto& n : rows[static_cast<std::size_t>(b)].first) {
      auto& f = factors[n.layer];
      if (!f.defined()) {
        f = at::ones({B, mlpWidth(model, n.layer)},
                     at::TensorOptions().dtype(model.dtype()).device(model.device()));
      }
      f[b][n.neuron] = rows[static_cast<std::size_t>(b)].second;
    }
  }
  hooks::ScopedHooks scoped(model.hooks());
  const auto position = s.position;
  for (const auto& [layer, f] : factors) {
    scoped.add({HookKind::MlpPost, layer},
               [f = f, position](const at::Tensor& post, const hooks::HookPoint&) {
                 return std::optional<at::Tensor>(
                     replacePosition(post, position, post.select(1, position) * f));
               });
  }
  const auto p = at::softmax(scoredLogits(model.forward(repeated(s.input, B)), s), 1)
                     .select(1, s.answer)
                     .cpu();
  std::vector<double> out(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) out[static_cast<std::size_t>(b)] = p[b].item<double>();
  return out;
}

// Groups a neuron list by layer (ascending), checking every entry.
void groupByLayer(const models::Transformer& model, const std::vector<NeuronRef>& neurons,
                  std::vector<int>& layers, std::vector<std::vector<std::int64_t>>& perLayer) {
  if (neurons.empty()) throw ConfigError("neuron path: the neuron set is empty");
  std::map<int, std::vector<std::int64_t>> grouped;
  for (const auto& n : neurons) {
    const auto width = mlpWidth(model, n.layer);
    if (n.neuron < 0 || n.neuron >= width) {
      throw ConfigError("neuron path: neuron " + std::to_string(n.neuron) + " of layer " +
                        std::to_string(n.layer) + " is outside [0, " + std::to_string(width) + ")");
    }
    auto& list = grouped[n.layer];
    if (std::find(list.begin(), list.end(), n.neuron) != list.end()) {
      throw ConfigError("neuron path: neuron " + std::to_string(n.neuron) + " of layer " +
                        std::to_string(n.layer) + " is listed twice");
    }
    list.push_back(n.neuron);
  }
  for (auto& [layer, list] : grouped) {
    layers.push_back(layer);
    perLayer.push_back(list);
  }
}

void checkGradientsAllowed() {
  if (c10::InferenceMode::is_enabled()) {
    throw ConfigError(
        "neuron path attributions need gradients, and this runs inside an inference-mode "
        "scope; call it outside c10::InferenceMode");
  }
}

std::vector<NeuronRef> flatten(const std::vector<int>& layers,
                               const std::vector<std::vector<std::int64_t>>& perLayer) {
  std::vector<NeuronRef> out;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    for (auto n : perLayer[i]) out.push_back({layers[i], n});
  }
  return out;
}

}  // namespace

NeuronPathResult findNeuronPath(models::Transformer& model, const models::ModelInput& input,
                                const NeuronPathOptions& options, Progress& progress) {
  checkGradientsAllowed();
  auto s = prepare(model, input, options);
  const auto& c = model.config();
  NeuronPathResult r;
  r.layers = options.layers;
  if (r.layers.empty()) {
    r.layers.resize(static_cast<std::size_t>(c.nLayers));
    std::iota(r.layers.begin(), r.layers.end(), 0);
  }
  std::int64_t narrowest = std::numeric_limits<std::int64_t>::max(), widest = 0;
  for (std::size_t i = 0; i < r.layers.size(); ++i) {
    if (i > 0 && r.layers[i] <= r.layers[i - 1]) {
      throw ConfigError("neuron path: the layers must be ascending and distinct (layer " +
                        std::to_string(r.layers[i]) + " follows " +
                        std::to_string(r.layers[i - 1]) + ")");
    }
    const auto width = mlpWidth(model, r.layers[i]);
    narrowest = std::min(narrowest, width);
    widest = std::max(widest, width);
  }
  if (options.topK < 1 || options.topK > narrowest) {
    throw ConfigError("neuron path: top-K must be in [1, " + std::to_string(narrowest) +
                      "] (the narrowest path layer's MLP width), got " +
                      std::to_string(options.topK));
  }
  r.scoring = options.scoring == NeuronPathScoring::Paper ? "paper" : "reference";
  r.steps = options.steps;
  r.chunk = options.chunk;
  r.topK = options.topK;
  r.enhanceFactor = options.enhanceFactor;

  progress.setStage("neuron path: clean pass");
  double cleanValue = 0.0, cleanProbability = 0.0;
  const auto clean = cleanPass(model, s, r.layers, options, cleanValue, cleanProbability);
  ++r.forwardPasses;
  r.answer = s.answer;
  r.position = s.position;
  r.target = s.targetText;

  const auto n = r.layers.size();
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  r.candidateScores = Eigen::MatrixXd::Constant(static_cast<Eigen::Index>(n), widest, nan);
  r.activations = r.candidateScores;
  ChunkCounter counter{progress, 0, static_cast<int>(n + 2) * chunksPerSweep(options)};
  const double m = options.steps;
  for (std::size_t i = 0; i < n; ++i) {
    progress.setStage("neuron path: layer " + std::to_string(r.layers[i]));
    progress.setFraction(static_cast<double>(counter.done) / counter.total);
    // Earlier path neurons move with alpha; the whole candidate layer moves with them.
    std::vector<LayerScaling> held;
    for (std::size_t j = 0; j < i; ++j) held.push_back({r.layers[j], clean[j], r.path[j], false});
    held.push_back({r.layers[i], clean[i], {}, true});
    const auto sw = sweep(model, s, held, options, counter);
    r.forwardBackwardPasses += sw.passes;
    double prefixPaper = 0.0, prefixGradient = 0.0, prefixActivation = 0.0;
    for (std::size_t j = 0; j < i; ++j) {
      for (auto p : r.path[j]) {
        const double a = clean[j][p].item<double>();
        const double g = sw.gradientSums[j][p].item<double>() / m;
        prefixPaper += a * g;
        prefixGradient += g;
        prefixActivation += a;
      }
    }
    const auto a = clean[i].to(at::kDouble).cpu();  // [F]
    const auto g = (sw.gradientSums[i] / m).cpu();  // [F]
    const auto scores = options.scoring == NeuronPathScoring::Paper
                            ? prefixPaper + a * g
                            : (prefixGradient + g) * (prefixActivation + a);  // [F]
    r.path.push_back(topIndices(scores, options.topK));
    r.activationPath.push_back(topIndices(a, options.topK));
    const auto width = static_cast<Eigen::Index>(scores.size(0));
    const auto row = static_cast<Eigen::Index>(i);
    r.candidateScores.row(row).head(width) =
        Eigen::Map<const Eigen::RowVectorXd>(scores.contiguous().data_ptr<double>(), width);
    r.activations.row(row).head(width) =
        Eigen::Map<const Eigen::RowVectorXd>(a.contiguous().data_ptr<double>(), width);
  }

  progress.setStage("neuron path: scoring the path and the activation path");
  progress.setFraction(static_cast<double>(counter.done) / counter.total);
  r.pathScore = attributeSet(model, s, r.layers, clean, r.path, cleanValue, options, counter,
                             r.forwardBackwardPasses);
  r.activationPathScore = attributeSet(model, s, r.layers, clean, r.activationPath, cleanValue,
                                       options, counter, r.forwardBackwardPasses);

  const auto path = flatten(r.layers, r.path);
  const auto activationPath = flatten(r.layers, r.activationPath);
  const auto p = manipulatedProbabilities(model, s,
                                          {{path, 0.0},
                                           {path, options.enhanceFactor},
                                           {activationPath, 0.0},
                                           {activationPath, options.enhanceFactor}});
  ++r.forwardPasses;
  r.pathEffect = {cleanProbability, p[0], p[1]};
  r.activationPathEffect = {cleanProbability, p[2], p[3]};
  progress.setFraction(1.0);
  return r;
}

JointAttribution jointAttribution(models::Transformer& model, const models::ModelInput& input,
                                  const std::vector<NeuronRef>& neurons,
                                  const NeuronPathOptions& options, Progress& progress) {
  checkGradientsAllowed();
  auto s = prepare(model, input, options);
  std::vector<int> layers;
  std::vector<std::vector<std::int64_t>> perLayer;
  groupByLayer(model, neurons, layers, perLayer);
  progress.setStage("neuron path: joint attribution");
  double cleanValue = 0.0, cleanProbability = 0.0;
  const auto clean = cleanPass(model, s, layers, options, cleanValue, cleanProbability);
  ChunkCounter counter{progress, 0, chunksPerSweep(options)};
  int passes = 0;
  return attributeSet(model, s, layers, clean, perLayer, cleanValue, options, counter, passes);
}

NeuronManipulation manipulateNeurons(models::Transformer& model, const models::ModelInput& input,
                                     const std::vector<NeuronRef>& neurons,
                                     const NeuronPathOptions& options) {
  auto s = prepare(model, input, options);
  std::vector<int> layers;
  std::vector<std::vector<std::int64_t>> perLayer;
  groupByLayer(model, neurons, layers, perLayer);
  double cleanValue = 0.0, cleanProbability = 0.0;
  cleanPass(model, s, layers, options, cleanValue, cleanProbability);
  const auto p =
      manipulatedProbabilities(model, s, {{neurons, 0.0}, {neurons, options.enhanceFactor}});
  return {cleanProbability, p[0], p[1]};
}

}  // namespace cs::analysis
