// MaskSet bookkeeping and the names used in mask files and on the command line.
#include "hooks/mask_set.h"

#include <algorithm>
#include <array>

namespace cs::hooks {

namespace {
constexpr std::array<std::pair<MaskComponent, std::string_view>, 5> kComponents{{
    {MaskComponent::Head, "head"},
    {MaskComponent::Neuron, "neuron"},
    {MaskComponent::AttnSublayer, "attn"},
    {MaskComponent::MlpSublayer, "mlp"},
    {MaskComponent::Block, "block"},
}};
constexpr std::array<std::pair<AblationMode, std::string_view>, 4> kModes{{
    {AblationMode::Zero, "zero"},
    {AblationMode::Mean, "mean"},
    {AblationMode::Resample, "resample"},
    {AblationMode::Scale, "scale"},
}};

template <typename Table, typename Key>
std::string_view nameIn(const Table& table, Key key) {
  for (const auto& [k, name] : table) {
    if (k == key) return name;
  }
  return "?";
}

template <typename Key, typename Table>
std::optional<Key> keyIn(const Table& table, std::string_view name) {
  for (const auto& [k, n] : table) {
    if (n == name) return k;
  }
  return std::nullopt;
}
}  // namespace

std::uint64_t MaskSet::keyOf(MaskComponent component, int layer, int index) {
  // 3 bits of component, 29 of layer, 32 of index (-1, "no index", is 0xffffffff). Layers past
  // 2^29 cannot occur in a model this tool can load.
  return (static_cast<std::uint64_t>(component) << 61) |
         ((static_cast<std::uint64_t>(static_cast<std::uint32_t>(layer)) & 0x1fffffffu) << 32) |
         static_cast<std::uint64_t>(static_cast<std::uint32_t>(index));
}

void MaskSet::set(const MaskEntry& entry) {
  const auto [it, inserted] =
      m_positions.try_emplace(keyOf(entry.component, entry.layer, entry.index), m_entries.size());
  if (inserted) {
    m_entries.push_back(entry);
  } else {
    m_entries[it->second] = entry;
  }
}

bool MaskSet::remove(MaskComponent component, int layer, int index) {
  const auto it = m_positions.find(keyOf(component, layer, index));
  if (it == m_positions.end()) return false;
  const auto position = it->second;
  m_entries.erase(m_entries.begin() + static_cast<std::ptrdiff_t>(position));
  m_positions.erase(it);
  for (auto& [key, p] : m_positions) {
    if (p > position) --p;
  }
  return true;
}

std::optional<MaskEntry> MaskSet::find(MaskComponent component, int layer, int index) const {
  const auto it = m_positions.find(keyOf(component, layer, index));
  if (it == m_positions.end()) return std::nullopt;
  return m_entries[it->second];
}

bool MaskSet::onlyZeroAblations() const {
  return std::all_of(m_entries.begin(), m_entries.end(),
                     [](const MaskEntry& e) { return e.mode == AblationMode::Zero; });
}

bool MaskSet::needsMeans() const {
  return std::any_of(m_entries.begin(), m_entries.end(),
                     [](const MaskEntry& e) { return e.mode == AblationMode::Mean; });
}

std::string_view componentName(MaskComponent component) { return nameIn(kComponents, component); }
std::optional<MaskComponent> parseComponent(std::string_view name) {
  return keyIn<MaskComponent>(kComponents, name);
}
std::string_view modeName(AblationMode mode) { return nameIn(kModes, mode); }
std::optional<AblationMode> parseMode(std::string_view name) {
  return keyIn<AblationMode>(kModes, name);
}

bool componentHasIndex(MaskComponent component) {
  return component == MaskComponent::Head || component == MaskComponent::Neuron;
}

std::string describeTarget(const MaskEntry& entry) {
  std::string s(componentName(entry.component));
  s += ' ' + std::to_string(entry.layer);
  if (componentHasIndex(entry.component)) s += '.' + std::to_string(entry.index);
  return s;
}

}  // namespace cs::hooks
