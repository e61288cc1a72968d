// The training loop (AdamW, warm-up and cosine schedule, periodic evaluation, early stop) and
// seeded initial weights.
#include "analysis/training.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include "core/torch_api.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numbers>

#include "core/error.h"
#include "models/arch/arch.h"

namespace cs::analysis {

namespace {

// Every weight field of the model, defined or not (the list Transformer::to() moves).
template <typename Fn>
void forEachWeight(models::TransformerWeights& w, const Fn& fn) {
  for (auto* t : {&w.W_E, &w.W_pos, &w.W_patch, &w.b_patch, &w.classToken, &w.lnFinal.weight,
                  &w.lnFinal.bias, &w.W_U, &w.b_U}) {
    fn(*t);
  }
  for (auto& b : w.blocks) {
    for (auto* t : {&b.ln1.weight, &b.ln1.bias, &b.attn.W_QKV, &b.attn.b_QKV, &b.attn.W_O,
                    &b.attn.b_O, &b.ln2.weight, &b.ln2.bias, &b.mlp.W_in, &b.mlp.b_in,
                    &b.mlp.W_gate, &b.mlp.W_out, &b.mlp.b_out}) {
      fn(*t);
    }
  }
}

// Makes every non-empty weight an owned leaf that requires gradients (weights from a loader
// may be views of a temporary) and returns them; a tied W_U becomes a view of the new W_E
// again. The destructor turns gradients off again, also when training is cancelled.
class TrainableWeights {
 public:
  explicit TrainableWeights(models::TransformerWeights& w) : m_weights(w) {
    const bool tied = w.W_U.defined() && w.W_E.defined() && w.W_U.is_alias_of(w.W_E);
    auto trainable = [&](const at::Tensor& t) {
      return t.defined() && t.numel() > 0 && !(tied && &t == &w.W_U);
    };
    // forEachWeight names the fields by hand; one added to TransformerWeights but not there
    // would silently stay untrained. Checked before anything changes (no destructor runs if
    // the constructor throws).
    std::size_t listed = 0, stored = 0;
    forEachWeight(w, [&](at::Tensor& t) { listed += trainable(t) ? 1 : 0; });
    for (const auto& [name, t] : w.namedTensors()) stored += t.numel() > 0 ? 1 : 0;
    if (listed != stored) {
      throw Error("internal error: the trainer knows " + std::to_string(listed) + " of the " +
                  std::to_string(stored) + " weights of this model (analysis/training.cpp)");
    }
    forEachWeight(w, [&](at::Tensor& t) {
      if (!trainable(t)) return;
      t = t.detach().clone(at::MemoryFormat::Contiguous).requires_grad_(true);
      m_params.push_back(t);
    });
    if (tied) w.W_U = w.W_E.t();
  }
  ~TrainableWeights() {
    for (auto& t : m_params) t.requires_grad_(false);
    const auto& w = m_weights;
    if (w.W_U.defined() && w.W_E.defined() && w.W_U.is_alias_of(w.W_E)) {
      m_weights.W_U = w.W_E.t();  // a view without autograd history
    }
  }
  TrainableWeights(const TrainableWeights&) = delete;
  TrainableWeights& operator=(const TrainableWeights&) = delete;

  const std::vector<at::Tensor>& params() const { return m_params; }

 private:
  models::TransformerWeights& m_weights;
  std::vector<at::Tensor> m_params;
};

void checkOptions(const TrainOptions& o) {
  if (o.steps <= 0) throw ConfigError("training needs a positive number of steps");
  if (!(o.learningRate > 0.0)) throw ConfigError("training needs a positive learning rate");
  if (o.weightDecay < 0.0 || o.warmupSteps < 0 || o.gradientClip < 0.0) {
    throw ConfigError("weight decay, warm-up steps and the gradient clip must not be negative");
  }
  if (o.evalEvery <= 0) throw ConfigError("training needs a positive evaluation interval");
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0 && o.beta2 >= 0.0 && o.beta2 < 1.0)) {
    throw ConfigError("AdamW betas must lie in [0, 1)");
  }
  // A zero epsilon divides by zero wherever a gradient entry has always been 0.
  if (!(o.epsilon > 0.0)) throw ConfigError("AdamW's epsilon must be positive");
  // Above 1 the rate would grow after the warm-up, below 0 turn negative (gradient ascent).
  if (!(o.finalLearningRateFraction >= 0.0 && o.finalLearningRateFraction <= 1.0)) {
    throw ConfigError("the final learning-rate fraction must lie in [0, 1]");
  }
}

std::string stageText(const std::string& name, std::int64_t step, std::int64_t steps,
                      const TrainLogEntry& last, bool evaluated) {
  char text[160];
  std::snprintf(text, sizeof text, "step %lld/%lld  loss %.4f  batch acc %.3f",
                static_cast<long long>(step), static_cast<long long>(steps), last.loss,
                last.batchAccuracy);
  std::string stage = name.empty() ? std::string(text) : name + "  " + text;
  if (evaluated) {
    std::snprintf(text, sizeof text, "  held-out acc %.4f", last.metric);
    stage += text;
  }
  return stage;
}

}  // namespace

