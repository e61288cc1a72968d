// The Local Interaction Basis dock: the interaction graph (columns of LIB directions sized by
// Lambda, edges by E) with a threshold slider, the Lambda and Gram spectra of a chosen node layer,
// and the LIB-vs-PCA node-ablation curves. The result is of the model without interventions, so
// the dock does not follow the mask.
#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPoint>
#include <QSignalBlocker>
#include <QSlider>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include "app/gui/main_window.h"
#include "app/gui/number_text.h"
#include "viewers/chart_view.h"
#include "viewers/interaction_graph_view.h"

namespace cs::gui {

namespace {

std::vector<std::string> indexLabels(Eigen::Index count) {
  std::vector<std::string> labels;
  for (Eigen::Index i = 0; i < count; ++i) labels.push_back(std::to_string(i));
  return labels;
}

viewers::InteractionGraphData graphData(const analysis::LibResult& r) {
  viewers::InteractionGraphData data;
  for (const auto& layer : r.layers) {
    data.layers.push_back(
        {layer.name,
         std::vector<double>(layer.lambda.data(), layer.lambda.data() + layer.lambda.size())});
  }
  for (const auto& E : r.edges) {
    viewers::InteractionEdges edges;
    edges.rows = static_cast<int>(E.rows());
    edges.cols = static_cast<int>(E.cols());
    // Eigen stores E column-major; the view reads row-major.
    edges.values.reserve(static_cast<std::size_t>(E.size()));
    for (Eigen::Index i = 0; i < E.rows(); ++i) {
      for (Eigen::Index j = 0; j < E.cols(); ++j) edges.values.push_back(E(i, j));
    }
    data.edges.push_back(std::move(edges));
  }
  data.title = "LIB interaction graph, " + std::to_string(r.examples) + " rows";
  return data;
}

// Bars on a linear scale; on the log scale a line of log10 values, as spectra are usually drawn
// (they span many orders of magnitude, so linear bars show the first few and nothing else).
// Values <= 0 have no logarithm and are left out (NaN).
viewers::ChartData spectrumChart(const std::string& title, const std::string& xTitle,
                                 const std::string& series, const Eigen::VectorXd& values,
                                 bool logScale) {
  viewers::ChartData data;
  data.kind = logScale ? viewers::ChartKind::Line : viewers::ChartKind::Bar;
  data.title = title;
  data.xTitle = xTitle;
  data.yTitle = logScale ? "log10 " + series : series;
  data.categories = indexLabels(values.size());
  viewers::ChartSeries line{series, {}};
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    const double v = values[i];
    line.values.push_back(!logScale ? v : v > 0.0 ? std::log10(v) : std::nan(""));
  }
  data.series.push_back(std::move(line));
  return data;
}

// A curve's accuracy at `kept` directions: measured, or, beyond its last count, that count's
// value (every direction kept is the unmodified activations); nullopt where it has no point.
std::optional<double> accuracyAt(const analysis::LibAblationCurve& c, std::int64_t kept) {
  const auto it = std::find(c.kept.begin(), c.kept.end(), kept);
  if (it != c.kept.end()) return c.accuracy[static_cast<std::size_t>(it - c.kept.begin())];
  if (!c.kept.empty() && kept > c.kept.back()) return c.accuracy.back();
  return std::nullopt;
}

// LIB and PCA share one x axis, but their schedules end at different counts (LIB at the kept
// directions, PCA at the width). A count only one curve measured inside the other's range is
// left out: a NaN there would break the other line, and an interpolated value would be invented.
viewers::ChartData curveChart(const analysis::LibAblationCurve& lib,
                              const analysis::LibAblationCurve& pca, double baseAccuracy) {
  viewers::ChartData data;
  data.kind = viewers::ChartKind::Line;
  data.title = "Node ablation of " +
               viewers::InteractionGraphView::shortLayerName(lib.layer).toStdString() +
               " (base accuracy " + formatNumber(baseAccuracy) + ")";
  data.xTitle = "directions kept";
  data.yTitle = "accuracy";
  data.yMin = 0.0;
  data.yMax = 1.0;
  std::vector<std::int64_t> counts(lib.kept);
  counts.insert(counts.end(), pca.kept.begin(), pca.kept.end());
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  viewers::ChartSeries libSeries{"LIB", {}}, pcaSeries{"PCA", {}};
  for (const auto k : counts) {
    const auto a = accuracyAt(lib, k), b = accuracyAt(pca, k);
    if (!a || !b) continue;
    data.x.push_back(static_cast<double>(k));
    libSeries.values.push_back(*a);
    pcaSeries.values.push_back(*b);
  }
  data.series = {std::move(libSeries), std::move(pcaSeries)};
  return data;
}

QString layerCaption(const analysis::LibNodeLayer& layer) {
  return QObject::tr("%1: %2 of %3 directions kept")
      .arg(viewers::InteractionGraphView::shortLayerName(layer.name))
      .arg(layer.lambda.size())
      .arg(layer.width);
}

// The graph, the threshold slider and the label that counts the shown edges.
QWidget* graphTab(const analysis::LibResult& r) {
  auto* tab = new QWidget;
  auto* layout = new QVBoxLayout(tab);
  auto* view = new viewers::InteractionGraphView;
  view->setObjectName(QStringLiteral("libGraph"));
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(QObject::tr("Edge threshold")));
  auto* slider = new QSlider(Qt::Horizontal);
  slider->setObjectName(QStringLiteral("libThreshold"));
  slider->setRange(0, 100);
  slider->setToolTip(
      QObject::tr("Edges with E at least this share of the largest E between the same two node "
                  "layers are drawn"));
  row->addWidget(slider, 1);
  auto* summary = new QLabel;
  summary->setObjectName(QStringLiteral("libEdgeSummary"));
  row->addWidget(summary);
  auto* selected = new QLabel(
      QObject::tr("Hover over a node or an edge for its values; click a node to highlight its "
                  "edges."));
  selected->setObjectName(QStringLiteral("libSelection"));
  selected->setWordWrap(true);
  layout->addWidget(view, 1);
  layout->addLayout(row);
  layout->addWidget(selected);

