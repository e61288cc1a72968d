#include "app/gui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDateTime>
#include <QDockWidget>
#include <QFileDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QStatusBar>
#include <QTimer>
#include <QTreeWidget>
#include <QUndoStack>
#include <QVBoxLayout>

#include "app/gui/intervention_stack.h"
#include "app/gui/jobs_panel.h"
#include "app/gui/model_tree.h"
#include "app/gui/prune_panel.h"
#include "viewers/render.h"
#include "viewers/token_attribution_view.h"

namespace cs::gui {

namespace {

constexpr int kTopK = 5;

}  // namespace

QString MainWindow::tokenIdsText(const std::vector<std::int64_t>& ids) {
  QStringList pieces;
  for (const auto id : ids) pieces << QString::number(id);
  return pieces.join(QStringLiteral(", "));
}

std::vector<std::int64_t> MainWindow::parseTokenIds(const QString& text, QString& error) {
  std::vector<std::int64_t> ids;
  const auto pieces = text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
  for (const auto& piece : pieces) {
    bool ok = false;
    const auto id = piece.toLongLong(&ok);
    if (!ok) {
      error = QObject::tr("'%1' is not a token id").arg(piece);
      return {};
    }
    ids.push_back(id);
  }
  if (ids.empty()) error = QObject::tr("type token ids, e.g. 1, 2, 3");
  return ids;
}
MainWindow::MainWindow(const QString& model, QWidget* parent)
    : QMainWindow(parent), m_interventions(new InterventionStack(this)) {
  setWindowTitle(QStringLiteral("circuitscope"));
  connect(&m_runner, &JobRunner::jobStarted, this, &MainWindow::onJobStarted);
  connect(&m_runner, &JobRunner::jobEnded, this, &MainWindow::onJobEnded);
  connect(m_interventions, &InterventionStack::masksChanged, this, &MainWindow::onMasksChanged);
  buildPanels();
  buildMenus();
  resize(1280, 800);
  restoreSettings();
  if (!model.isEmpty()) openModel(model);
}

// Jobs hold their own reference to the session; the runner's destructor cancels and waits.
MainWindow::~MainWindow() = default;

const hooks::MaskSet& MainWindow::masks() const { return m_interventions->masks(); }

std::optional<double> MainWindow::baselineAccuracy() const {
  return m_full ? std::optional(m_full->accuracy) : std::nullopt;
}

std::optional<double> MainWindow::maskedAccuracy() const {
  return m_masked ? std::optional(m_masked->accuracy) : std::nullopt;
}

void MainWindow::buildPanels() {
  m_tree = new ModelTree(*m_interventions);
  connect(m_tree, &ModelTree::headActivated, this, &MainWindow::showAttention);
  connect(m_tree, &ModelTree::invalidInput, this, &MainWindow::showError);
  auto* modelDock = new QDockWidget(tr("Model"), this);
  modelDock->setObjectName(QStringLiteral("modelDock"));
  modelDock->setWidget(m_tree);
  addDockWidget(Qt::LeftDockWidgetArea, modelDock);

  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  m_promptLabel = new QLabel(tr("Prompt"));
  layout->addWidget(m_promptLabel);
  m_promptEdit = new QLineEdit;
  m_promptEdit->setObjectName(QStringLiteral("promptEdit"));
  m_promptEdit->setPlaceholderText(tr("type text; its tokens become the input"));
  layout->addWidget(m_promptEdit);
  m_idsLabel = new QLabel(tr("Input token ids"));
  layout->addWidget(m_idsLabel);
  m_idsEdit = new QLineEdit;
  m_idsEdit->setObjectName(QStringLiteral("idsEdit"));
  layout->addWidget(m_idsEdit);
  // The input's tokens as chips, redrawn as the user types (no model runs for this).
  m_chips = new viewers::TokenAttributionView;
  m_chips->setObjectName(QStringLiteral("tokenChips"));
  m_chips->setMinimumHeight(60);
  layout->addWidget(m_chips);
  m_inputStatus = new QLabel;
  m_inputStatus->setObjectName(QStringLiteral("inputStatus"));
  layout->addWidget(m_inputStatus);
  layout->addWidget(buildImageInput());
  m_predictionTitle = new QLabel(tr("Top next tokens at the last position"));
  m_predictionTitle->setObjectName(QStringLiteral("predictionTitle"));
  layout->addWidget(m_predictionTitle);
  m_predictionList = new QTreeWidget;
  m_predictionList->setObjectName(QStringLiteral("predictionList"));
  m_predictionList->setColumnCount(2);
  m_predictionList->setHeaderLabels({tr("Token"), tr("Probability")});
  m_predictionList->setRootIsDecorated(false);
  layout->addWidget(m_predictionList, 1);
  m_metricsLabel = new QLabel(tr("Metrics: no model yet"));
  m_metricsLabel->setObjectName(QStringLiteral("metricsLabel"));
  m_metricsLabel->setWordWrap(true);
  layout->addWidget(m_metricsLabel);
  setCentralWidget(central);

  // Typing restarts a short timer so that a prediction job runs once per pause, not per key.
  m_inputDelay = new QTimer(this);
  m_inputDelay->setSingleShot(true);
  m_inputDelay->setInterval(200);
  connect(m_inputDelay, &QTimer::timeout, this, &MainWindow::refreshPredictions);
  connect(m_idsEdit, &QLineEdit::textEdited, m_inputDelay, qOverload<>(&QTimer::start));
  connect(m_idsEdit, &QLineEdit::textChanged, this, &MainWindow::showChips);
  connect(m_promptEdit, &QLineEdit::textEdited, this,
          [this](const QString& text) { setPrompt(text); });

  // Latency is measured once the user pauses: timing runs never delay the live metrics of the
  // next change, and a burst of changes gives one point on the trade-off chart.
  m_measureDelay = new QTimer(this);
  m_measureDelay->setSingleShot(true);
  m_measureDelay->setInterval(600);
  connect(m_measureDelay, &QTimer::timeout, this, &MainWindow::measurePruning);

  m_prune = new PrunePanel(*m_interventions);
  connect(m_prune, &PrunePanel::measureRequested, this, &MainWindow::measurePruning);
  auto* pruneDock = new QDockWidget(tr("Prune and patch"), this);
  pruneDock->setObjectName(QStringLiteral("pruneDock"));
  pruneDock->setWidget(m_prune);
  addDockWidget(Qt::RightDockWidgetArea, pruneDock);

  auto* jobsDock = new QDockWidget(tr("Jobs"), this);
  jobsDock->setObjectName(QStringLiteral("jobsDock"));
  jobsDock->setWidget(new JobsPanel(m_runner));
  addDockWidget(Qt::BottomDockWidgetArea, jobsDock);

  m_log = new QPlainTextEdit;
  m_log->setObjectName(QStringLiteral("logView"));
  m_log->setReadOnly(true);
  auto* logDock = new QDockWidget(tr("Log"), this);
  logDock->setObjectName(QStringLiteral("logDock"));
  logDock->setWidget(m_log);
  addDockWidget(Qt::BottomDockWidgetArea, logDock);
  tabifyDockWidget(jobsDock, logDock);
  jobsDock->raise();
}

QDockWidget* MainWindow::viewerDock(const QString& name, const QString& title, QWidget* widget) {
  if (widget) {
    // Every figure saves itself from its context menu, as the screen shows it.
    widget->setContextMenuPolicy(Qt::ActionsContextMenu);
    for (const auto& [label, filter] :
         {std::pair{tr("Save as PNG..."), tr("PNG images (*.png)")},
          std::pair{tr("Save as SVG..."), tr("SVG drawings (*.svg)")}}) {
      auto* action = new QAction(label, widget);
      connect(action, &QAction::triggered, this, [this, name, filter]() {
        const auto path = QFileDialog::getSaveFileName(this, tr("Save figure"), QString(), filter);
        if (!path.isEmpty()) exportFigure(name, path);
      });
      widget->addAction(action);
    }
  }
  auto*& dock = m_viewerDocks[name];
  if (!dock) {
    dock = new QDockWidget(title, this);
    dock->setObjectName(name);
    addDockWidget(Qt::RightDockWidgetArea, dock);
    tabifyDockWidget(findChild<QDockWidget*>(QStringLiteral("pruneDock")), dock);
  }
  if (widget) {
    delete dock->widget();
    dock->setWidget(widget);
  }
  dock->show();
  dock->raise();
  return dock;
}

void MainWindow::openModel(const QString& folderOrBuiltin) {
  log(tr("loading %1 on %2").arg(folderOrBuiltin, m_device));
  m_runner.cancel(m_loadJob);
  const auto source = folderOrBuiltin.toStdString();
  const auto device = m_device.toStdString();
  m_loadJob = m_runner.start<std::shared_ptr<ModelSession>>(
      tr("load %1").arg(folderOrBuiltin),
      [source, device](Progress& progress) {
        return std::shared_ptr<ModelSession>(ModelSession::open(source, progress, device));
      },
      [this, folderOrBuiltin](std::shared_ptr<ModelSession> session) {
        m_session = std::move(session);
        m_session->setCheckNumerics(m_checkNumerics);
        m_full.reset();
        m_masked.reset();
        m_prune->clearResults();
        rememberModel(folderOrBuiltin);
        showModel();
        // Resetting signals masksChanged, which refreshes the metrics and the predictions.
        m_interventions->reset();
        Q_EMIT modelLoaded();
      });
}

void MainWindow::showModel() {
  const auto& s = m_session->summary();
  log(tr("loaded %1: %2, %3 blocks, width %4, on %5")
          .arg(QString::fromStdString(s.source), QString::fromStdString(s.family))
          .arg(s.blocks.size())
          .arg(s.dModel)
          .arg(QString::fromStdString(m_session->device())));
  m_tree->showModel(s);
  const auto& example = m_session->exampleInput();
  QStringList ids;
  for (const auto id : example) ids << QString::number(id);
  m_idsEdit->setText(ids.join(QStringLiteral(", ")));
  m_idsEdit->setEnabled(m_session->isLanguageModel());
  m_promptEdit->clear();
  m_promptEdit->setVisible(m_session->hasTokenizer());
  m_promptLabel->setVisible(m_session->hasTokenizer());
  m_chips->setVisible(m_session->isLanguageModel());
  showInputKind();
  showChips();
  setWindowTitle(QStringLiteral("circuitscope - %1").arg(QString::fromStdString(s.source)));
}

void MainWindow::onMasksChanged() {
  if (!m_session) return;
  m_measureDelay->stop();
  m_runner.cancel(m_measureJob);
  markMaskedHeads();
  log(tr("interventions: %1").arg(masks().empty() ? tr("none") : QString::number(masks().size())));
  refreshMetrics();
  refreshPredictions();
}

void MainWindow::setPrompt(const QString& text) {
  if (!m_session || !m_session->hasTokenizer()) return;
  if (m_promptEdit->text() != text) m_promptEdit->setText(text);
  try {
    QStringList ids;
    for (const auto id : m_session->encode(text.toStdString())) ids << QString::number(id);
    m_idsEdit->setText(ids.join(QStringLiteral(", ")));
    m_inputDelay->start();
  } catch (const std::exception& e) {
    m_inputStatus->setText(QString::fromUtf8(e.what()));
  }
}

void MainWindow::showChips() {
  if (!m_session || !m_session->isLanguageModel()) return;
  QString error;
  const auto ids = currentIds(error);
  viewers::TokenAttributionData data;
  for (const auto id : ids) {
    data.tokens.push_back(m_session->tokenLabel(id));
    data.scores.push_back(0.0);
  }
  data.scoreName = "token";
  data.min = -1.0;  // every chip white: these are tokens, not scores
  data.max = 1.0;
  m_chips->setData(std::move(data));
}

void MainWindow::setInputIds(const QString& text) {
  m_idsEdit->setText(text);
  m_inputDelay->stop();
  refreshPredictions();
}

std::vector<std::int64_t> MainWindow::currentIds(QString& error) const {
  return parseTokenIds(m_idsEdit->text(), error);
}

void MainWindow::refreshPredictions() {
  if (m_session && m_session->isImageModel()) {
    refreshImage();
    return;
  }
  if (!m_session || !m_session->isLanguageModel()) return;
  QString error;
  const auto ids = currentIds(error);
  if (!error.isEmpty()) {
    m_inputStatus->setText(error);
    return;
  }
  m_inputStatus->setText(tr("%1 tokens").arg(ids.size()));
  m_runner.cancel(m_predictJob);
  auto session = m_session;
  m_predictJob = m_runner.start<std::vector<Prediction>>(
      tr("predict"),
      [session, ids, masks = masks()](Progress& progress) {
        return session->topPredictions(ids, masks, kTopK, progress);
      },
      [this](std::vector<Prediction> predictions) {
        m_predictions = std::move(predictions);
        m_predictionList->clear();
        for (const auto& p : m_predictions) {
          auto* item = new QTreeWidgetItem(m_predictionList,
                                           {QString::fromStdString(m_session->tokenLabel(p.token)),
                                            QString::number(p.probability, 'f', 4)});
          item->setToolTip(0, tr("token id %1").arg(p.token));
        }
        Q_EMIT predictionsUpdated();
      });
}

void MainWindow::refreshMetrics() {
  if (!m_session) return;
  if (!m_session->hasDataset()) {
    m_metricsLabel->setText(
        tr("Metrics: this model has no evaluation set (File > Open dataset to choose one)"));
    return;
  }
  struct Metrics {
    LiveMetrics full;
    LiveMetrics masked;
  };
  m_runner.cancel(m_metricsJob);
  m_metricsLabel->setText(tr("Metrics: computing..."));
  auto session = m_session;
  const auto known = m_full;
  m_metricsJob = m_runner.start<Metrics>(
      tr("metrics"),
      [session, known, masks = masks()](Progress& progress) {
        Metrics m;
        m.full = known ? *known : session->metrics({}, progress);
        m.masked = masks.empty() ? m.full : session->metrics(masks, progress);
        return m;
      },
      [this, count = masks().size()](Metrics m) {
        m_full = m.full;
        m_masked = m.masked;
        m_prune->showMetrics(m.full, m.masked);
        m_metricsLabel->setText(
            tr("Accuracy on %1 (%2 rows): full %3, masked %4 (%5 interventions, %6 ms)")
                .arg(QString::fromStdString(m_session->summary().dataset))
                .arg(m.masked.rows)
                .arg(m.full.accuracy, 0, 'f', 3)
                .arg(m.masked.accuracy, 0, 'f', 3)
                .arg(count)
                .arg(m.masked.seconds * 1e3, 0, 'f', 0));
        log(tr("accuracy: full %1, masked %2")
                .arg(m.full.accuracy, 0, 'f', 3)
                .arg(m.masked.accuracy, 0, 'f', 3));
        Q_EMIT metricsUpdated();
        // Every settled change gets its latency too, so the trade-off chart follows the walk.
        m_measureDelay->start();
      });
}

void MainWindow::measurePruning() {
  if (!m_session || !m_session->hasDataset()) return;
  m_runner.cancel(m_measureJob);
  auto session = m_session;
  m_measureJob = m_runner.start<PruningTable>(
      tr("latency"),
      [session, masks = masks()](Progress& progress) {
        return session->comparePruning(masks, progress);
      },
      [this](PruningTable table) {
        m_prune->showPruningTable(table);
        Q_EMIT pruningMeasured();
      });
}

void MainWindow::openDataset(const QString& spec) {
  if (!m_session) return;
  auto session = m_session;
  const auto text = spec.toStdString();
  // The dataset is swapped on the worker (jobs run one at a time), so no forward pass reads it
  // while it changes.
  m_runner.start<bool>(
      tr("open dataset %1").arg(spec),
      [session, text](Progress& progress) {
        session->setDataset(text, progress);
        return true;
      },
      [this, spec](bool) {
        log(tr("evaluation set: %1").arg(QString::fromStdString(m_session->summary().dataset)));
        m_full.reset();
        m_masked.reset();
        m_prune->clearResults();
        refreshMetrics();
        // The session went back to row 0 of the new set.
        if (m_session->isImageModel()) refreshImage();
        Q_EMIT datasetOpened();
      });
}

void MainWindow::exportMask(const QString& path) {
  if (!m_session) return;
  auto session = m_session;
  m_runner.start<bool>(
      tr("export mask"),
      [session, file = path.toStdString(), masks = masks()](Progress& progress) {
        session->saveMask(file, masks, progress);
        return true;
      },
      [this, path](bool) {
        log(tr("mask written to %1").arg(path));
        Q_EMIT maskExported(path);
      });
}

void MainWindow::importMask(const QString& path) {
  if (!m_session) return;
  auto session = m_session;
  m_runner.start<hooks::MaskSet>(
      tr("import mask"),
      [session, file = path.toStdString()](Progress& progress) {
        return session->loadMask(file, progress);
      },
      [this, path](hooks::MaskSet imported) {
        m_interventions->apply(imported, tr("import %1").arg(path));
      });
}

void MainWindow::exportPruned(const QString& folder) {
  if (!m_session) return;
  auto session = m_session;
  m_runner.start<bool>(
      tr("export pruned model"),
      [session, dir = folder.toStdString(), masks = masks()](Progress& progress) {
        session->exportPruned(dir, masks, progress);
        return true;
      },
      [this, folder](bool) {
        log(tr("pruned model written to %1 (File > Open model folder opens it)").arg(folder));
        Q_EMIT prunedExported(folder);
      });
}

bool MainWindow::exportFigure(const QString& dockName, const QString& path) {
  auto* dock = m_viewerDocks.value(dockName);
  auto* figure = dock ? dock->widget() : nullptr;
  if (!figure) {
    showError(tr("There is no %1 figure to save yet.").arg(dockName));
    return false;
  }
  const QSize size = figure->size().isEmpty() ? figure->sizeHint() : figure->size();
  try {
    if (path.endsWith(QStringLiteral(".svg"), Qt::CaseInsensitive)) {
      viewers::renderToSvg(*figure, path.toStdString(), size);
    } else {
      viewers::renderToPng(*figure, path.toStdString(), size);
    }
  } catch (const std::exception& e) {
    showError(tr("Cannot save the figure:\n%1").arg(QString::fromUtf8(e.what())));
    return false;
  }
  log(tr("figure saved to %1").arg(path));
  return true;
}

void MainWindow::setDevice(const QString& device) {
  if (device == m_device) return;
  m_device = device;
  log(tr("device: %1").arg(device));
  if (m_session) openModel(QString::fromStdString(m_session->summary().source));
}

void MainWindow::onJobStarted(int id, const QString& name) { m_jobNames[id] = name; }

void MainWindow::onJobEnded(int id, JobState state, const QString& message) {
  const auto name = m_jobNames.take(id);
  if (state == JobState::Failed) {
    if (m_demoRunning) {
      stopDemo();
      log(tr("the demo step stopped"));
    }
    log(tr("%1 failed: %2").arg(name, message));
    showError(tr("%1 failed:\n%2").arg(name, message));
    if (id == m_loadJob) Q_EMIT modelLoadFailed(message);
  } else if (state == JobState::Cancelled && id == m_loadJob) {
    log(tr("%1 cancelled").arg(name));
  }
}

void MainWindow::log(const QString& line) {
  m_log->appendPlainText(QStringLiteral("%1  %2").arg(
      QTime::currentTime().toString(QStringLiteral("HH:mm:ss")), line));
}

// Non-modal: the user reads it while the window keeps working; a later error replaces the text.
void MainWindow::showError(const QString& message) {
  statusBar()->showMessage(message.section(QLatin1Char('\n'), 0, 0), 10000);
  if (!m_errorBox) {
    m_errorBox =
        new QMessageBox(QMessageBox::Warning, tr("circuitscope"), QString(), QMessageBox::Ok, this);
    m_errorBox->setObjectName(QStringLiteral("errorBox"));
    m_errorBox->setWindowModality(Qt::NonModal);
    m_errorBox->setAttribute(Qt::WA_DeleteOnClose);
  }
  m_errorBox->setText(message);
  m_errorBox->show();
}

void MainWindow::closeEvent(QCloseEvent* event) {
  saveSettings();
  QMainWindow::closeEvent(event);
}

}  // namespace cs::gui
