// The main window's menus and the settings that persist between sessions.
#include <QActionGroup>
#include <QDockWidget>
#include <QFileDialog>
#include <QInputDialog>
#include <QMenuBar>
#include <QSettings>
#include <QSignalBlocker>
#include <QUndoStack>

#include <algorithm>

#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "app/gui/prune_panel.h"
#include "models/loaders/builtin_models.h"

namespace cs::gui {

namespace {

constexpr int kRecentModels = 8;
const auto kRecentKey = QStringLiteral("recentModels");
const auto kDeviceKey = QStringLiteral("device");
const auto kGeometryKey = QStringLiteral("window/geometry");
const auto kStateKey = QStringLiteral("window/state");
const auto kCheckNumericsKey = QStringLiteral("checkNumerics");

}  // namespace

void MainWindow::buildMenus() {
  auto* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open model folder..."), this, [this]() {
    const auto folder = QFileDialog::getExistingDirectory(this, tr("Open model folder"));
    if (!folder.isEmpty()) openModel(folder);
  });
  auto* builtin = file->addMenu(tr("Open built-in model"));
  for (const auto& name : models::builtinModelNames()) {
    const auto source = QString::fromStdString(models::kBuiltinPrefix + name);
    builtin->addAction(QString::fromStdString(name), this, [this, source]() { openModel(source); });
  }
  m_recentMenu = file->addMenu(tr("Recent models"));
  m_recentMenu->setObjectName(QStringLiteral("recentMenu"));
  fillRecentMenu();
  file->addAction(tr("Open dataset..."), this, [this]() {
    const auto spec = askDataset();
    if (!spec.isEmpty()) openDataset(spec);
  });
  addOpenImageAction(file);
  file->addAction(tr("Open recording..."), this, [this]() {
    const auto path = QFileDialog::getOpenFileName(this, tr("Open recording"), QString(),
                                                   tr("Activation stores (*.h5 *.hdf5)"));
    if (!path.isEmpty()) openRecording(path);
  });
  addRecordAction(file);
  file->addSeparator();
  auto* exportMaskAction = file->addAction(tr("Export mask..."), this, [this]() {
    const auto path =
        QFileDialog::getSaveFileName(this, tr("Export mask"), QString(), tr("Mask files (*.json)"));
    if (!path.isEmpty()) exportMask(path);
  });
  auto* importMaskAction = file->addAction(tr("Import mask..."), this, [this]() {
    const auto path =
        QFileDialog::getOpenFileName(this, tr("Import mask"), QString(), tr("Mask files (*.json)"));
    if (!path.isEmpty()) importMask(path);
  });
  auto* exportPrunedAction = file->addAction(tr("Export pruned model..."), this, [this]() {
    const auto folder = QFileDialog::getExistingDirectory(this, tr("Folder for the pruned model"));
    if (!folder.isEmpty()) exportPruned(folder);
  });
  exportMaskAction->setObjectName(QStringLiteral("exportMaskAction"));
  importMaskAction->setObjectName(QStringLiteral("importMaskAction"));
  exportPrunedAction->setObjectName(QStringLiteral("exportPrunedAction"));
  // The prune panel's buttons do what the menu entries do.
  connect(m_prune, &PrunePanel::exportMaskRequested, exportMaskAction, &QAction::trigger);
  connect(m_prune, &PrunePanel::importMaskRequested, importMaskAction, &QAction::trigger);
  connect(m_prune, &PrunePanel::exportPrunedRequested, exportPrunedAction, &QAction::trigger);
  file->addSeparator();
  file->addAction(tr("Quit"), this, &QWidget::close);

  auto* edit = menuBar()->addMenu(tr("&Edit"));
  auto* undo = m_interventions->undoStack()->createUndoAction(this, tr("Undo"));
  undo->setShortcut(QKeySequence::Undo);
  auto* redo = m_interventions->undoStack()->createRedoAction(this, tr("Redo"));
  redo->setShortcut(QKeySequence::Redo);
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addAction(tr("Restore everything"), this, [this]() { m_interventions->clear(); });

  auto* device = menuBar()->addMenu(tr("&Device"));
  auto* devices = new QActionGroup(this);
  for (const auto& [name, label] : {std::pair{QStringLiteral("cpu"), tr("CPU")},
                                    std::pair{QStringLiteral("cuda"), tr("CUDA GPU")}}) {
    auto* action = device->addAction(label, this, [this, name]() { setDevice(name); });
    action->setCheckable(true);
    action->setChecked(name == m_device);
    action->setObjectName(QStringLiteral("device_") + name);
    if (name == QStringLiteral("cuda") && !ModelSession::cudaAvailable()) {
      action->setEnabled(false);
      action->setToolTip(tr("this build's libtorch sees no CUDA device"));
    }
    devices->addAction(action);
  }
  device->addSeparator();
  auto* numerics = device->addAction(tr("Stop at the first NaN or Inf"));
  numerics->setObjectName(QStringLiteral("checkNumerics"));
  numerics->setToolTip(
      tr("Live predictions and metrics check every hook point and name the first one whose "
         "values are not finite"));
  numerics->setCheckable(true);
  numerics->setChecked(m_checkNumerics);
  connect(numerics, &QAction::toggled, this, [this](bool on) { setCheckNumerics(on); });

  buildAnalysesMenu();

  buildDemoMenu();

  auto* view = menuBar()->addMenu(tr("&View"));
  for (auto* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());
}