  try {
    view->setData(graphData(r));
  } catch (const std::exception& e) {
    // A node layer whose directions were all truncated cannot be drawn; the charts still can.
    selected->setText(
        QObject::tr("The graph cannot be drawn: %1").arg(QString::fromUtf8(e.what())));
  }
  const auto showSummary = [view, summary](double fraction) {
    summary->setText(
        QObject::tr("%1 %: %2").arg(std::lround(fraction * 100)).arg(view->edgeSummary()));
  };
  QObject::connect(slider, &QSlider::valueChanged, view,
                   [view](int percent) { view->setThreshold(percent / 100.0); });
  QObject::connect(view, &viewers::InteractionGraphView::thresholdChanged, slider,
                   [slider, showSummary](double fraction) {
                     // Blocked so that a fraction between two whole percents is not rounded by
                     // the slider's own echo.
                     const QSignalBlocker blocker(slider);
                     slider->setValue(static_cast<int>(std::lround(fraction * 100)));
                     showSummary(fraction);
                   });
  QObject::connect(
      view, &viewers::InteractionGraphView::nodeClicked, selected,
      [view, selected](int layer, int node) { selected->setText(view->nodeToolTip(layer, node)); });
  {
    const QSignalBlocker blocker(slider);
    slider->setValue(static_cast<int>(std::lround(view->threshold() * 100)));
  }
  showSummary(view->threshold());
  return tab;
}

