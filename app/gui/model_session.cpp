// The GUI's model work, in terms of the libraries the command line uses.
#include "app/gui/model_session.h"

#include "core/torch_api.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "analysis/ablation_means.h"
#include "analysis/evaluation.h"
#include "core/device.h"
#include "core/error.h"
#include "data/dataset_spec.h"
#include "data/json_document.h"
#include "data/tokenizer.h"
#include "models/loaders/builtin_models.h"
#include "models/loaders/hf_loader.h"
#include "models/loaders/model_identity.h"
#include "models/mask_application.h"
#include "models/mask_file.h"
#include "models/numeric_health.h"
#include "models/transformer.h"

namespace cs::gui {

namespace {
namespace fs = std::filesystem;
using hooks::HookKind;

// "[batch, pos, 4, 16]": sizes the model fixes as numbers, the ones the input sets as names.
std::string shapeOf(const hooks::HookPoint& point, const models::TransformerConfig& config) {
  const auto layer = point.layer;
  if (point.kind == HookKind::Logits && config.head == models::HeadKind::Classifier) {
    return "[batch, " + std::to_string(config.nClasses) + "]";
  }
  std::string axes(hooks::hookAxes(point.kind));
  std::string text = "[";
  std::size_t begin = 0;
  while (begin <= axes.size()) {
    const auto end = std::min(axes.find(',', begin), axes.size());
    const auto axis = axes.substr(begin, end - begin);
    std::string size = axis;
    if (axis == "query_pos" || axis == "key_pos") size = "pos";
    if (axis == "d_model") size = std::to_string(config.dModel);
    if (axis == "d_head") size = std::to_string(config.dHead);
    if (axis == "head") size = std::to_string(config.nHeads[layer]);
    if (axis == "kv_head") size = std::to_string(config.nKvHeads[layer]);
    if (axis == "d_mlp") size = std::to_string(config.dMlp[layer]);
    if (axis == "d_vocab") size = std::to_string(config.dOutput());
    text += (text.size() > 1 ? ", " : "") + size;
    begin = end + 1;
  }
  return text + "]";
}

ModelSummary summarize(const std::string& source, const models::Transformer& model) {
  const auto& c = model.config();
  ModelSummary s;
  s.source = source;
  s.family = c.family;
  s.dModel = c.dModel;
  s.vocabulary = c.head == models::HeadKind::LanguageModel ? c.dVocab : 0;
  s.context = c.nCtx;
  for (int l = 0; l < c.nLayers; ++l) {
    BlockInfo b;
    b.layer = l;
    b.heads = c.skipsAttention(l) ? 0 : c.nHeads[l];
    b.dHead = c.dHead;
    b.mlpWidth = c.skipsMlp(l) ? 0 : c.dMlp[l];
    s.blocks.push_back(std::move(b));
  }
  for (const auto& p : model.hookPoints()) {
    HookInfo h{hooks::hookName(p), shapeOf(p, c)};
    if (p.layer >= 0) {
      s.blocks[p.layer].hooks.push_back(std::move(h));
    } else {
      s.modelHooks.push_back(std::move(h));
    }
  }
  return s;
}

// The test set a built-in model names in its manifest.json; "" for other folders.
std::string manifestDatasetSpec(const fs::path& folder) {
  const auto manifest = folder / "manifest.json";
  if (!fs::exists(manifest)) return {};
  const auto json = data::readJsonFile(manifest.string(), 1 << 20);
  const auto it = json.find("test_dataset");
  if (it == json.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

ModelSession::ModelSession() : m_means(std::make_unique<analysis::AblationMeansCache>()) {}
ModelSession::~ModelSession() = default;

std::unique_ptr<ModelSession> ModelSession::open(const std::string& folderOrBuiltin,
                                                 Progress& progress, const std::string& device) {
  const auto folder = models::resolveModelFolder(folderOrBuiltin);
  std::unique_ptr<ModelSession> session(new ModelSession());
  models::LoadOptions load;
  load.device = chooseDevice(device);
  session->m_model = models::loadHfModel(folder, load, progress);
  session->m_folder = folder.string();
  session->m_device = load.device.str();
  progress.check();
  session->m_summary = summarize(folderOrBuiltin, *session->m_model);
  session->m_summary.tokenizer = "none (token ids only)";
  if (session->isLanguageModel()) {
    try {
      session->m_tokenizer = data::loadTokenizer(folder);
      session->m_summary.tokenizer = "from the model folder";
    } catch (const IoError&) {
      // No tokenizer files: ids still work, and are shown as numbers.
    } catch (const Error& e) {
      session->m_summary.tokenizer = std::string("none: ") + e.what();
    }
  }
  if (const auto spec = manifestDatasetSpec(folder); !spec.empty()) {
    session->setDataset(spec, progress);
  }
  if (session->m_dataset && session->isLanguageModel()) {
    // The first row cut at three quarters: for the induction set the model has seen the first
    // half and some of its repeat, so its next token is predictable.
    const auto row = session->m_dataset->batch(0, 1).tokens[0].contiguous();
    const auto n = std::max<std::int64_t>(1, row.size(0) * 3 / 4);
    const auto* ids = row.data_ptr<std::int64_t>();
    session->m_example.assign(ids, ids + n);
  } else {
    session->m_example = {0, 1, 2, 3};
  }
  return session;
}

bool ModelSession::cudaAvailable() { return torch::cuda::is_available(); }

bool ModelSession::isLanguageModel() const {
  const auto& c = m_model->config();
  return c.input == models::InputKind::Tokens && c.head == models::HeadKind::LanguageModel;
}

bool ModelSession::isImageModel() const {
  return m_model->config().input == models::InputKind::Patches;
}

const data::Dataset& ModelSession::requireDataset() const {
  if (!m_dataset) {
    throw ConfigError("no evaluation set for " + m_summary.source +
                      ": open one with File > Open dataset (e.g. induction:rows=256)");
  }
  return *m_dataset;
}

void ModelSession::setDataset(const std::string& spec, Progress& progress) {
  progress.setStage("opening " + spec);
  const auto& c = m_model->config();
  const data::DatasetContext context{m_folder, c.nCtx, c.imageSize, c.classLabels};
  auto dataset = data::openDataset(spec, context);
  if (dataset->size() == 0) throw ConfigError("dataset '" + spec + "' has no rows");
  m_dataset = std::move(dataset);
  m_datasetSpec = spec;
  m_summary.dataset = m_dataset->describe();
  m_means->clear();
  // A row of the old set means nothing in the new one, and an opened file gives way too.
  m_imageRow = 0;
  m_imageFile.clear();
  m_imagePixels.clear();
}

const data::ModelIdentity& ModelSession::identity(Progress& progress) {
  if (!m_identity) {
    progress.setStage("computing the weights digest");
    m_identity =
        std::make_unique<data::ModelIdentity>(models::identifyModelFolder(m_folder, progress));
  }
  return *m_identity;
}

const models::ModelFingerprint& ModelSession::fingerprint(Progress& progress) {
  if (!m_fingerprint) {
    progress.setStage("fingerprinting the model");
    m_fingerprint = std::make_unique<models::ModelFingerprint>(
        models::fingerprintOf(models::readHfConfig(m_folder), identity(progress)));
  }
  return *m_fingerprint;
}

void ModelSession::checkIds(const std::vector<std::int64_t>& ids) const {
  const auto& c = m_model->config();
  if (!isLanguageModel()) {
    throw ConfigError(
        "this model does not predict tokens; next-token predictions need a "
        "language model");
  }
  if (ids.empty()) throw ConfigError("the input has no token ids; type some, e.g. 1, 2, 3");
  if (c.positions == models::PositionKind::Learned && static_cast<int>(ids.size()) > c.nCtx) {
    throw ConfigError("the input has " + std::to_string(ids.size()) +
                      " tokens but the model's context is " + std::to_string(c.nCtx));
  }
  for (const auto id : ids) {
    if (id < 0 || id >= c.dVocab) {
      throw ConfigError("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                        std::to_string(c.dVocab) + ")");
    }
  }
}

std::vector<Prediction> ModelSession::topPredictions(const std::vector<std::int64_t>& ids,
                                                     const hooks::MaskSet& masks, int k,
                                                     Progress& progress) {
  checkIds(ids);
  const auto* means = meansFor(masks, progress);
  progress.setStage("predicting");
  c10::InferenceMode guard;
  std::optional<models::NumericHealthGuard> health;
  if (m_checkNumerics) health.emplace(*m_model);
  models::AppliedMasks applied(*m_model, masks, means);
  const auto tokens = torch::tensor(ids, torch::kLong).unsqueeze(0).to(m_model->device());
  const auto logits = m_model->forward({tokens, {}, {}, {}});  // [1, T, V]
  const auto probs = torch::softmax(logits[0][-1].to(torch::kDouble), 0).cpu();
  const auto top = probs.topk(std::min<int64_t>(k, probs.size(0)));
  const auto values = std::get<0>(top).contiguous();
  const auto indices = std::get<1>(top).contiguous();
  std::vector<Prediction> predictions;
  for (int64_t i = 0; i < values.size(0); ++i) {
    predictions.push_back({indices[i].item<std::int64_t>(), values[i].item<double>()});
  }
  progress.setFraction(1.0);
  return predictions;
}

}  // namespace cs::gui