void MainWindow::buildAnalysesMenu() {
  auto* analyses = menuBar()->addMenu(tr("&Analyses"));
  analyses->setObjectName(QStringLiteral("analysesMenu"));
  const auto add = [this, analyses](const QString& text, const QString& name, auto slot) {
    auto* action = analyses->addAction(text, this, slot);
    action->setObjectName(QStringLiteral("analysis_") + name);
    return action;
  };
  add(tr("Attention patterns..."), QStringLiteral("attention"), [this]() {
    if (!m_session) return;
    const int layers = static_cast<int>(m_session->summary().blocks.size());
    const auto values =
        askOptions(QStringLiteral("attention"), tr("Attention patterns"),
                   {intField(QStringLiteral("block"), tr("Block"),
                             tr("Every head's pattern of this block for the current input"), 0, 0,
                             std::max(0, layers - 1))});
    if (values && m_session) {
      showAttention(std::min(values->value(QStringLiteral("block")).toInt(), layers - 1), 0);
    }
  });
  add(tr("Head ablation sweep..."), QStringLiteral("headAblation"),
      [this]() { askHeadAblation(); });
  add(tr("Head divergence..."), QStringLiteral("headDivergence"),
      [this]() { askHeadDivergence(); });
  add(tr("Memory vs context heads..."), QStringLiteral("memoryHeads"),
      [this]() { askMemoryHeads(); });
  add(tr("Integrated gradients..."), QStringLiteral("integratedGradients"),
      [this]() { askIntegratedGradients(); });
  add(tr("Direct logit attribution..."), QStringLiteral("logitAttribution"),
      [this]() { askLogitAttribution(); });
  add(tr("Activation patching by head..."), QStringLiteral("patching"),
      [this]() { askHeadPatching(); });
  add(tr("Attribution patching by head..."), QStringLiteral("attributionPatching"),
      [this]() { askAttributionPatching(); });
  add(tr("Path patching..."), QStringLiteral("pathPatching"), [this]() { askPathPatching(); });
  add(tr("Layer importance and drop curve..."), QStringLiteral("layerImportance"),
      [this]() { askLayerImportance(); });
  add(tr("Residual-stream CKA..."), QStringLiteral("cka"), [this]() { askResidualCka(); });
  analyses->addSeparator();
  add(tr("Relevance (LRP)..."), QStringLiteral("relevance"), [this]() { askRelevance(); });
  add(tr("Relevance pruning curve (neurons)..."), QStringLiteral("relevancePruningNeurons"),
      [this]() { askRelevancePruning(PruneUnit::Neurons); });
  add(tr("Relevance pruning curve (heads)..."), QStringLiteral("relevancePruningHeads"),
      [this]() { askRelevancePruning(PruneUnit::Heads); });
  add(tr("Neuron path..."), QStringLiteral("neuronPath"), [this]() { askNeuronPath(); });
  analyses->addSeparator();
  add(tr("Local Interaction Basis..."), QStringLiteral("lib"),
      [this]() { askLocalInteractionBasis(); });
}

