// The model panel: blocks -> attention (one entry per head) / MLP (neuron count) -> hook points
// with their shapes. A head's check box zero-ablates it; context menus mean-ablate, resample,
// scale or restore heads, mask MLP neurons by index, and skip sublayers or whole blocks. Every
// change goes through the InterventionStack (so it can be undone), and whatever is masked is
// marked in the tree: struck out, greyed, with its mode.
#pragma once

#include <QTreeWidget>

#include <memory>
#include <optional>
#include <vector>

#include "app/gui/model_session.h"

class QMenu;

namespace cs::gui {

class InterventionStack;

/// Neuron indices from "3, 10-12, 40" (ranges inclusive); std::nullopt and an error text for
/// anything else or for an index outside [0, width).
std::optional<std::vector<int>> parseNeuronList(const QString& text, int width, QString& error);

class ModelTree : public QTreeWidget {
  Q_OBJECT

 public:
  explicit ModelTree(InterventionStack& interventions, QWidget* parent = nullptr);

  void showModel(const ModelSummary& summary);
  QTreeWidgetItem* headItem(int layer, int head) const;
  QTreeWidgetItem* mlpItem(int layer) const;

  /// The context menu of an item, as the right mouse button opens it (tests drive it).
  std::unique_ptr<QMenu> contextMenuFor(QTreeWidgetItem* item);

 Q_SIGNALS:
  /// A head was double-clicked: show its attention.
  void headActivated(int layer, int head);
  /// What the user typed into a dialog does not parse (e.g. a neuron list).
  void invalidInput(const QString& message);

 private:
  void onItemChanged(QTreeWidgetItem* item, int column);
  void markMasked();
  void askScale(int layer, int head);
  void askNeurons(int layer, hooks::AblationMode mode);

  InterventionStack& m_interventions;
  ModelSummary m_summary;
  bool m_filling = false;
};

}  // namespace cs::gui
