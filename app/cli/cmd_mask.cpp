// `mask MODEL_DIR --out MASK.json [--head L.H ...] [--neuron L.I ...] [--attn L ...] [--mlp L ...]
// [--block L ...] [--mode M] [--value X] [--random-heads F] [--random-neurons F] [--seed S]`:
// writes a mask file for the model (its fingerprint included); `--show MASK.json` lists one.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <random>

#include "app/cli/commands.h"
#include "core/error.h"
#include "models/loaders/hf_loader.h"
#include "models/mask_application.h"
#include "models/mask_file.h"

namespace cs::cli {

namespace {
using hooks::MaskComponent;

struct MaskArgs {
  std::string folder;
  std::string out;
  std::string show;
  std::vector<std::string> heads, neurons, attn, mlp, blocks;
  std::string mode = "zero";
  double value = 1.0;
  double randomHeads = 0.0, randomNeurons = 0.0;
  unsigned seed = 0;
  std::string description;
};

int parseIndex(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  int value = -1;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < 0) {
    throw ConfigError(what + ": \"" + text + "\" is not a non-negative integer");
  }
  return value;
}

// "L.I" (or "L.*" for every index of the layer) for heads and neurons; "L" for the rest.
void addTargets(const std::vector<std::string>& specs, MaskComponent component,
                const hooks::MaskEntry& like, const models::TransformerConfig& config,
                hooks::MaskSet& masks) {
  const auto option = "--" + std::string(hooks::componentName(component));
  for (const auto& spec : specs) {
    hooks::MaskEntry e = like;
    e.component = component;
    if (!hooks::componentHasIndex(component)) {
      e.layer = parseIndex(spec, option);
      masks.set(e);
      continue;
    }
    const auto dot = spec.find('.');
    if (dot == std::string::npos) {
      throw ConfigError(option + " takes LAYER.INDEX (or LAYER.*), got \"" + spec + "\"");
    }
    e.layer = parseIndex(spec.substr(0, dot), option + " layer");
    if (e.layer >= config.nLayers) {
      throw ConfigError(option + " " + spec + ": the model has layers 0 to " +
                        std::to_string(config.nLayers - 1));
    }
    const auto rest = spec.substr(dot + 1);
    if (rest == "*") {
      const int n =
          component == MaskComponent::Head ? config.nHeads[e.layer] : config.dMlp[e.layer];
      for (int i = 0; i < n; ++i) {
        e.index = i;
        masks.set(e);
      }
    } else {
      e.index = parseIndex(rest, option + " index");
      masks.set(e);
    }
  }
}

// A seeded random fraction of every layer's heads or neurons.
void addRandom(double fraction, MaskComponent component, const hooks::MaskEntry& like,
               const models::TransformerConfig& config, std::mt19937& rng, hooks::MaskSet& masks) {
  if (fraction <= 0.0) return;
  for (int l = 0; l < config.nLayers; ++l) {
    const int n = component == MaskComponent::Head ? config.nHeads[l] : config.dMlp[l];
    std::vector<int> order(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const auto count = static_cast<std::size_t>(fraction * n + 0.5);
    for (std::size_t i = 0; i < count; ++i) {
      hooks::MaskEntry e = like;
      e.component = component;
      e.layer = l;
      e.index = order[i];
      masks.set(e);
    }
  }
}

void showMask(const std::string& path) {
  const auto doc = models::readMaskFile(path);
  std::printf("model      %s (%s), %d layers\n", doc.model.family.c_str(),
              doc.model.modelType.c_str(), doc.model.nLayers);
  if (!doc.description.empty()) std::printf("about      %s\n", doc.description.c_str());
  std::printf("entries    %zu\n", doc.masks.size());
  for (const auto& e : doc.masks.entries()) {
    std::printf("  %-16s %-9s", hooks::describeTarget(e).c_str(),
                std::string(hooks::modeName(e.mode)).c_str());
    if (e.mode == hooks::AblationMode::Scale) std::printf(" x%g", e.value);
    std::printf("  %s\n", models::maskHookName(e).c_str());
  }
}

void maskCommand(const MaskArgs& args) {
  if (!args.show.empty()) {
    showMask(args.show);
    return;
  }
  if (args.folder.empty() || args.out.empty()) {
    throw ConfigError("give MODEL_DIR and --out MASK.json (or --show MASK.json)");
  }
  const auto mode = hooks::parseMode(args.mode);
  if (!mode) throw ConfigError("--mode must be zero, mean, resample or scale");
  for (double f : {args.randomHeads, args.randomNeurons}) {
    if (f < 0.0 || f > 1.0) throw ConfigError("random fractions must lie in [0, 1]");
  }
  const auto config = models::readHfConfig(args.folder);
  hooks::MaskEntry like;
  like.mode = *mode;
  like.value = args.value;
  hooks::MaskSet masks;
  addTargets(args.heads, MaskComponent::Head, like, config, masks);
  addTargets(args.neurons, MaskComponent::Neuron, like, config, masks);
  addTargets(args.attn, MaskComponent::AttnSublayer, like, config, masks);
  addTargets(args.mlp, MaskComponent::MlpSublayer, like, config, masks);
  addTargets(args.blocks, MaskComponent::Block, like, config, masks);
  std::mt19937 rng(args.seed);
  addRandom(args.randomHeads, MaskComponent::Head, like, config, rng, masks);
  addRandom(args.randomNeurons, MaskComponent::Neuron, like, config, rng, masks);
  const auto fingerprint = models::fingerprintOfFolder(args.folder);
  // The same checks an import makes, before anything is written.
  models::validateMasks(config, masks);
  models::saveMaskFile(args.out, masks, fingerprint, args.description);
  std::printf("wrote %zu entries to %s\n", masks.size(), args.out.c_str());
}
}  // namespace

void addMaskCommand(CLI::App& app, const GlobalOptions&) {
  auto* cmd = app.add_subcommand("mask", "write a mask file for a model, or show one");
  auto args = std::make_shared<MaskArgs>();
  addModelFolderOption(cmd, args->folder, "model folder the mask is for");
  cmd->add_option("--out", args->out, "mask file to write");
  cmd->add_option("--show", args->show, "list the entries of a mask file and stop");
  cmd->add_option("--head", args->heads, "LAYER.HEAD or LAYER.* (repeatable)");
  cmd->add_option("--neuron", args->neurons, "LAYER.NEURON or LAYER.* (repeatable)");
  cmd->add_option("--attn", args->attn, "LAYER: the attention sublayer (repeatable)");
  cmd->add_option("--mlp", args->mlp, "LAYER: the MLP sublayer (repeatable)");
  cmd->add_option("--block", args->blocks, "LAYER: the whole block (repeatable)");
  cmd->add_option("--mode", args->mode, "zero, mean, resample or scale")->capture_default_str();
  cmd->add_option("--value", args->value, "the factor for --mode scale")->capture_default_str();
  cmd->add_option("--random-heads", args->randomHeads,
                  "also mask this fraction of each layer's heads");
  cmd->add_option("--random-neurons", args->randomNeurons,
                  "also mask this fraction of each layer's MLP neurons");
  cmd->add_option("--seed", args->seed, "seed of the random choice")->capture_default_str();
  cmd->add_option("--description", args->description, "free text stored in the file");
  cmd->callback([args] { maskCommand(*args); });
}

}  // namespace cs::cli
