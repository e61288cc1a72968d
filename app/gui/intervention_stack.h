// The window's interventions (a hooks::MaskSet) with undo and redo: every change is one
// QUndoCommand holding the set before and after, so undo restores exactly what was there,
// whatever mix of heads, neurons, modes and scales the change touched.
#pragma once

#include <QObject>
#include <QString>

#include "hooks/mask_set.h"

class QUndoStack;

namespace cs::gui {

class InterventionStack : public QObject {
  Q_OBJECT

 public:
  explicit InterventionStack(QObject* parent = nullptr);

  const hooks::MaskSet& masks() const { return m_masks; }
  QUndoStack* undoStack() const { return m_undo; }

  /// Makes `after` the current set as one undoable step named `text`; nothing when it equals
  /// the current set.
  void apply(const hooks::MaskSet& after, const QString& text);
  /// One entry added (replacing the entry with the same target), as one step.
  void set(const hooks::MaskEntry& entry);
  /// The entry with this target removed, as one step; nothing when there is none.
  void remove(hooks::MaskComponent component, int layer, int index = -1);
  /// Everything removed, as one step.
  void clear();
  /// A new model: no interventions and no history.
  void reset();

 Q_SIGNALS:
  /// After every change, undo and redo included.
  void masksChanged();

 private:
  friend class MaskSetCommand;
  void assign(const hooks::MaskSet& masks);

  hooks::MaskSet m_masks;
  QUndoStack* m_undo = nullptr;
};

/// "head 0.3 zero", "neuron 1.17 mean", "head 2.1 scale x1.5", "block 3 zero".
QString describeEntry(const hooks::MaskEntry& entry);

}  // namespace cs::gui
