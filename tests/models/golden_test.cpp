// Golden tests: the Transformer reproduces the Hugging Face reference outputs (transformers
// 4.47.1) for gpt2-tiny, llama-tiny and vit-tiny: every hidden state, attention pattern, MLP
// activation, the logits, the loss and the input gradient. Prints the largest difference per
// tensor by name.
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <iomanip>
#include <iostream>

#include "data/safetensors.h"
#include "hooks/activation_cache.h"
#include "models/cache_run.h"
#include "models/loaders/hf_loader.h"
#include "support/test_support.h"

namespace cs::models {
namespace {

using hooks::HookKind;
using hooks::HookPoint;

constexpr double kLogitTol = 1e-4;
constexpr double kProbTol = 1e-5;
constexpr double kHiddenTol = 1e-4;
constexpr double kGradTol = 1e-4;

class Golden {
 public:
  explicit Golden(const std::string& name)
      : m_name(name),
        m_expected(
            data::SafetensorsFile::open(test::dataPath("hf/" + name + "/expected.safetensors"))),
        m_model(loadHfModel(test::dataPath("hf/" + name))) {}

  at::Tensor expected(const std::string& tensor) const { return m_expected.tensor(tensor); }
  Transformer& model() { return *m_model; }

  /// Compares and reports; fails the test if the difference exceeds tol.
  void check(const std::string& what, const at::Tensor& actual, const std::string& tensor,
             double tol) {
    checkAgainst(what, actual, expected(tensor), tensor, tol);
  }

  void checkAgainst(const std::string& what, const at::Tensor& actual, const at::Tensor& want,
                    const std::string& tensor, double tol) {
    ASSERT_EQ(actual.sizes(), want.sizes()) << m_name << " " << what;
    const double diff = test::maxAbsDiff(actual, want);
    std::cout << "  " << std::left << std::setw(12) << m_name << std::setw(34) << what << " vs "
              << std::setw(22) << tensor << " max|diff| = " << std::scientific
              << std::setprecision(2) << diff << std::defaultfloat << "\n";
    EXPECT_LE(diff, tol) << m_name << ": " << what << " vs " << tensor;
  }

 private:
  std::string m_name;
  data::SafetensorsFile m_expected;
  std::unique_ptr<Transformer> m_model;
};

std::vector<std::string> everyIntermediate() {
  return {"blocks.*.hook_resid_pre", "blocks.*.hook_resid_post", "blocks.*.attn.hook_pattern",
          "blocks.*.mlp.hook_post",  "ln_final.hook_normalized", "hook_embed"};
}

// Mean cross-entropy of next-token prediction, as HF computes with labels = input ids.
at::Tensor causalLmLoss(const at::Tensor& logits, const at::Tensor& ids) {
  const auto V = logits.size(-1);
  return at::cross_entropy_loss(logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, V}),
                                ids.narrow(1, 1, ids.size(1) - 1).reshape({-1}));
}

ModelInput tokensInput(const at::Tensor& ids) {
  ModelInput input;
  input.tokens = ids;
  return input;
}

void checkLanguageModel(const std::string& name) {
  Golden g(name);
  const auto ids = g.expected("input_ids");
  hooks::ActivationCache cache;
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    logits = runWithCache(g.model(), tokensInput(ids), everyIntermediate(), cache);
  }
  const int L = g.model().config().nLayers;
  g.check("hook_logits", logits, "logits", kLogitTol);
  g.checkAgainst("softmax(hook_logits)", logits.softmax(-1), g.expected("logits").softmax(-1),
                 "softmax(logits)", kProbTol);
  g.check("blocks.0.hook_resid_pre", cache.at(HookKind::ResidPre, 0), "hidden_states.0",
          kHiddenTol);
  for (int l = 1; l < L; ++l) {
    g.check(hooks::hookName(HookKind::ResidPre, l), cache.at(HookKind::ResidPre, l),
            "hidden_states." + std::to_string(l), kHiddenTol);
    g.check(hooks::hookName(HookKind::ResidPost, l - 1), cache.at(HookKind::ResidPost, l - 1),
            "hidden_states." + std::to_string(l), kHiddenTol);
  }
  g.check("ln_final.hook_normalized", cache.at(HookKind::LnFinalNormalized),
          "hidden_states." + std::to_string(L), kHiddenTol);
  for (int l = 0; l < L; ++l) {
    g.check(hooks::hookName(HookKind::Pattern, l), cache.at(HookKind::Pattern, l),
            "attentions." + std::to_string(l), kProbTol);
    g.check(hooks::hookName(HookKind::MlpPost, l), cache.at(HookKind::MlpPost, l),
            "mlp_post." + std::to_string(l), kHiddenTol);
  }
  g.check("causal LM loss", causalLmLoss(logits, ids).reshape({1}), "loss", kLogitTol);

  // Input gradient: d logits[0, 6, target] / d inputs_embeds for example 0.
  const auto embeds = g.expected("inputs_embeds").clone().requires_grad_(true);
  g.check("W_E[input_ids[0]]", g.model().weights().W_E.index({ids[0]}).unsqueeze(0),
          "inputs_embeds", 0.0);
  ModelInput byEmbeddings;
  byEmbeddings.embeddings = embeds;
  const auto out = g.model().forward(byEmbeddings);
  const auto target = g.expected("grad_target")[0].item<int64_t>();
  EXPECT_EQ(out[0][6].argmax().item<int64_t>(), target);
  out[0][6][target].backward();
  g.check("d logit / d embeddings", embeds.grad(), "grad_inputs_embeds", kGradTol);
}

