#include "app/gui/main_window.h"

#include <QDateTime>
#include <QDockWidget>
#include <QFileDialog>
#include <QFont>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QRegularExpression>
#include <QStatusBar>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "app/gui/jobs_panel.h"
#include "models/loaders/builtin_models.h"

namespace cs::gui {

namespace {

constexpr int kLayerRole = Qt::UserRole;
constexpr int kHeadRole = Qt::UserRole + 1;
constexpr int kTopK = 5;

QString headLabel(int layer, int head) { return QStringLiteral("head %1.%2").arg(layer).arg(head); }

// Token ids from "1, 2, 3" or "1 2 3"; an error text instead when a piece is not an id.
std::vector<std::int64_t> parseIds(const QString& text, QString& error) {
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

}  // namespace

MainWindow::MainWindow(const QString& model, QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(QStringLiteral("circuitscope"));
  connect(&m_runner, &JobRunner::jobStarted, this, &MainWindow::onJobStarted);
  connect(&m_runner, &JobRunner::jobEnded, this, &MainWindow::onJobEnded);
  buildPanels();
  buildMenus();
  resize(1100, 720);
  if (!model.isEmpty()) openModel(model);
}

// Jobs hold their own reference to the session; the runner's destructor cancels and waits.
MainWindow::~MainWindow() = default;

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
  file->addSeparator();
  file->addAction(tr("Quit"), this, &QWidget::close);
}

void MainWindow::buildPanels() {
  m_modelTree = new QTreeWidget;
  m_modelTree->setObjectName(QStringLiteral("modelTree"));
  m_modelTree->setColumnCount(2);
  m_modelTree->setHeaderLabels({tr("Component"), tr("Shape")});
  m_modelTree->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  connect(m_modelTree, &QTreeWidget::itemChanged, this, &MainWindow::onTreeItemChanged);
  auto* modelDock = new QDockWidget(tr("Model"), this);
  modelDock->setObjectName(QStringLiteral("modelDock"));
  modelDock->setWidget(m_modelTree);
  addDockWidget(Qt::LeftDockWidgetArea, modelDock);

  auto* central = new QWidget;
  auto* layout = new QVBoxLayout(central);
  layout->addWidget(new QLabel(tr("Input token ids")));
  m_idsEdit = new QLineEdit;
  m_idsEdit->setObjectName(QStringLiteral("idsEdit"));
  layout->addWidget(m_idsEdit);
  m_inputStatus = new QLabel;
  m_inputStatus->setObjectName(QStringLiteral("inputStatus"));
  layout->addWidget(m_inputStatus);
  layout->addWidget(new QLabel(tr("Top next tokens at the last position")));
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

void MainWindow::openModel(const QString& folderOrBuiltin) {
  log(tr("loading %1").arg(folderOrBuiltin));
  m_runner.cancel(m_loadJob);
  const auto source = folderOrBuiltin.toStdString();
  m_loadJob = m_runner.start<std::shared_ptr<ModelSession>>(
      tr("load %1").arg(folderOrBuiltin),
      [source](Progress& progress) {
        return std::shared_ptr<ModelSession>(ModelSession::open(source, progress));
      },
      [this](std::shared_ptr<ModelSession> session) {
        m_session = std::move(session);
        m_masks.clear();
        m_baseline.reset();
        m_masked.reset();
        showModel();
        Q_EMIT modelLoaded();
        refreshMetrics();
        refreshPredictions();
      });
}

void MainWindow::showModel() {
  const auto& s = m_session->summary();
  log(tr("loaded %1: %2, %3 blocks, width %4")
          .arg(QString::fromStdString(s.source), QString::fromStdString(s.family))
          .arg(s.blocks.size())
          .arg(s.dModel));
  m_fillingTree = true;
  m_modelTree->clear();
  auto addHooks = [](QTreeWidgetItem* parent, const std::vector<HookInfo>& hooks) {
    auto* group = new QTreeWidgetItem(parent, {tr("hook points")});
    for (const auto& h : hooks) {
      new QTreeWidgetItem(group, {QString::fromStdString(h.name), QString::fromStdString(h.shape)});
    }
  };
  for (const auto& b : s.blocks) {
    auto* block = new QTreeWidgetItem(m_modelTree, {tr("block %1").arg(b.layer)});
    auto* attention = new QTreeWidgetItem(
        block, {b.heads > 0 ? tr("attention (%1 heads of %2)").arg(b.heads).arg(b.dHead)
                            : tr("attention: skipped")});
    for (int h = 0; h < b.heads; ++h) {
      auto* head = new QTreeWidgetItem(attention, {headLabel(b.layer, h)});
      head->setFlags(head->flags() | Qt::ItemIsUserCheckable);
      head->setCheckState(0, Qt::Checked);
      head->setToolTip(0, tr("uncheck to zero-ablate this head"));
      head->setData(0, kLayerRole, b.layer);
      head->setData(0, kHeadRole, h);
    }
    new QTreeWidgetItem(
        block, {b.mlpWidth > 0 ? tr("MLP (%1 neurons)").arg(b.mlpWidth) : tr("MLP: none")});
    addHooks(block, b.hooks);
    block->setExpanded(true);
    attention->setExpanded(true);
  }
  auto* model = new QTreeWidgetItem(m_modelTree, {tr("model")});
  addHooks(model, s.modelHooks);
  m_fillingTree = false;

  const auto& example = m_session->exampleInput();
  QStringList ids;
  for (const auto id : example) ids << QString::number(id);
  m_idsEdit->setText(ids.join(QStringLiteral(", ")));
  setWindowTitle(QStringLiteral("circuitscope - %1").arg(QString::fromStdString(s.source)));
}

void MainWindow::onTreeItemChanged(QTreeWidgetItem* item, int column) {
  if (m_fillingTree || column != 0 || !item->data(0, kHeadRole).isValid()) return;
  const int layer = item->data(0, kLayerRole).toInt();
  const int head = item->data(0, kHeadRole).toInt();
  const bool masked = item->checkState(0) == Qt::Unchecked;
  if (masked) {
    m_masks.set({hooks::MaskComponent::Head, layer, head, hooks::AblationMode::Zero});
  } else {
    m_masks.remove(hooks::MaskComponent::Head, layer, head);
  }
  // Masked heads read as struck out and grey, so they stand out in a long tree.
  QFont font = item->font(0);
  font.setStrikeOut(masked);
  item->setFont(0, font);
  item->setForeground(0, masked ? palette().brush(QPalette::Disabled, QPalette::Text)
                                : palette().brush(QPalette::Active, QPalette::Text));
  log(tr("%1 %2").arg(headLabel(layer, head), masked ? tr("masked (zero)") : tr("restored")));
  refreshMetrics();
  refreshPredictions();
}

void MainWindow::setInputIds(const QString& text) {
  m_idsEdit->setText(text);
  m_inputDelay->stop();
  refreshPredictions();
}

void MainWindow::refreshPredictions() {
  if (!m_session) return;
  QString error;
  const auto ids = parseIds(m_idsEdit->text(), error);
  if (!error.isEmpty()) {
    m_inputStatus->setText(error);
    return;
  }
  m_inputStatus->setText(tr("%1 tokens").arg(ids.size()));
  m_runner.cancel(m_predictJob);
  auto session = m_session;
  m_predictJob = m_runner.start<std::vector<Prediction>>(
      tr("predict"),
      [session, ids, masks = m_masks](Progress& progress) {
        return session->topPredictions(ids, masks, kTopK, progress);
      },
      [this](std::vector<Prediction> predictions) {
        m_predictions = std::move(predictions);
        m_predictionList->clear();
        for (const auto& p : m_predictions) {
          new QTreeWidgetItem(m_predictionList,
                              {QString::number(p.token), QString::number(p.probability, 'f', 4)});
        }
        Q_EMIT predictionsUpdated();
      });
}

void MainWindow::refreshMetrics() {
  if (!m_session) return;
  if (!m_session->hasDataset()) {
    m_metricsLabel->setText(tr("Metrics: this model has no evaluation set"));
    return;
  }
  struct Metrics {
    double baseline = 0.0;
    double masked = 0.0;
  };
  m_runner.cancel(m_metricsJob);
  m_metricsLabel->setText(tr("Metrics: computing..."));
  auto session = m_session;
  const auto known = m_baseline;
  m_metricsJob = m_runner.start<Metrics>(
      tr("metrics"),
      [session, known, masks = m_masks](Progress& progress) {
        Metrics m;
        m.baseline = known ? *known : session->accuracy({}, progress);
        m.masked = masks.empty() ? m.baseline : session->accuracy(masks, progress);
        return m;
      },
      [this, masks = m_masks.size()](Metrics m) {
        m_baseline = m.baseline;
        m_masked = m.masked;
        m_metricsLabel->setText(
            tr("Accuracy on %1 (first %2 rows): baseline %3, masked %4 (%5 components masked)")
                .arg(QString::fromStdString(m_session->summary().dataset))
                .arg(ModelSession::kEvalRows)
                .arg(m.baseline, 0, 'f', 3)
                .arg(m.masked, 0, 'f', 3)
                .arg(masks));
        log(tr("accuracy: baseline %1, masked %2")
                .arg(m.baseline, 0, 'f', 3)
                .arg(m.masked, 0, 'f', 3));
        Q_EMIT metricsUpdated();
      });
}

void MainWindow::onJobStarted(int id, const QString& name) { m_jobNames[id] = name; }

void MainWindow::onJobEnded(int id, JobState state, const QString& message) {
  const auto name = m_jobNames.take(id);
  if (state == JobState::Failed) {
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

}  // namespace cs::gui