double scheduledLearningRate(const TrainOptions& o, std::int64_t step) {
  if (step < o.warmupSteps) {
    return o.learningRate * static_cast<double>(step + 1) / static_cast<double>(o.warmupSteps);
  }
  if (o.finalLearningRateFraction >= 1.0 || o.steps <= o.warmupSteps) return o.learningRate;
  const double progress =
      static_cast<double>(step - o.warmupSteps) / static_cast<double>(o.steps - o.warmupSteps);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return o.learningRate *
         (o.finalLearningRateFraction + (1.0 - o.finalLearningRateFraction) * cosine);
}

BatchLoss batchLoss(const at::Tensor& logits, const data::EvalBatch& batch) {
  at::Tensor predicted;  // [N, V]
  at::Tensor targets;    // [N]
  if (batch.lossMask.defined()) {
    // Logits at t - 1 predict the token at t wherever the mask marks t.
    const auto T = batch.tokens.size(1);
    const auto mask = batch.lossMask.narrow(1, 1, T - 1).to(logits.device());
    predicted = logits.narrow(1, 0, T - 1).index({mask});
    targets = batch.tokens.narrow(1, 1, T - 1).to(logits.device()).index({mask});
  } else if (batch.scorePositions.defined()) {
    const auto positions = batch.scorePositions.to(logits.device());
    predicted = logits.index({at::arange(logits.size(0), positions.options()), positions});
    targets = batch.targets.to(logits.device());
  } else {
    predicted = logits;
    targets = batch.targets.to(logits.device());
  }
  if (predicted.size(0) == 0) throw ConfigError("a training batch scores no predictions");
  BatchLoss out;
  out.loss = at::cross_entropy_loss(predicted, targets);
  out.predictions = predicted.size(0);
  out.correct = predicted.detach().argmax(-1).eq(targets).sum().item<std::int64_t>();
  return out;
}

TrainLoopResult trainModel(models::Transformer& model, const BatchSource& batches,
                           const Evaluator& evaluator, const TrainOptions& options,
                           Progress& progress, const std::string& stageName) {
  checkOptions(options);
  at::AutoGradMode gradients(true);
  TrainableWeights weights(model.weights());
  torch::optim::AdamW optimizer(weights.params(), torch::optim::AdamWOptions(options.learningRate)
                                                      .betas({options.beta1, options.beta2})
                                                      .eps(options.epsilon)
                                                      .weight_decay(options.weightDecay));
  auto& groupOptions =
      static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups().front().options());

  TrainLoopResult result;
  TrainLogEntry last;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  progress.setStage(stageText(stageName, 0, options.steps, last, false));
  int shownPermille = 0;
  for (std::int64_t step = 0; step < options.steps;) {
    progress.check();
    groupOptions.lr(scheduledLearningRate(options, step));
    const auto batch = batches(step);
    optimizer.zero_grad();
    const auto logits =
        model.forward(models::ModelInput{batch.tokens, batch.attentionMask, {}, batch.pixels});
    const auto loss = batchLoss(logits, batch);
    loss.loss.backward();
    if (options.gradientClip > 0.0) {
      torch::nn::utils::clip_grad_norm_(weights.params(), options.gradientClip);
    }
    optimizer.step();
    ++step;
    last.step = step;
    last.loss = loss.loss.item<double>();
    last.batchAccuracy = static_cast<double>(loss.correct) / static_cast<double>(loss.predictions);
    if (!std::isfinite(last.loss)) {
      throw Error("training diverged at step " + std::to_string(step) +
                  " (the loss is not finite); lower the learning rate");
    }
    result.steps = step;
    if (step % options.evalEvery == 0 || step == options.steps) {
      {
        at::NoGradGuard noGrad;
        last.metric = evaluator(model);
      }
      last.seconds = elapsed();
      result.lastMetric = last.metric;
      result.log.push_back(last);
      // setStage resets the fraction; put it back.
      progress.setStage(stageText(stageName, step, options.steps, last, true));
      progress.setFraction(static_cast<double>(step) / static_cast<double>(options.steps));
      if (options.target > 0.0 && last.metric >= options.target) {
        result.reachedTarget = true;
        break;
      }
    }
    const int permille = static_cast<int>(1000 * step / options.steps);
    if (permille != shownPermille) {
      shownPermille = permille;
      progress.setFraction(static_cast<double>(step) / static_cast<double>(options.steps));
    }
  }
  result.seconds = elapsed();
  progress.setFraction(1.0);
  return result;
}

std::unique_ptr<models::Transformer> initialTransformer(const models::TransformerConfig& config,
                                                        std::uint64_t seed, double std) {
  config.validate();
  if (!(std > 0.0)) throw ConfigError("the initial weight scale must be positive");
  const auto& arch = models::nativeArch();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::map<std::string, at::Tensor> byName;
  for (const auto& spec : arch.tensorSpecs(config)) {
    at::Tensor t;
    switch (spec.init) {
      case models::InitKind::Matrix:
        t = at::empty(spec.shape, at::kFloat).normal_(0.0, std, generator);
        break;
      case models::InitKind::Bias:
        t = at::zeros(spec.shape, at::kFloat);
        break;
      case models::InitKind::NormWeight:
        t = at::ones(spec.shape, at::kFloat);
        break;
    }
    byName.emplace(spec.name, std::move(t));
  }
  const models::TensorGetter get = [&byName](const std::string& name) { return byName.at(name); };
  return std::make_unique<models::Transformer>(config, arch.mapWeights(config, get));
}

}  // namespace cs::analysis