// Lambda and the Gram eigenvalues of the node layer the combo box picks.
QWidget* spectraTab(std::shared_ptr<const analysis::LibResult> r) {
  auto* tab = new QWidget;
  auto* layout = new QVBoxLayout(tab);
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(QObject::tr("Node layer")));
  auto* layers = new QComboBox;
  layers->setObjectName(QStringLiteral("libSpectrumLayer"));
  for (const auto& layer : r->layers) layers->addItem(layerCaption(layer));
  row->addWidget(layers, 1);
  auto* logScale = new QCheckBox(QObject::tr("log10 scale"));
  logScale->setObjectName(QStringLiteral("libSpectrumLog"));
  logScale->setChecked(true);
  row->addWidget(logScale);
  layout->addLayout(row);
  auto* lambda = new viewers::ChartView;
  lambda->setObjectName(QStringLiteral("libLambdaChart"));
  lambda->setToolTip(QObject::tr("How strongly each LIB direction drives the next node layer"));
  auto* gram = new viewers::ChartView;
  gram->setObjectName(QStringLiteral("libGramChart"));
  gram->setToolTip(QObject::tr("Every eigenvalue of the node layer's Gram matrix (PCA variances)"));
  layout->addWidget(lambda, 1);
  layout->addWidget(gram, 1);
  const auto show = [r, layers, logScale, lambda, gram]() {
    const int index = layers->currentIndex();
    if (index < 0 || index >= static_cast<int>(r->layers.size())) return;
    const auto& layer = r->layers[static_cast<std::size_t>(index)];
    const bool log = logScale->isChecked();
    const auto name = viewers::InteractionGraphView::shortLayerName(layer.name).toStdString();
    lambda->setData(spectrumChart(
        "Lambda of " + name + " (" + std::to_string(layer.lambda.size()) + " LIB directions)",
        "LIB direction", "Lambda", layer.lambda, log));
    gram->setData(spectrumChart("Gram eigenvalues of " + name, "eigenvalue (descending)",
                                "eigenvalue", layer.gramEigenvalues, log));
  };
  QObject::connect(layers, &QComboBox::currentIndexChanged, lambda, show);
  QObject::connect(logScale, &QCheckBox::toggled, lambda, show);
  show();
  return tab;
}

// LIB against PCA for the node layer the combo box picks; the curves come in (lib, pca) pairs.
QWidget* curvesTab(std::shared_ptr<const analysis::LibResult> r) {
  auto* tab = new QWidget;
  auto* layout = new QVBoxLayout(tab);
  std::map<std::string, std::pair<int, int>> pairs;  // node layer -> (lib, pca) curve index
  std::vector<std::string> order;
  for (std::size_t i = 0; i < r->curves.size(); ++i) {
    const auto& c = r->curves[i];
    auto [it, added] = pairs.try_emplace(c.layer, -1, -1);
    if (added) order.push_back(c.layer);
    (c.basis == "pca" ? it->second.second : it->second.first) = static_cast<int>(i);
  }
  auto* row = new QHBoxLayout;
  row->addWidget(new QLabel(QObject::tr("Node layer")));
  auto* layers = new QComboBox;
  layers->setObjectName(QStringLiteral("libCurveLayer"));
  for (const auto& name : order) {
    const auto [lib, pca] = pairs[name];
    if (lib < 0 || pca < 0) continue;
    layers->addItem(viewers::InteractionGraphView::shortLayerName(name), QPoint(lib, pca));
  }
  row->addWidget(layers, 1);
  layout->addLayout(row);
  auto* chart = new viewers::ChartView;
  chart->setObjectName(QStringLiteral("libCurveChart"));
  chart->setToolTip(
      QObject::tr("Accuracy on the analysed rows with the activations projected onto the first k "
                  "LIB or PCA directions"));
  layout->addWidget(chart, 1);
  const auto show = [r, layers, chart](int index) {
    if (index < 0) return;
    const auto curves = layers->itemData(index).toPoint();
    chart->setData(curveChart(r->curves[static_cast<std::size_t>(curves.x())],
                              r->curves[static_cast<std::size_t>(curves.y())], r->baseAccuracy));
  };
  QObject::connect(layers, &QComboBox::currentIndexChanged, chart, show);
  show(layers->currentIndex());
  return tab;
}

}  // namespace

