// Streams each node layer's recorded activations once, batch by batch, into float64 sums of
// outer products: memory is one batch plus n x n per node layer, whatever the store's size.
#include "analysis/lib_recorded_grams.h"

#include "core/torch_api.h"

#include <algorithm>

#include "core/error.h"
#include "core/shape_text.h"
#include "data/store/activation_store_reader.h"

namespace cs::analysis {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd toEigen(const at::Tensor& t) {
  const auto c = t.to(at::kDouble).contiguous();
  return Eigen::Map<const RowMatrix>(c.data_ptr<double>(), c.size(0), c.size(1));
}

std::string shortDigest(const std::string& hex) {
  return hex.empty() ? std::string("none") : hex.substr(0, 12);
}

// The recorded hook of a node layer and how one example's rows become [rows, width] without the
// constant coordinate: residual layers keep every position, the output its scored one.
struct Source {
  std::string hook;
  std::int64_t position = -1;  // output of a language model: the position taken; -1 all
};

Source sourceFor(const data::ActivationStoreReader& reader, const RecordedNodeLayer& layer,
                 const std::string& where) {
  const bool output = !layer.hasConstant;
  Source source{output ? std::string("hook_logits") : layer.name, -1};
  const auto hooks = reader.hooks();
  if (std::find(hooks.begin(), hooks.end(), source.hook) == hooks.end()) {
    throw ConfigError(where + " holds no " + source.hook + " activations, which the node layer " +
                      layer.name + " needs: record it with --hooks " + source.hook +
                      " (or leave that node layer out)");
  }
  const auto& shape = reader.activation(source.hook).rowShape;
  const auto featureWidth = output ? layer.width : layer.width - 1;
  const auto misfit = [&](const std::string& why) {
    return ConfigError(where + ": " + source.hook + " is recorded with rows of shape " +
                       shapeText(shape) + ", " + why +
                       "; record the same model on rows of the analysed length");
  };
  if (shape.empty() || shape.back() != featureWidth) {
    throw misfit("but the model's " + layer.name + " has width " + std::to_string(featureWidth));
  }
  if (output) {
    if (shape.size() == 1) return source;  // a classifier's logits: one row per example
    if (shape.size() != 2) throw misfit("not [positions, classes]");
    source.position = layer.outputPosition < 0 ? shape[0] - 1 : layer.outputPosition;
    if (source.position >= shape[0]) {
      throw misfit("which has no position " + std::to_string(source.position));
    }
    return source;
  }
  if (shape.size() != 2 || shape[0] != layer.positions) {
    throw misfit("but the analysed rows have " + std::to_string(layer.positions) + " positions");
  }
  return source;
}

void requireSameModel(const data::ActivationStoreReader& reader, const data::ModelIdentity& model,
                      const std::string& where) {
  const auto& recorded = reader.header().layout.model;
  if (recorded.weightsSha256 != model.weightsSha256 || recorded.configJson != model.configJson) {
    throw ConfigError(where + " was recorded from another model (weights sha256 " +
                      shortDigest(recorded.weightsSha256) + "..., from " + recorded.sourceFolder +
                      "); the analysed model's weights are " + shortDigest(model.weightsSha256) +
                      "...: record this model's activations, or analyse the model that made the "
                      "recording");
  }
}

}  // namespace

RecordedGrams gramsFromRecording(const LibGramRecording& recording,
                                 const std::vector<RecordedNodeLayer>& layers, Progress& progress) {
  if (recording.batchSize <= 0) throw ConfigError("LIB: the recording batch size must be > 0");
  if (recording.limit < 0) throw ConfigError("LIB: the recording limit must be >= 0");
  const auto where = "the recording " + recording.store.string();
  const data::ActivationStoreReader reader(recording.store);
  requireSameModel(reader, recording.model, where);
  const bool residual = std::any_of(layers.begin(), layers.end(),
                                    [](const RecordedNodeLayer& l) { return l.hasConstant; });
  if (residual && reader.header().layout.positions != "all") {
    throw ConfigError(where + " holds positions " + reader.header().layout.positions +
                      " only; the Gram of a residual node layer averages over every position: "
                      "record with --positions all");
  }
  std::vector<Source> sources;
  for (const auto& layer : layers) sources.push_back(sourceFor(reader, layer, where));
  const auto examples =
      recording.limit > 0 ? std::min(recording.limit, reader.rows()) : reader.rows();
  if (examples <= 0) {
    throw ConfigError(where + " holds no finished examples yet; record some first");
  }

  RecordedGrams out;
  out.examples = examples;
  const auto total = static_cast<double>(layers.size() * static_cast<std::size_t>(examples));
  double done = 0.0;
  torch::NoGradGuard noGrad;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& layer = layers[l];
    const auto features = layer.hasConstant ? layer.width - 1 : layer.width;
    auto outer = at::zeros({features, features}, at::kDouble);
    auto sum = at::zeros({features}, at::kDouble);
    std::int64_t count = 0;
    for (std::int64_t begin = 0; begin < examples; begin += recording.batchSize) {
      progress.check();
      const auto n = std::min(recording.batchSize, examples - begin);
      auto rows = reader.readActivations(sources[l].hook, begin, n).to(at::kDouble);
      if (sources[l].position >= 0) rows = rows.select(1, sources[l].position);
      rows = rows.reshape({-1, features});
      if (!at::isfinite(rows).all().item<bool>()) {
        throw NumericError(where + " holds non-finite activations in " + sources[l].hook +
                           " between examples " + std::to_string(begin) + " and " +
                           std::to_string(begin + n) + "; record them again");
      }
      outer.addmm_(rows.t(), rows);
      sum.add_(rows.sum(0));
      count += rows.size(0);
      done += static_cast<double>(n);
      progress.setFraction(done / total);
    }
    // Folded: [h, 1] [h, 1]^T = [[h h^T, h], [h^T, 1]].
    const auto inv = 1.0 / static_cast<double>(count);
    Eigen::MatrixXd G(layer.width, layer.width);
    Eigen::VectorXd mean(layer.width);
    G.topLeftCorner(features, features) = toEigen(outer) * inv;
    mean.head(features) = toEigen(sum.unsqueeze(1)) * inv;
    if (layer.hasConstant) {
      G.col(features).head(features) = mean.head(features);
      G.row(features).head(features) = mean.head(features).transpose();
      G(features, features) = 1.0;
      mean[features] = 1.0;
    }
    out.gram.push_back(std::move(G));
    out.mean.push_back(std::move(mean));
  }
  return out;
}

}  // namespace cs::analysis
