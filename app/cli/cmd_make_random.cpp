// `make-random --family gpt2|llama|vit [sizes] OUT_DIR`: a random checkpoint in the Hugging
// Face layout, for benchmarks and experiments at any shape.
#include <CLI/CLI.hpp>
#include <iostream>

#include "app/cli/commands.h"
#include "models/random_checkpoint.h"

namespace cs::cli {

void addMakeRandomCommand(CLI::App& app, const GlobalOptions&) {
  auto* cmd = app.add_subcommand("make-random", "write a random checkpoint of any shape");
  auto shape = std::make_shared<models::ModelShape>();
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<std::uint64_t>(0);
  auto std = std::make_shared<double>(0.02);
  cmd->add_option("--family", shape->family, "gpt2, llama or vit")
      ->check(CLI::IsMember({"gpt2", "llama", "vit"}))
      ->capture_default_str();
  cmd->add_option("--layers", shape->nLayers)->capture_default_str()->check(CLI::Range(0, 4096));
  cmd->add_option("--d-model", shape->dModel)->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--heads", shape->nHeads)->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--kv-heads", shape->nKvHeads, "llama: key/value heads (default: --heads)");
  cmd->add_option("--d-mlp", shape->dMlp, "MLP width (default: 4 x d-model)");
  cmd->add_option("--vocab", shape->dVocab)->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--n-ctx", shape->nCtx, "positions")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--classes", shape->nClasses, "vit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--image-size", shape->imageSize, "vit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--patch-size", shape->patchSize, "vit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", *seed)->capture_default_str();
  cmd->add_option("--std", *std, "standard deviation of the matrices")->capture_default_str();
  cmd->add_option("OUT_DIR", *out, "folder to write config.json and model.safetensors into")
      ->required();
  cmd->callback([shape, out, seed, std] {
    const auto config = models::configForShape(*shape);
    models::writeRandomCheckpoint(config, *out, *seed, *std);
    std::cout << "wrote " << config.family << " checkpoint (" << config.nLayers
              << " layers, d_model " << config.dModel << ") to " << *out << "\n";
  });
}

}  // namespace cs::cli