TEST(Golden, Gpt2MatchesHuggingFace) { checkLanguageModel("gpt2-tiny"); }

TEST(Golden, LlamaMatchesHuggingFace) { checkLanguageModel("llama-tiny"); }

TEST(Golden, VitMatchesHuggingFace) {
  Golden g("vit-tiny");
  const auto pixels = g.expected("pixel_values");
  ModelInput input;
  input.pixels = pixels;
  hooks::ActivationCache cache;
  at::Tensor logits;
  {
    c10::InferenceMode guard;
    logits = runWithCache(g.model(), input, everyIntermediate(), cache);
  }
  const int L = g.model().config().nLayers;
  g.check("hook_logits", logits, "logits", kLogitTol);
  g.checkAgainst("softmax(hook_logits)", logits.softmax(-1), g.expected("logits").softmax(-1),
                 "softmax(logits)", kProbTol);
  g.check("hook_embed[:, 1:] (patches)", cache.at(HookKind::Embed).narrow(1, 1, 16),
          "patch_embeddings", kHiddenTol);
  for (int l = 0; l < L; ++l) {
    g.check(hooks::hookName(HookKind::ResidPre, l), cache.at(HookKind::ResidPre, l),
            "hidden_states." + std::to_string(l), kHiddenTol);
    g.check(hooks::hookName(HookKind::ResidPost, l), cache.at(HookKind::ResidPost, l),
            "hidden_states." + std::to_string(l + 1), kHiddenTol);
    g.check(hooks::hookName(HookKind::Pattern, l), cache.at(HookKind::Pattern, l),
            "attentions." + std::to_string(l), kProbTol);
    g.check(hooks::hookName(HookKind::MlpPost, l), cache.at(HookKind::MlpPost, l),
            "mlp_post." + std::to_string(l), kHiddenTol);
  }
  g.check("ln_final.hook_normalized", cache.at(HookKind::LnFinalNormalized), "last_hidden_state",
          kHiddenTol);
  g.check("cross-entropy loss", at::cross_entropy_loss(logits, g.expected("labels")).reshape({1}),
          "loss", kLogitTol);

  // Gradients of logits[0, target] w.r.t. the pixels and the patch embeddings (example 0).
  const auto target = g.expected("grad_target")[0].item<int64_t>();
  ModelInput one;
  one.pixels = pixels.narrow(0, 0, 1).clone().requires_grad_(true);
  at::Tensor patchLeaf;
  auto handle = g.model().hooks().add(
      HookPoint{HookKind::Embed, -1},
      [&](const at::Tensor& x, const HookPoint&) -> std::optional<at::Tensor> {
        // Re-root the patch part at a leaf so its gradient is kept.
        patchLeaf = x.narrow(1, 1, x.size(1) - 1).detach().requires_grad_(true);
        return at::cat({x.narrow(1, 0, 1), patchLeaf}, 1);
      });
  const auto out = g.model().forward(one);
  EXPECT_EQ(out[0].argmax().item<int64_t>(), target);
  out[0][target].backward();
  g.check("d logit / d patch embeddings", patchLeaf.grad(), "grad_patch_embeddings", kGradTol);
  // Pixels lose their gradient path at the detach above; recompute without the hook.
  handle.reset();
  ModelInput again;
  again.pixels = pixels.narrow(0, 0, 1).clone().requires_grad_(true);
  g.model().forward(again)[0][target].backward();
  g.check("d logit / d pixels", again.pixels.grad(), "grad_pixel_values", kGradTol);
}

}  // namespace
}  // namespace cs::models
