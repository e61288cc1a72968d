#include "app/gui/model_tree.h"

#include <QFont>
#include <QHeaderView>
#include <QInputDialog>
#include <QLineEdit>
#include <QMenu>
#include <QRegularExpression>

#include "app/gui/intervention_stack.h"

namespace cs::gui {

namespace {

using hooks::AblationMode;
using hooks::MaskComponent;

// What an item stands for: the role values below, on column 0.
enum class ItemKind { None, Head, Attention, Mlp, Block };
constexpr int kKindRole = Qt::UserRole;
constexpr int kLayerRole = Qt::UserRole + 1;
constexpr int kHeadRole = Qt::UserRole + 2;

ItemKind kindOf(const QTreeWidgetItem* item) {
  return item ? static_cast<ItemKind>(item->data(0, kKindRole).toInt()) : ItemKind::None;
}

void tag(QTreeWidgetItem* item, ItemKind kind, int layer, int head = -1) {
  item->setData(0, kKindRole, static_cast<int>(kind));
  item->setData(0, kLayerRole, layer);
  item->setData(0, kHeadRole, head);
}

QString headLabel(int layer, int head) { return QStringLiteral("head %1.%2").arg(layer).arg(head); }

}  // namespace

std::optional<std::vector<int>> parseNeuronList(const QString& text, int width, QString& error) {
  std::vector<int> out;
  const auto pieces = text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
  static const QRegularExpression range(QStringLiteral("^(\\d+)(?:-(\\d+))?$"));
  for (const auto& piece : pieces) {
    const auto m = range.match(piece);
    bool okFirst = false, okLast = true;
    const int first = m.hasMatch() ? m.captured(1).toInt(&okFirst) : -1;
    const int last = m.hasMatch() && m.capturedLength(2) > 0 ? m.captured(2).toInt(&okLast) : first;
    if (!m.hasMatch() || !okFirst || !okLast || last < first) {
      error = QObject::tr("'%1' is not a neuron index or a range such as 10-12").arg(piece);
      return std::nullopt;
    }
    if (last >= width) {
      error = QObject::tr("neuron %1 is outside this MLP's 0..%2").arg(last).arg(width - 1);
      return std::nullopt;
    }
    for (int i = first; i <= last; ++i) out.push_back(i);
  }
  if (out.empty()) error = QObject::tr("give neuron indices, e.g. 3, 10-12");
  return out.empty() ? std::nullopt : std::optional(out);
}

ModelTree::ModelTree(InterventionStack& interventions, QWidget* parent)
    : QTreeWidget(parent), m_interventions(interventions) {
  setObjectName(QStringLiteral("modelTree"));
  setColumnCount(2);
  setHeaderLabels({tr("Component"), tr("Shape")});
  header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  setContextMenuPolicy(Qt::CustomContextMenu);
  connect(this, &QTreeWidget::itemChanged, this, &ModelTree::onItemChanged);
  connect(this, &QWidget::customContextMenuRequested, this, [this](const QPoint& point) {
    if (auto menu = contextMenuFor(itemAt(point))) menu->exec(viewport()->mapToGlobal(point));
  });
  connect(this, &QTreeWidget::itemDoubleClicked, this, [this](QTreeWidgetItem* item, int) {
    if (kindOf(item) == ItemKind::Head) {
      Q_EMIT headActivated(item->data(0, kLayerRole).toInt(), item->data(0, kHeadRole).toInt());
    }
  });
  connect(&m_interventions, &InterventionStack::masksChanged, this, &ModelTree::markMasked);
}

void ModelTree::showModel(const ModelSummary& s) {
  m_summary = s;
  m_filling = true;
  clear();
  auto addHooks = [](QTreeWidgetItem* parent, const std::vector<HookInfo>& hooks) {
    auto* group = new QTreeWidgetItem(parent, {tr("hook points")});
    for (const auto& h : hooks) {
      new QTreeWidgetItem(group, {QString::fromStdString(h.name), QString::fromStdString(h.shape)});
    }
  };
  for (const auto& b : s.blocks) {
    auto* block = new QTreeWidgetItem(this, {tr("block %1").arg(b.layer)});
    tag(block, ItemKind::Block, b.layer);
    auto* attention = new QTreeWidgetItem(block);
    tag(attention, ItemKind::Attention, b.layer);
    for (int h = 0; h < b.heads; ++h) {
      auto* head = new QTreeWidgetItem(attention, {headLabel(b.layer, h)});
      head->setFlags(head->flags() | Qt::ItemIsUserCheckable);
      head->setCheckState(0, Qt::Checked);
      head->setToolTip(0, tr("uncheck to zero-ablate; right-click for other ablations; "
                             "double-click for its attention"));
      tag(head, ItemKind::Head, b.layer, h);
    }
    auto* mlp = new QTreeWidgetItem(block);
    tag(mlp, ItemKind::Mlp, b.layer);
    addHooks(block, b.hooks);
    block->setExpanded(true);
    attention->setExpanded(true);
  }
  auto* model = new QTreeWidgetItem(this, {tr("model")});
  addHooks(model, s.modelHooks);
  m_filling = false;
  markMasked();
}

QTreeWidgetItem* ModelTree::headItem(int layer, int head) const {
  if (layer < 0 || layer >= topLevelItemCount()) return nullptr;
  auto* attention = topLevelItem(layer)->child(0);
  return attention && head >= 0 && head < attention->childCount() ? attention->child(head)
                                                                  : nullptr;
}

QTreeWidgetItem* ModelTree::mlpItem(int layer) const {
  if (layer < 0 || layer >= topLevelItemCount() || kindOf(topLevelItem(layer)) != ItemKind::Block)
    return nullptr;
  return topLevelItem(layer)->child(1);
}

void ModelTree::onItemChanged(QTreeWidgetItem* item, int column) {
  if (m_filling || column != 0 || kindOf(item) != ItemKind::Head) return;
  const int layer = item->data(0, kLayerRole).toInt();
  const int head = item->data(0, kHeadRole).toInt();
  if (item->checkState(0) == Qt::Unchecked) {
    m_interventions.set({MaskComponent::Head, layer, head, AblationMode::Zero});
  } else {
    m_interventions.remove(MaskComponent::Head, layer, head);
  }
}

// The tree follows the stack, so undo, redo, the prune panel and mask import all show here.
void ModelTree::markMasked() {
  const auto& masks = m_interventions.masks();
  m_filling = true;
  const auto mark = [this](QTreeWidgetItem* item, bool masked) {
    QFont font = item->font(0);
    font.setStrikeOut(masked);
    item->setFont(0, font);
    item->setForeground(0, masked ? palette().brush(QPalette::Disabled, QPalette::Text)
                                  : palette().brush(QPalette::Active, QPalette::Text));
  };
  for (const auto& b : m_summary.blocks) {
    auto* block = topLevelItem(b.layer);
    if (!block) continue;
    const auto blockEntry = masks.find(MaskComponent::Block, b.layer);
    block->setText(
        0, blockEntry ? tr("block %1 (skipped)").arg(b.layer) : tr("block %1").arg(b.layer));
    mark(block, blockEntry.has_value());
    auto* attention = block->child(0);
    const auto attnEntry = masks.find(MaskComponent::AttnSublayer, b.layer);
    attention->setText(0, b.heads == 0 ? tr("attention: skipped")
                          : attnEntry  ? tr("attention (skipped)")
                                      : tr("attention (%1 heads of %2)").arg(b.heads).arg(b.dHead));
    mark(attention, attnEntry.has_value());
    for (int h = 0; h < attention->childCount(); ++h) {
      auto* head = attention->child(h);
      const auto e = masks.find(MaskComponent::Head, b.layer, h);
      head->setText(0, e ? QStringLiteral("%1  [%2]")
                               .arg(headLabel(b.layer, h), describeEntry(*e).section(' ', 2))
                         : headLabel(b.layer, h));
      head->setCheckState(0, e && e->mode == AblationMode::Zero ? Qt::Unchecked : Qt::Checked);
      mark(head, e.has_value());
    }
    auto* mlp = block->child(1);
    int neurons = 0;
    for (const auto& e : masks.entries()) {
      if (e.component == MaskComponent::Neuron && e.layer == b.layer) ++neurons;
    }
    const auto mlpEntry = masks.find(MaskComponent::MlpSublayer, b.layer);
    QString text = b.mlpWidth > 0 ? tr("MLP (%1 neurons)").arg(b.mlpWidth) : tr("MLP: none");
    if (neurons > 0) text += tr(", %1 masked").arg(neurons);
    if (mlpEntry) text = tr("MLP (skipped)");
    mlp->setText(0, text);
    mark(mlp, mlpEntry.has_value());
  }
  m_filling = false;
}

std::unique_ptr<QMenu> ModelTree::contextMenuFor(QTreeWidgetItem* item) {
  const auto kind = kindOf(item);
  if (kind == ItemKind::None) return nullptr;
  const int layer = item->data(0, kLayerRole).toInt();
  const int head = item->data(0, kHeadRole).toInt();
  auto menu = std::make_unique<QMenu>(this);
  const auto& masks = m_interventions.masks();
  auto* stack = &m_interventions;
  switch (kind) {
    case ItemKind::Head: {
      const auto set = [stack, layer, head](AblationMode mode) {
        stack->set({MaskComponent::Head, layer, head, mode});
      };
      menu->addAction(tr("Zero-ablate"), this, [set]() { set(AblationMode::Zero); });
      menu->addAction(tr("Mean-ablate"), this, [set]() { set(AblationMode::Mean); });
      menu->addAction(tr("Resample-ablate"), this, [set]() { set(AblationMode::Resample); });
      menu->addAction(tr("Scale..."), this, [this, layer, head]() { askScale(layer, head); });
      menu->addSeparator();
      menu->addAction(tr("Show attention"), this,
                      [this, layer, head]() { Q_EMIT headActivated(layer, head); });
      auto* restore = menu->addAction(tr("Restore"), this, [stack, layer, head]() {
        stack->remove(MaskComponent::Head, layer, head);
      });
      restore->setEnabled(masks.find(MaskComponent::Head, layer, head).has_value());
      break;
    }
    case ItemKind::Attention:
    case ItemKind::Mlp:
    case ItemKind::Block: {
      const auto component = kind == ItemKind::Attention ? MaskComponent::AttnSublayer
                             : kind == ItemKind::Mlp     ? MaskComponent::MlpSublayer
                                                         : MaskComponent::Block;
      if (kind == ItemKind::Mlp && m_summary.blocks[static_cast<std::size_t>(layer)].mlpWidth > 0) {
        menu->addAction(tr("Zero-ablate neurons..."), this,
                        [this, layer]() { askNeurons(layer, AblationMode::Zero); });
        menu->addAction(tr("Mean-ablate neurons..."), this,
                        [this, layer]() { askNeurons(layer, AblationMode::Mean); });
        menu->addAction(tr("Restore every neuron"), this, [stack, layer]() {
          auto after = stack->masks();
          for (const auto& e : stack->masks().entries()) {
            if (e.component == MaskComponent::Neuron && e.layer == layer) {
              after.remove(e.component, e.layer, e.index);
            }
          }
          stack->apply(after, tr("restore the neurons of MLP %1").arg(layer));
        });
        menu->addSeparator();
      }
      const auto skipText = kind == ItemKind::Block       ? tr("Skip this block")
                            : kind == ItemKind::Attention ? tr("Skip the attention sublayer")
                                                          : tr("Skip the MLP sublayer");
      menu->addAction(skipText, this, [stack, component, layer]() {
        stack->set({component, layer, -1, AblationMode::Zero});
      });
      auto* restore = menu->addAction(
          tr("Restore"), this, [stack, component, layer]() { stack->remove(component, layer); });
      restore->setEnabled(masks.find(component, layer).has_value());
      break;
    }
    case ItemKind::None:
      break;
  }
  return menu;
}

void ModelTree::askScale(int layer, int head) {
  bool ok = false;
  const double factor = QInputDialog::getDouble(
      this, tr("Scale head %1.%2").arg(layer).arg(head),
      tr("Multiply the head's output by (0 removes it, above 1 reinforces it):"), 1.5, -100.0,
      100.0, 3, &ok);
  if (ok) m_interventions.set({MaskComponent::Head, layer, head, AblationMode::Scale, factor});
}

void ModelTree::askNeurons(int layer, hooks::AblationMode mode) {
  const int width = m_summary.blocks[static_cast<std::size_t>(layer)].mlpWidth;
  bool ok = false;
  const auto text =
      QInputDialog::getText(this, tr("Neurons of MLP %1").arg(layer),
                            tr("Neuron indices (0..%1), e.g. 3, 10-12:").arg(width - 1),
                            QLineEdit::Normal, QString(), &ok);
  if (!ok) return;
  QString error;
  const auto neurons = parseNeuronList(text, width, error);
  if (!neurons) {
    Q_EMIT invalidInput(error);
    return;
  }
  auto after = m_interventions.masks();
  for (const int n : *neurons) after.set({MaskComponent::Neuron, layer, n, mode});
  m_interventions.apply(
      after, tr("%1 %2 neurons of MLP %3")
                 .arg(QString::fromUtf8(hooks::modeName(mode).data(),
                                        static_cast<qsizetype>(hooks::modeName(mode).size())))
                 .arg(neurons->size())
                 .arg(layer));
}

}  // namespace cs::gui
