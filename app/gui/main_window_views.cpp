// Analyses shown in viewer docks: the attention patterns of one layer and the head grid.
#include <QDockWidget>
#include <QImage>

#include "app/gui/intervention_stack.h"
#include "app/gui/main_window.h"
#include "app/gui/store_activation_source.h"
#include "viewers/activations_browser.h"
#include "viewers/attention_view.h"
#include "viewers/head_grid_view.h"
#include "viewers/image_attribution_view.h"
#include "viewers/token_attribution_view.h"

#include <set>

namespace cs::gui {

bool MainWindow::inputIdsForAnalysis(std::vector<std::int64_t>& ids) {
  if (!m_session->isLanguageModel()) return true;  // image models read the current image
  QString error;
  ids = currentIds(error);
  if (!error.isEmpty()) showError(error);
  return error.isEmpty();
}

void MainWindow::showAttention(int layer, int head) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<LayerAttention>(
      tr("attention of block %1").arg(layer),
      [session, ids, layer, masks = masks()](Progress& progress) {
        return session->attention(ids, layer, masks, progress);
      },
      [this, head](LayerAttention a) {
        viewers::AttentionData data;
        data.tokens = std::move(a.tokens);
        data.layer = a.layer;
        data.heads = std::move(a.heads);
        auto* view = new viewers::AttentionView;
        view->setObjectName(QStringLiteral("attentionView"));
        view->setData(std::move(data));
        if (head >= 0 && head < static_cast<int>(view->data().heads.size())) {
          view->setCurrentHead(head);
        }
        viewerDock(QStringLiteral("attentionDock"), tr("Attention"), view);
        Q_EMIT attentionShown(view->data().layer);
      });
}

void MainWindow::askHeadAblation() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("headAblation"), tr("Head ablation sweep"),
      {choiceField(QStringLiteral("mode"), tr("Ablation"),
                   tr("Zero: the head's output is 0. Mean: its mean over the evaluation rows."),
                   QStringLiteral("zero"), {QStringLiteral("zero"), QStringLiteral("mean")},
                   {tr("zero"), tr("mean over the evaluation rows")})});
  if (!values) return;
  HeadAblationSettings settings;
  settings.mean = values->value(QStringLiteral("mode")).toString() == QStringLiteral("mean");
  runHeadAblation(settings);
}

void MainWindow::runHeadAblation(const HeadAblationSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<HeadScores>(
      tr("head ablation sweep"),
      [session, masks = masks(), settings](Progress& progress) {
        return session->headAblation(masks, progress, settings);
      },
      [this](HeadScores scores) {
        viewers::HeadGridData data;
        data.scores = scores.values;
        data.title = scores.title;
        data.annotate = true;
        auto* view = new viewers::HeadGridView;
        view->setObjectName(QStringLiteral("headGrid"));
        view->setToolTip(tr("click: show the head's attention; Ctrl-click: mask or restore it"));
        view->setData(std::move(data));
        connect(view, &viewers::HeadGridView::headSelected, this,
                [this](int layer, int head) { showAttention(layer, head); });
        connect(view, &viewers::HeadGridView::headMaskToggled, this, [this](int layer, int head) {
          if (masks().find(hooks::MaskComponent::Head, layer, head)) {
            m_interventions->remove(hooks::MaskComponent::Head, layer, head);
          } else {
            m_interventions->set({hooks::MaskComponent::Head, layer, head});
          }
        });
        m_headGrid = view;
        markMaskedHeads();
        viewerDock(QStringLiteral("headGridDock"), tr("Head grid"), view);
        Q_EMIT headScoresShown();
      });
}

void MainWindow::markMaskedHeads() {
  if (!m_headGrid) return;
  std::set<viewers::HeadId> heads;
  for (const auto& e : masks().entries()) {
    if (e.component == hooks::MaskComponent::Head) heads.insert({e.layer, e.index});
  }
  m_headGrid->setMaskedHeads(std::move(heads));
}

void MainWindow::askIntegratedGradients() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("integratedGradients"), tr("Integrated gradients"),
      {choiceField(QStringLiteral("rule"), tr("Quadrature rule"),
                   tr("Gauss-Legendre converges fastest; left Riemann as in NeuronPath; the "
                      "trapezoid of the LIB reference"),
                   QStringLiteral("gauss-legendre"),
                   {QStringLiteral("gauss-legendre"), QStringLiteral("trapezoid"),
                    QStringLiteral("left-riemann")},
                   {tr("Gauss-Legendre"), tr("trapezoid"), tr("left Riemann")}),
       intField(QStringLiteral("steps"), tr("Steps"),
                tr("n (n + 1 points) for Gauss-Legendre and the trapezoid, m points for left "
                   "Riemann; each point is one forward and backward pass"),
                31, 1, 1024)});
  if (!values) return;
  IgSettings settings;
  settings.rule = values->value(QStringLiteral("rule")).toString().toStdString();
  settings.steps = values->value(QStringLiteral("steps")).toInt();
  runIntegratedGradients(settings);
}

void MainWindow::runIntegratedGradients(const IgSettings& settings) {
  if (!m_session) return;
  std::vector<std::int64_t> ids;
  if (!inputIdsForAnalysis(ids)) return;
  m_runner.cancel(m_viewJob);
  auto session = m_session;
  m_viewJob = m_runner.start<InputAttribution>(
      tr("integrated gradients"),
      [session, ids, masks = masks(), settings](Progress& progress) {
        return session->integratedGradients(ids, masks, progress, settings);
      },
      [this](InputAttribution a) {
        QWidget* widget = nullptr;
        if (!a.rgb.empty()) {
          viewers::ImageAttributionData data;
          data.image = QImage(a.rgb.data(), a.imageWidth, a.imageHeight, 3 * a.imageWidth,
                              QImage::Format_RGB888)
                           .copy();
          data.scores = a.pixelScores;
          data.grid = viewers::AttributionGrid::Pixels;
          data.title = a.title;
          data.scoreName = "IG attribution";
          auto* view = new viewers::ImageAttributionView;
          view->setData(std::move(data));
          widget = view;
        } else {
          viewers::TokenAttributionData data;
          data.tokens = std::move(a.tokens);
          data.scores = std::move(a.tokenScores);
          data.title = a.title;
          data.scoreName = "IG attribution";
          auto* view = new viewers::TokenAttributionView;
          view->setData(std::move(data));
          widget = view;
        }
        widget->setObjectName(QStringLiteral("attributionView"));
        viewerDock(QStringLiteral("attributionDock"), tr("Attribution"), widget);
        Q_EMIT attributionShown();
      });
}

void MainWindow::openRecording(const QString& path) {
  // Opening reads the store's header only; slices are read as the user browses them.
  std::unique_ptr<StoreActivationSource> source;
  try {
    source = std::make_unique<StoreActivationSource>(path.toStdString());
  } catch (const std::exception& e) {
    log(tr("open recording %1 failed: %2").arg(path, QString::fromUtf8(e.what())));
    showError(tr("Cannot open the recording %1:\n%2").arg(path, QString::fromUtf8(e.what())));
    return;
  }
  auto* browser = new viewers::ActivationsBrowser;
  browser->setObjectName(QStringLiteral("activationsBrowser"));
  browser->setSource(std::move(source));
  browser->setAutoRefresh(true);
  viewerDock(QStringLiteral("recordingDock"), tr("Recording"), browser);
  log(tr("recording %1: %2 examples").arg(path).arg(browser->rowsAvailable()));
  Q_EMIT recordingOpened(path);
}

}  // namespace cs::gui
