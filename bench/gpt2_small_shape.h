// The model shape the benchmarks measure: GPT-2 small (124M parameters), random weights.
#pragma once

#include "models/random_checkpoint.h"

namespace cs::bench {

inline models::ModelShape gpt2SmallShape(int layers = 12) {
  models::ModelShape shape;
  shape.family = "gpt2";
  shape.nLayers = layers;
  shape.dModel = 768;
  shape.nHeads = 12;
  shape.dMlp = 3072;
  shape.dVocab = 50257;
  shape.nCtx = 1024;
  return shape;
}

}  // namespace cs::bench
