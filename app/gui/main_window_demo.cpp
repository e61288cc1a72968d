// Teaching presets in the window: the Demos menu, the side panel, and the actions of a step
// carried out one after another. An action that starts a job (loading, an analysis, a view)
// waits for its result before the next one runs; a failed job stops the step.
#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QTimer>

#include "app/gui/demo_panel.h"
#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"

namespace cs::gui {

void MainWindow::buildDemoMenu() {
  auto* demos = menuBar()->addMenu(tr("De&mos"));
  demos->setObjectName(QStringLiteral("demosMenu"));
  const auto catalog = listDemoPresets();
  for (const auto& preset : catalog.presets) {
    auto* action = demos->addAction(QString::fromStdString(preset.title), this,
                                    [this, preset]() { openDemo(preset); });
    action->setToolTip(QString::fromStdString(preset.summary));
  }
  for (const auto& error : catalog.errors)
    log(tr("demo skipped: %1").arg(QString::fromStdString(error)));
  demos->setEnabled(!catalog.presets.empty());
}

void MainWindow::openDemo(const DemoPreset& preset) {
  if (!m_demoPanel) {
    m_demoPanel = new DemoPanel;
    connect(m_demoPanel, &DemoPanel::stepRequested, this, &MainWindow::runDemoStep);
    auto* dock = new QDockWidget(tr("Demo"), this);
    dock->setObjectName(QStringLiteral("demoDock"));
    dock->setWidget(m_demoPanel);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
  }
  stopDemo();
  m_demoPanel->setPreset(preset);
  m_demoPanel->parentWidget()->show();
  log(tr("demo: %1").arg(QString::fromStdString(preset.title)));
  if (!m_session || m_session->summary().source != preset.model) {
    openModel(QString::fromStdString(preset.model));
  }
}

void MainWindow::runDemoStep(int index) {
  const auto& steps = m_demoPanel->preset().steps;
  if (index < 0 || index >= static_cast<int>(steps.size())) return;
  stopDemo();
  const auto& step = steps[static_cast<std::size_t>(index)];
  log(tr("demo step %1: %2").arg(index + 1).arg(QString::fromStdString(step.title)));
  m_demoQueue.assign(step.actions.begin(), step.actions.end());
  m_demoRunning = true;
  m_demoPanel->setBusy(true);
  continueDemo();
}

void MainWindow::stopDemo() {
  QObject::disconnect(m_demoWait);
  m_demoQueue.clear();
  m_demoRunning = false;
  if (m_demoPanel) m_demoPanel->setBusy(false);
}

void MainWindow::continueDemo() {
  QObject::disconnect(m_demoWait);
  // Waits for `signal`, then goes on with the next action (queued, so the slot that emitted it
  // finishes first).
  const auto waitFor = [this](auto signal) {
    m_demoWait = connect(this, signal, this,
                         [this]() { QTimer::singleShot(0, this, &MainWindow::continueDemo); });
  };
  while (!m_demoQueue.empty()) {
    const auto a = m_demoQueue.front();
    m_demoQueue.erase(m_demoQueue.begin());
    log(tr("  %1").arg(QString::fromStdString(describeDemoAction(a))));
    switch (a.kind) {
      case DemoActionKind::LoadModel:
        waitFor(&MainWindow::modelLoaded);
        openModel(QString::fromStdString(a.source));
        return;
      case DemoActionKind::Input:
        if (a.inputKind == DemoInputKind::Ids) {
          QStringList ids;
          for (const auto id : a.ids) ids << QString::number(id);
          setInputIds(ids.join(QStringLiteral(", ")));
        } else if (a.inputKind == DemoInputKind::DatasetRow && m_session &&
                   m_session->isImageModel()) {
          // The row's own image, not a refresh of the one before it that arrives first.
          m_demoWait = connect(this, &MainWindow::imageShown, this, [this, row = a.datasetRow]() {
            if (m_image && m_image->row == row) {
              QTimer::singleShot(0, this, &MainWindow::continueDemo);
            }
          });
          setImageRow(a.datasetRow);
          return;
        } else {
          log(
              tr("  this input is not in the window yet (text prompts, and dataset rows of "
                 "language models); the step goes on with the current input"));
        }
        break;
      case DemoActionKind::Mask: {
        auto after = masks();
        for (const auto& h : a.heads) after.set({hooks::MaskComponent::Head, h.layer, h.index});
        for (const auto& n : a.neurons) after.set({hooks::MaskComponent::Neuron, n.layer, n.index});
        m_interventions->apply(after,
                               tr("demo: %1").arg(QString::fromStdString(describeDemoAction(a))));
        break;
      }
      case DemoActionKind::UnmaskAll:
        m_interventions->clear();
        break;
      case DemoActionKind::Analysis:
        if (a.analysis == DemoAnalysis::HeadAblation) {
          waitFor(&MainWindow::headScoresShown);
          runHeadAblation();
          return;
        }
        if (a.analysis == DemoAnalysis::Attention) {
          waitFor(&MainWindow::attentionShown);
          showAttention(a.options.value("layer", 0), a.options.value("head", 0));
          return;
        }
        if (a.analysis == DemoAnalysis::IntegratedGradients) {
          waitFor(&MainWindow::attributionShown);
          runIntegratedGradients();
          return;
        }
        log(tr("  '%1' is not in the window yet: `circuitscope-cli analyze` runs it")
                .arg(QString::fromUtf8(demoAnalysisName(a.analysis))));
        break;
      case DemoActionKind::Show:
        switch (a.view) {
          case DemoView::Attention:
            waitFor(&MainWindow::attentionShown);
            showAttention(a.layer, a.head);
            return;
          case DemoView::HeadGrid:
            if (auto* dock = m_viewerDocks.value(QStringLiteral("headGridDock"))) {
              dock->raise();
              break;
            }
            waitFor(&MainWindow::headScoresShown);
            runHeadAblation();
            return;
          case DemoView::TokenAttribution:
          case DemoView::ImageAttribution:
            if (auto* dock = m_viewerDocks.value(QStringLiteral("attributionDock"))) {
              dock->raise();
              break;
            }
            waitFor(&MainWindow::attributionShown);
            runIntegratedGradients();
            return;
          case DemoView::Metrics:
          case DemoView::Chart:
          case DemoView::Predictions:
            if (auto* dock = findChild<QDockWidget*>(QStringLiteral("pruneDock"))) dock->raise();
            break;
        }
        break;
    }
  }
  m_demoRunning = false;
  m_demoPanel->setBusy(false);
  Q_EMIT demoStepFinished();
}

}  // namespace cs::gui
