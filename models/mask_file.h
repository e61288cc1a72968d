// Mask files: a MaskSet as a versioned JSON document (docs/masks.md) that names the model it was
// made for, saved on its own or inside an HDF5 store. Import treats the document as untrusted and
// refuses a mask made for another model, saying what differs: a mask is never applied silently to
// a model it does not describe.
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/store/store_layout.h"
#include "hooks/mask_set.h"
#include "models/transformer_config.h"

namespace cs::models {

inline constexpr const char* kMaskFormatName = "circuitscope-mask";
inline constexpr int kMaskFormatVersion = 1;
/// The group of an HDF5 store that holds mask documents: /masks/<name>.
inline constexpr const char* kStoreMaskGroup = "masks";
/// Largest mask file loadMaskFile reads.
inline constexpr std::size_t kMaxMaskFileBytes = std::size_t{64} << 20;

/// Which model a mask was made for.
struct ModelFingerprint {
  std::string family;     ///< "gpt2", "llama", "vit", ...
  std::string modelType;  ///< config.json's model_type
  /// SHA-256 of config.json parsed and dumped compactly with sorted keys (whitespace and key
  /// order do not matter); "" when the model has no config.json (built in memory).
  std::string configSha256;
  /// What identifyModelFolder computes; "" when the model was built in memory.
  std::string weightsSha256;
  int nLayers = 0;
  std::vector<int> nHeads;  ///< per layer
  std::vector<int> dMlp;    ///< per layer
  bool operator==(const ModelFingerprint&) const = default;
};

/// The fingerprint of a model from its config and identity (identity.configJson may be empty).
/// FormatError if identity.configJson is not JSON.
ModelFingerprint fingerprintOf(const TransformerConfig& config,
                               const data::ModelIdentity& identity);

/// The fingerprint of a Hugging Face (or native) model folder; reads every weight byte once.
ModelFingerprint fingerprintOfFolder(const std::filesystem::path& folder,
                                     Progress& progress = noProgress());

/// The TransformerLens hook an entry acts on: head -> blocks.L.attn.hook_z, neuron ->
/// blocks.L.mlp.hook_post, attn -> blocks.L.hook_attn_out, mlp -> blocks.L.hook_mlp_out,
/// block -> blocks.L.hook_resid_post.
std::string maskHookName(const hooks::MaskEntry& entry);

/// The Hugging Face module an entry corresponds to for this family (docs/masks.md has the
/// table): for heads and neurons the module whose input holds them (the output projection), for
/// sublayers and blocks the module whose output is replaced. Nothing for families without a
/// Hugging Face counterpart.
std::optional<std::string> hfModulePath(const std::string& family, const hooks::MaskEntry& entry);

/// A mask document as read, before it is checked against a model.
struct MaskDocument {
  ModelFingerprint model;
  hooks::MaskSet masks;
  std::string description;
};

/// The JSON document (schema version kMaskFormatVersion), keys in the documented order (an
/// ordered_json converts implicitly to nlohmann::json). ConfigError for an entry no file can
/// hold (a negative layer, a missing index, a scale that is not finite).
nlohmann::ordered_json maskToJson(const hooks::MaskSet& masks, const ModelFingerprint& model,
                                  const std::string& description = "");

/// Reads a document without a model: FormatError naming `where`, the field and the entry number
/// for anything malformed (unknown format, newer version, missing or mistyped fields, unknown
/// keys, duplicate targets, a hook or hf_module that disagrees with its entry).
MaskDocument parseMaskDocument(const nlohmann::json& document, const std::string& where);

/// ConfigError saying every difference between the model the mask was made for and `loaded`
/// (family, model_type, config and weights digests where both sides have one, layer, head and
/// MLP counts), then validateMasks' check of every entry against `config` (mean ablations are
/// checked for range here; their means are checked when the mask is applied).
void checkMaskFitsModel(const MaskDocument& mask, const ModelFingerprint& loaded,
                        const TransformerConfig& config, const std::string& where);

/// parseMaskDocument + checkMaskFitsModel.
hooks::MaskSet maskFromJson(const nlohmann::json& document, const ModelFingerprint& loaded,
                            const TransformerConfig& config, const std::string& where = "mask");

/// Writes the document as indented JSON through a temporary file renamed into place.
void saveMaskFile(const std::filesystem::path& path, const hooks::MaskSet& masks,
                  const ModelFingerprint& model, const std::string& description = "");

/// Reads (depth- and size-limited), parses and checks a mask file against the loaded model.
hooks::MaskSet loadMaskFile(const std::filesystem::path& path, const ModelFingerprint& loaded,
                            const TransformerConfig& config);

/// Reads and parses a mask file without checking it against a model (to show or list it).
MaskDocument readMaskFile(const std::filesystem::path& path);

/// Stores the document as /masks/<name> in an existing HDF5 store (data::writeStoreDocument:
/// refused while the store is being recorded; replaces an existing mask only when `replace`).
void saveMaskToStore(const std::filesystem::path& storePath, const std::string& name,
                     const hooks::MaskSet& masks, const ModelFingerprint& model,
                     const std::string& description = "", bool replace = false);

/// Reads /masks/<name> of a store and checks it against the loaded model as loadMaskFile does.
hooks::MaskSet loadMaskFromStore(const std::filesystem::path& storePath, const std::string& name,
                                 const ModelFingerprint& loaded, const TransformerConfig& config);

/// Names of the masks stored in a store, sorted.
std::vector<std::string> listStoreMasks(const std::filesystem::path& storePath);

}  // namespace cs::models
