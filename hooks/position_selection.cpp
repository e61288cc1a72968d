// Position selection for recordings.
#include "hooks/position_selection.h"

#include <ATen/ATen.h>

#include <sstream>

#include "core/error.h"

namespace cs::hooks {

namespace {

std::vector<std::string> splitAxes(std::string_view axes) {
  std::vector<std::string> out;
  std::string current;
  for (char c : axes) {
    if (c == ',') {
      out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  out.push_back(current);
  return out;
}

}  // namespace

PositionSelection PositionSelection::parse(const std::string& text) {
  PositionSelection selection;
  if (text == "all") return selection;
  if (text == "last") {
    selection.m_kind = Kind::Last;
    return selection;
  }
  selection.m_kind = Kind::List;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || item.empty() || value < 0)
      throw ConfigError("positions '" + text + "': '" + item +
                        "' is not a position; use all, last, or a list such as 0,5,7");
    selection.m_list.push_back(value);
  }
  if (selection.m_list.empty()) throw ConfigError("positions '" + text + "' lists no position");
  return selection;
}

std::string PositionSelection::text() const {
  if (m_kind == Kind::All) return "all";
  if (m_kind == Kind::Last) return "last";
  std::string out;
  for (auto p : m_list) {
    if (!out.empty()) out += ',';
    out += std::to_string(p);
  }
  return out;
}

at::Tensor PositionSelection::indexFor(std::int64_t batch, std::int64_t tokens,
                                       const at::Tensor& attentionMask) const {
  if (m_kind == Kind::All) return {};
  if (m_kind == Kind::Last) {
    if (!attentionMask.defined()) return at::full({batch, 1}, tokens - 1, at::kLong);
    // The last real token of a right-padded row; a row that is all padding keeps position 0.
    return (attentionMask.to(at::kCPU).to(at::kLong).sum(1, true) - 1).clamp_min(0);
  }
  for (auto p : m_list) {
    if (p >= tokens)
      throw ConfigError("position " + std::to_string(p) + " is beyond the " +
                        std::to_string(tokens) + " positions of these examples");
  }
  return at::tensor(m_list, at::kLong).unsqueeze(0).expand({batch, -1}).contiguous();
}

int positionAxis(HookKind kind, std::int64_t rank) {
  const auto axes = splitAxes(hookAxes(kind));
  if (static_cast<std::int64_t>(axes.size()) != rank) return -1;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] == "pos" || axes[i] == "query_pos") return static_cast<int>(i);
  }
  return -1;
}

at::Tensor selectPositions(const at::Tensor& x, int axis, const at::Tensor& index) {
  // Move the position axis next to the batch axis, pick rows' positions, move it back.
  const auto moved = axis == 1 ? x : x.transpose(1, axis);
  const auto idx = index.to(x.device());
  const auto rows = at::arange(x.size(0), idx.options()).unsqueeze(1);
  auto picked = moved.index({rows, idx});
  return axis == 1 ? picked : picked.transpose(1, axis);
}

std::string storedAxes(HookKind kind, std::int64_t rank) {
  auto axes = splitAxes(hookAxes(kind));
  if (static_cast<std::int64_t>(axes.size()) != rank) {
    std::string generic = "example";
    for (std::int64_t i = 1; i < rank; ++i) generic += ",dim" + std::to_string(i);
    return generic;
  }
  std::string out = "example";
  for (std::size_t i = 1; i < axes.size(); ++i) out += "," + axes[i];
  return out;
}

}  // namespace cs::hooks
