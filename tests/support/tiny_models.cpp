// Section 10 fixture models, built from the random checkpoint generator so that they are
// exactly what loading a written folder of that shape gives.
#include "support/tiny_models.h"

#include "core/torch_api.h"

#include "models/random_checkpoint.h"

namespace cs::test {

namespace {

void zeroBiases(models::TransformerWeights& w) {
  for (auto* t : {&w.b_patch, &w.lnFinal.bias, &w.b_U}) {
    if (t->defined()) t->zero_();
  }
  for (auto& b : w.blocks) {
    for (auto* t :
         {&b.ln1.bias, &b.attn.b_QKV, &b.attn.b_O, &b.ln2.bias, &b.mlp.b_in, &b.mlp.b_out}) {
      if (t->defined()) t->zero_();
    }
  }
}

std::unique_ptr<models::Transformer> finish(models::TransformerConfig config, std::uint64_t seed,
                                            const TinyVariant& variant) {
  auto model = models::randomTransformer(config, seed, variant.weightStd);
  model->to(torch::kCPU, torch::kDouble);
  torch::NoGradGuard noGrad;
  if (variant.zeroBiases) zeroBiases(model->weights());
  if (variant.attentionFree) {
    for (int l = 0; l < config.nLayers; ++l) {
      model->setSkipped(l, models::Sublayer::Attention, true);
    }
  }
  return model;
}

}  // namespace

std::unique_ptr<models::Transformer> tinyVit(std::uint64_t seed, TinyVariant variant) {
  models::ModelShape shape;
  shape.family = "vit";
  shape.nLayers = 2;
  shape.dModel = 8;
  shape.nHeads = 2;
  shape.dMlp = 16;
  shape.nClasses = 3;
  shape.imageSize = 8;
  shape.patchSize = 4;
  shape.nChannels = 3;
  auto config = models::configForShape(shape);
  config.activation = models::Activation::Gelu;
  return finish(config, seed, variant);
}

std::unique_ptr<models::Transformer> tinyLm(std::uint64_t seed, const char* family,
                                            TinyVariant variant) {
  models::ModelShape shape;
  shape.family = family;
  shape.nLayers = 2;
  shape.dModel = 8;
  shape.nHeads = 2;
  shape.dMlp = 16;
  shape.dVocab = 16;
  shape.nCtx = 16;
  return finish(models::configForShape(shape), seed, variant);
}

at::Tensor tinyImages(std::int64_t n, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({n, 3, 8, 8}, generator, at::TensorOptions().dtype(at::kDouble));
}

at::Tensor tinyTokens(std::int64_t n, std::int64_t length, std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(0, 16, {n, length}, generator, at::TensorOptions().dtype(at::kLong));
}

std::unique_ptr<models::Transformer> linearSectionModel(int vocab, std::uint64_t seed) {
  models::ModelShape shape;
  shape.nLayers = 1;
  shape.dModel = 6;
  shape.nHeads = 2;
  shape.dVocab = vocab;
  shape.nCtx = 4;
  auto config = models::configForShape(shape);
  config.norm = models::NormKind::None;
  auto model = models::randomTransformer(config, seed, 0.5);
  model->to(torch::kCPU, torch::kDouble);
  model->weights().b_U = at::randn({vocab}, at::TensorOptions().dtype(at::kDouble));
  model->setSkipped(0, models::Sublayer::Attention, true);
  model->setSkipped(0, models::Sublayer::Mlp, true);
  return model;
}

}  // namespace cs::test