void MainWindow::askLocalInteractionBasis() {
  if (!m_session) return;
  const auto values = askOptions(
      QStringLiteral("lib"), tr("Local Interaction Basis"),
      {intField(QStringLiteral("rows"), tr("Rows"),
                tr("The first rows of the evaluation set; the Jacobians cost grows with them"),
                static_cast<int>(ModelSession::kLibRows), 1, 1000000),
       boolField(QStringLiteral("centre"), tr("Centre"),
                 tr("Centre every coordinate but the constant one, which becomes the first "
                    "direction"),
                 false),
       scientificField(QStringLiteral("tau"), tr("Truncation tau"),
                       tr("Eigenvalues at or below tau are truncated"), 1e-15, 0.0, 1e6),
       boolField(QStringLiteral("relativeTau"), tr("Tau relative to the largest eigenvalue"),
                 tr("Truncate at tau times the largest eigenvalue instead"), false),
       boolField(QStringLiteral("edges"), tr("Edges"),
                 tr("The interaction strengths between node layers (about half of the time)"),
                 true),
       boolField(QStringLiteral("curves"), tr("Ablation curves"),
                 tr("Accuracy with the first k LIB or PCA directions kept"), true),
       textField(QStringLiteral("gramRecording"), tr("Gram matrices from a recording"),
                 tr("An HDF5 activation store of this model (every resid_pre and resid_mid, the "
                    "last resid_post and hook_logits, all positions) whose examples give the Gram "
                    "matrices; empty: the rows above"),
                 QString())});
  if (!values) return;
  LibSettings settings;
  settings.rows = values->value(QStringLiteral("rows")).toLongLong();
  settings.centre = values->value(QStringLiteral("centre")).toBool();
  settings.tau = values->value(QStringLiteral("tau")).toDouble();
  settings.relativeTau = values->value(QStringLiteral("relativeTau")).toBool();
  settings.edges = values->value(QStringLiteral("edges")).toBool();
  settings.ablationCurves = values->value(QStringLiteral("curves")).toBool();
  settings.gramRecording =
      values->value(QStringLiteral("gramRecording")).toString().trimmed().toStdString();
  runLocalInteractionBasis(settings);
}

void MainWindow::runLocalInteractionBasis(std::int64_t rows) {
  LibSettings settings;
  settings.rows = rows;
  runLocalInteractionBasis(settings);
}

void MainWindow::runLocalInteractionBasis(const LibSettings& settings) {
  if (!m_session) return;
  m_runner.cancel(m_libJob);
  auto session = m_session;
  m_libJob = m_runner.start<analysis::LibResult>(
      tr("Local Interaction Basis"),
      [session, settings](Progress& progress) {
        return session->localInteractionBasis(settings, progress);
      },
      [this](analysis::LibResult r) {
        log(tr("Local Interaction Basis on %1 rows: base accuracy %2, %3 node layers")
                .arg(r.examples)
                .arg(r.baseAccuracy, 0, 'f', 3)
                .arg(r.layers.size()));
        if (r.gramSource != "live") {
          log(tr("Local Interaction Basis: Gram matrices from %1 (%2 examples)")
                  .arg(QString::fromStdString(r.gramSource))
                  .arg(r.gramExamples));
        }
        viewerDock(QStringLiteral("libDock"), tr("Local Interaction Basis"),
                   libPanel(std::move(r)));
        Q_EMIT libShown();
      });
}

QWidget* MainWindow::libPanel(analysis::LibResult lib) {
  const auto r = std::make_shared<const analysis::LibResult>(std::move(lib));
  auto* panel = new QWidget;
  auto* layout = new QVBoxLayout(panel);
  auto* summary = new QLabel(
      tr("Local Interaction Basis (%1 basis, %2 integration) on the first %3 rows of %4, of the "
         "model without the current interventions; base accuracy %5, loss %6.")
          .arg(QString::fromStdString(r->basis), QString::fromStdString(r->integration))
          .arg(r->examples)
          .arg(QString::fromStdString(r->dataset))
          .arg(r->baseAccuracy, 0, 'f', 3)
          .arg(r->baseLoss, 0, 'f', 4));
  summary->setObjectName(QStringLiteral("libSummary"));
  summary->setWordWrap(true);
  layout->addWidget(summary);
  auto* tabs = new QTabWidget;
  tabs->setObjectName(QStringLiteral("libTabs"));
  tabs->addTab(graphTab(*r), tr("Interaction graph"));
  tabs->addTab(spectraTab(r), tr("Spectra"));
  tabs->addTab(curvesTab(r), tr("Ablation curves"));
  layout->addWidget(tabs, 1);
  return panel;
}

}  // namespace cs::gui
