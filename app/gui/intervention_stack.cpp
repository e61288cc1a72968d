#include "app/gui/intervention_stack.h"

#include <QUndoCommand>
#include <QUndoStack>

namespace cs::gui {

class MaskSetCommand : public QUndoCommand {
 public:
  MaskSetCommand(InterventionStack& stack, hooks::MaskSet before, hooks::MaskSet after,
                 const QString& text)
      : QUndoCommand(text),
        m_stack(stack),
        m_before(std::move(before)),
        m_after(std::move(after)) {}

  void undo() override { m_stack.assign(m_before); }
  void redo() override { m_stack.assign(m_after); }

 private:
  InterventionStack& m_stack;
  hooks::MaskSet m_before;
  hooks::MaskSet m_after;
};

InterventionStack::InterventionStack(QObject* parent)
    : QObject(parent), m_undo(new QUndoStack(this)) {}

void InterventionStack::apply(const hooks::MaskSet& after, const QString& text) {
  if (after == m_masks) return;
  // push() runs redo(), which assigns and signals.
  m_undo->push(new MaskSetCommand(*this, m_masks, after, text));
}

void InterventionStack::set(const hooks::MaskEntry& entry) {
  auto after = m_masks;
  after.set(entry);
  apply(after, describeEntry(entry));
}

void InterventionStack::remove(hooks::MaskComponent component, int layer, int index) {
  auto after = m_masks;
  const auto entry = after.find(component, layer, index);
  if (!entry || !after.remove(component, layer, index)) return;
  apply(after, tr("restore %1").arg(QString::fromStdString(hooks::describeTarget(*entry))));
}

void InterventionStack::clear() { apply({}, tr("restore everything")); }

void InterventionStack::reset() {
  m_undo->clear();
  assign({});
}

void InterventionStack::assign(const hooks::MaskSet& masks) {
  m_masks = masks;
  Q_EMIT masksChanged();
}

QString describeEntry(const hooks::MaskEntry& entry) {
  auto text = QStringLiteral("%1 %2").arg(
      QString::fromStdString(hooks::describeTarget(entry)),
      QString::fromUtf8(hooks::modeName(entry.mode).data(),
                        static_cast<qsizetype>(hooks::modeName(entry.mode).size())));
  if (entry.mode == hooks::AblationMode::Scale) text += QStringLiteral(" x%1").arg(entry.value);
  return text;
}

}  // namespace cs::gui
