// A MaskSet: which heads, MLP neurons, sublayers and blocks are ablated, and how. Plain data:
// applying it to a model is models/mask_application.h, removing what it zeroes is
// models/compaction.h, saving it is models/mask_file.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cs::hooks {

enum class MaskComponent { Head, Neuron, AttnSublayer, MlpSublayer, Block };

enum class AblationMode {
  Zero,      ///< heads and neurons: activation 0; sublayers and blocks: skipped (identity)
  Mean,      ///< the mean over a reference dataset (examples and positions)
  Resample,  ///< the value from another example of the same batch (the next row, cyclically)
  Scale,     ///< multiplied by `value` (head reinforcement when > 1)
};

struct MaskEntry {
  MaskComponent component = MaskComponent::Head;
  int layer = 0;
  int index = -1;  ///< head or neuron index; -1 for sublayers and blocks
  AblationMode mode = AblationMode::Zero;
  double value = 1.0;  ///< the factor of Scale; ignored otherwise

  /// Same component, layer and index (the mode may differ).
  bool sameTarget(const MaskEntry& other) const {
    return component == other.component && layer == other.layer && index == other.index;
  }
  bool operator==(const MaskEntry&) const = default;
};

class MaskSet {
 public:
  /// Adds an entry, replacing one with the same target (a head has one mode at a time).
  void set(const MaskEntry& entry);
  /// Removes the entry with this target; false if there was none.
  bool remove(MaskComponent component, int layer, int index = -1);
  /// The entry with this target, if any.
  std::optional<MaskEntry> find(MaskComponent component, int layer, int index = -1) const;

  const std::vector<MaskEntry>& entries() const { return m_entries; }
  bool empty() const { return m_entries.empty(); }
  std::size_t size() const { return m_entries.size(); }
  void clear() {
    m_entries.clear();
    m_positions.clear();
  }

  /// True when every entry is a zero ablation: exactly what compaction can remove.
  bool onlyZeroAblations() const;
  /// True when some entry needs reference-dataset means.
  bool needsMeans() const;

  bool operator==(const MaskSet& other) const { return m_entries == other.m_entries; }

 private:
  static std::uint64_t keyOf(MaskComponent component, int layer, int index);

  std::vector<MaskEntry> m_entries;  // in insertion order; one per target
  // Target -> position in m_entries, so that building a mask of every neuron of a large model
  // stays linear.
  std::unordered_map<std::uint64_t, std::size_t> m_positions;
};

/// "head", "neuron", "attn", "mlp", "block".
std::string_view componentName(MaskComponent component);
std::optional<MaskComponent> parseComponent(std::string_view name);
/// "zero", "mean", "resample", "scale".
std::string_view modeName(AblationMode mode);
std::optional<AblationMode> parseMode(std::string_view name);

/// Whether the component takes an index (heads and neurons do).
bool componentHasIndex(MaskComponent component);

/// Human-readable target, e.g. "head 3.5", "neuron 0.117", "attn 2", "block 1".
std::string describeTarget(const MaskEntry& entry);

}  // namespace cs::hooks
