// `inspect FILE.h5 [--json] [--repair]`: what an activation store holds: model, dataset,
// completeness, inputs and hooks with their shapes, axes and dtypes. --repair first extends a
// store that a failed write (a full disk) left shorter than its header records.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "data/dtype.h"
#include "data/store/activation_store_reader.h"
#include "data/store/store_repair.h"

namespace cs::cli {

namespace {

struct InspectArgs {
  std::string file;
  bool json = false;
  bool repair = false;
};

std::string shapeText(std::int64_t rows, const std::vector<std::int64_t>& rowShape) {
  std::string text = "[" + std::to_string(rows);
  for (auto d : rowShape) text += ", " + std::to_string(d);
  return text + "]";
}

void inspectCommand(const InspectArgs& args) {
  if (args.repair && data::extendCutShortStore(args.file))
    std::fprintf(stderr, "repaired %s: extended to the end its header records\n",
                 args.file.c_str());
  const data::ActivationStoreReader store(args.file);
  const auto& h = store.header();
  if (args.json) {
    nlohmann::json j{{"file", args.file},
                     {"format_version", h.formatVersion},
                     {"tool_version", h.toolVersion},
                     {"created", h.created},
                     {"complete", h.complete},
                     {"rows_written", h.rowsWritten},
                     {"dataset", h.layout.dataset},
                     {"positions", h.layout.positions},
                     {"storage_dtype", data::storageDtypeName(h.options.dtype)},
                     {"compression", data::compressionName(h.options.compression)},
                     {"model",
                      {{"family", h.layout.model.family},
                       {"weights_sha256", h.layout.model.weightsSha256},
                       {"source_folder", h.layout.model.sourceFolder}}}};
    for (const auto& [key, list] :
         {std::pair{"inputs", &h.layout.inputs}, std::pair{"hooks", &h.layout.activations}}) {
      auto arrays = nlohmann::json::array();
      for (const auto& a : *list) {
        auto shape = nlohmann::json::array({h.rowsWritten});
        for (auto d : a.rowShape) shape.push_back(d);
        arrays.push_back({{"name", a.name},
                          {"shape", shape},
                          {"axes", a.axes},
                          {"source_dtype", data::dtypeDisplayName(a.dtype)}});
      }
      j[key] = arrays;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("store        %s (format %lld, circuitscope %s, created %s)\n", args.file.c_str(),
              static_cast<long long>(h.formatVersion), h.toolVersion.c_str(), h.created.c_str());
  std::printf("complete     %s, %lld examples\n",
              h.complete ? "yes" : "no (resume with record --resume)",
              static_cast<long long>(h.rowsWritten));
  std::printf("model        %s from %s\n", h.layout.model.family.c_str(),
              h.layout.model.sourceFolder.c_str());
  std::printf("weights      sha256 %s\n", h.layout.model.weightsSha256.c_str());
  std::printf("dataset      %s\n", h.layout.dataset.c_str());
  std::printf("positions    %s\n", h.layout.positions.c_str());
  std::printf("storage      %s, compression %s\n", data::storageDtypeName(h.options.dtype).c_str(),
              data::compressionName(h.options.compression).c_str());
  std::printf("inputs\n");
  for (const auto& a : h.layout.inputs)
    std::printf("  %-32s %-24s %-28s %s\n", a.name.c_str(),
                shapeText(h.rowsWritten, a.rowShape).c_str(), a.axes.c_str(),
                data::dtypeDisplayName(a.dtype).c_str());
  std::printf("hooks (%zu)\n", h.layout.activations.size());
  for (const auto& a : h.layout.activations)
    std::printf("  %-32s %-24s %-28s from %s\n", a.name.c_str(),
                shapeText(h.rowsWritten, a.rowShape).c_str(), a.axes.c_str(),
                data::dtypeDisplayName(a.dtype).c_str());
}

}  // namespace

void addInspectCommand(CLI::App& app, const GlobalOptions& /*options*/) {
  auto* cmd = app.add_subcommand("inspect", "list what an activation store holds");
  auto args = std::make_shared<InspectArgs>();
  cmd->add_option("FILE", args->file, "an activation store (.h5)")->required();
  cmd->add_flag("--json", args->json, "print one JSON object");
  cmd->add_flag("--repair", args->repair,
                "first make a store cut short by a failed write (a full disk) readable again");
  cmd->callback([args] { inspectCommand(*args); });
}

}  // namespace cs::cli