std::optional<QVariantMap> MainWindow::askOptions(const QString& analysis, const QString& title,
                                                  std::vector<OptionField> fields) {
  if (!m_askOptions) return AnalysisOptionsDialog::remembered(analysis, fields);
  AnalysisOptionsDialog dialog(analysis, title, std::move(fields), this);
  if (dialog.exec() != QDialog::Accepted) return std::nullopt;
  return dialog.values();
}

QString MainWindow::askDataset() {
  bool ok = false;
  const auto spec = QInputDialog::getText(
      this, tr("Open dataset"),
      tr("A dataset spec or file:\n"
         "  induction:rows=256,half=16,vocab=64,seed=1   modadd:p=113,rows=512\n"
         "  digits-test   prompts.jsonl   corpus.txt   an image folder"),
      QLineEdit::Normal, QString(), &ok);
  return ok ? spec.trimmed() : QString();
}

QStringList MainWindow::recentModels() const {
  return QSettings().value(kRecentKey).toStringList();
}

void MainWindow::rememberModel(const QString& source) {
  auto recent = recentModels();
  recent.removeAll(source);
  recent.prepend(source);
  while (recent.size() > kRecentModels) recent.removeLast();
  QSettings().setValue(kRecentKey, recent);
  fillRecentMenu();
}

void MainWindow::fillRecentMenu() {
  if (!m_recentMenu) return;
  m_recentMenu->clear();
  for (const auto& source : recentModels()) {
    m_recentMenu->addAction(source, this, [this, source]() { openModel(source); });
  }
  m_recentMenu->setEnabled(!m_recentMenu->isEmpty());
}

void MainWindow::restoreSettings() {
  const QSettings settings;
  restoreGeometry(settings.value(kGeometryKey).toByteArray());
  restoreState(settings.value(kStateKey).toByteArray());
  const auto device = settings.value(kDeviceKey, QStringLiteral("cpu")).toString();
  // A saved CUDA choice on a machine without CUDA falls back to the CPU (and says so on load).
  m_device = device == QStringLiteral("cuda") && ModelSession::cudaAvailable()
                 ? device
                 : QStringLiteral("cpu");
  m_checkNumerics = settings.value(kCheckNumericsKey, true).toBool();
  // The menus were built before the settings were read.
  auto tick = [this](const QString& name, bool checked) {
    if (auto* action = findChild<QAction*>(name)) {
      const QSignalBlocker quiet(action);
      action->setChecked(checked);
    }
  };
  tick(QStringLiteral("device_") + m_device, true);
  tick(QStringLiteral("checkNumerics"), m_checkNumerics);
}

void MainWindow::setCheckNumerics(bool on) {
  m_checkNumerics = on;
  if (m_session) m_session->setCheckNumerics(on);
  QSettings().setValue(kCheckNumericsKey, on);
  log(on ? tr("live runs stop at the first NaN or Inf") : tr("numeric checks are off"));
}

void MainWindow::saveSettings() const {
  QSettings settings;
  settings.setValue(kGeometryKey, saveGeometry());
  settings.setValue(kStateKey, saveState());
  settings.setValue(kDeviceKey, m_device);
  settings.setValue(kCheckNumericsKey, m_checkNumerics);
}

}  // namespace cs::gui
