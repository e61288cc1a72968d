// The activations browser. Every read from the source goes through reload() (or the hook and
// row look-ups), inside a try block: a slot must never let an exception escape, and a recording
// that fails to read should say why in the widget, not close the window.
#include "viewers/activations_browser.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <climits>
#include <cmath>
#include <exception>

#include "core/error.h"
#include "viewers/axis_ticks.h"

namespace cs::viewers {
namespace {

int spinValue(std::int64_t value) {
  return static_cast<int>(std::clamp<std::int64_t>(value, 0, INT_MAX));
}

QString valueText(double value) { return QString::fromStdString(formatValue(value)); }

// A source that hands back a slice of another size would draw wrong labels, or read out of
// range while labelling: check before showing.
void checkSlice(const Eigen::MatrixXd& slice, std::int64_t rows, std::int64_t columns,
                const std::string& what) {
  if (slice.rows() != rows || slice.cols() != columns) {
    throw ShapeError(what + ": the source returned " + std::to_string(slice.rows()) + "x" +
                     std::to_string(slice.cols()) + ", expected " + std::to_string(rows) + "x" +
                     std::to_string(columns));
  }
}

}  // namespace

SliceStatistics sliceStatistics(const Eigen::MatrixXd& slice) {
  SliceStatistics s;
  double sum = 0.0;
  double largest = -1.0;
  std::int64_t zeros = 0;
  for (Eigen::Index r = 0; r < slice.rows(); ++r) {
    for (Eigen::Index c = 0; c < slice.cols(); ++c) {
      const double v = slice(r, c);
      if (!std::isfinite(v)) {
        ++s.nonFinite;
        continue;
      }
      if (s.count == 0) {
        s.min = v;
        s.max = v;
      }
      ++s.count;
      sum += v;
      s.min = std::min(s.min, v);
      s.max = std::max(s.max, v);
      if (v == 0.0) ++zeros;
      if (std::abs(v) > largest) {
        largest = std::abs(v);
        s.largestRow = r;
        s.largestFeature = c;
        s.largestValue = v;
      }
    }
  }
  if (s.count == 0) return s;
  const auto n = static_cast<double>(s.count);
  s.mean = sum / n;
  double squares = 0.0;
  for (Eigen::Index r = 0; r < slice.rows(); ++r) {
    for (Eigen::Index c = 0; c < slice.cols(); ++c) {
      const double v = slice(r, c);
      if (std::isfinite(v)) squares += (v - s.mean) * (v - s.mean);
    }
  }
  s.stddev = std::sqrt(squares / n);
  s.zeroFraction = static_cast<double>(zeros) / n;
  return s;
}

std::string FeatureLayout::columnLabel(std::int64_t index) const {
  if (sizes.size() < 2) return std::to_string(index);
  std::vector<std::int64_t> parts(sizes.size());
  for (size_t k = sizes.size(); k-- > 0;) {
    parts[k] = index % sizes[k];
    index /= sizes[k];
  }
  std::string text;
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) text += '.';
    text += std::to_string(parts[k]);
  }
  return text;
}

std::string FeatureLayout::columnTitle() const {
  if (sizes.empty()) return "value";
  if (sizes.size() == 1) return names[0];
  // "head.d_head (column = head*16 + d_head)"; three axes nest: "(a*B + b)*C + c".
  std::string joined;
  std::string formula = names[0];
  for (size_t k = 0; k < names.size(); ++k) {
    if (k > 0) joined += '.';
    joined += names[k];
    if (k > 0) {
      // Built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
      if (k > 1) formula = std::string("(").append(formula).append(")");
      formula.append("*").append(std::to_string(sizes[k])).append(" + ").append(names[k]);
    }
  }
  return joined.append(" (column = ").append(formula).append(")");
}

ActivationsBrowser::ActivationsBrowser(QWidget* parent) : QWidget(parent) {
  m_hookBox = new QComboBox(this);
  m_hookBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
  m_hookBox->setMinimumContentsLength(24);
  m_hookBox->setToolTip(tr("The hook point whose activations are shown"));
  m_modeBox = new QComboBox(this);
  m_modeBox->addItem(tr("examples \u00d7 features"));
  m_modeBox->addItem(tr("positions \u00d7 features"));
  m_modeBox->setToolTip(
      tr("Examples at one position, or every position of one example, against the features"));
  m_positionLabel = new QLabel(tr("position"), this);
  m_positionBox = new QSpinBox(this);
  m_exampleLabel = new QLabel(tr("example"), this);
  m_exampleBox = new QSpinBox(this);
  m_firstRowLabel = new QLabel(tr("from example"), this);
  m_firstRowBox = new QSpinBox(this);
  m_firstRowBox->setToolTip(tr("The first example of the rows shown"));
  m_refreshButton = new QPushButton(tr("Refresh"), this);
  m_refreshButton->setToolTip(tr("Read the rows a recording in progress has added"));
  m_rowsLabel = new QLabel(this);
  m_heatmap = new HeatmapView(this);
  m_statisticsLabel = new QLabel(this);
  m_statisticsLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_statisticsLabel->setWordWrap(true);
  m_errorLabel = new QLabel(this);
  m_errorLabel->setWordWrap(true);
  m_errorLabel->setStyleSheet(QStringLiteral("color: #b00020;"));
  m_errorLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_errorLabel->hide();
  m_timer = new QTimer(this);

  // Two rows of controls, so that a long hook name and the row controls fit a narrow panel.
  auto* what = new QHBoxLayout;
  what->addWidget(new QLabel(tr("hook"), this));
  what->addWidget(m_hookBox, 1);
  what->addWidget(m_modeBox);
  auto* where = new QHBoxLayout;
  where->addWidget(m_positionLabel);
  where->addWidget(m_positionBox);
  where->addSpacing(8);
  where->addWidget(m_firstRowLabel);
  where->addWidget(m_firstRowBox);
  where->addSpacing(8);
  where->addWidget(m_exampleLabel);
  where->addWidget(m_exampleBox);
  where->addStretch(1);
  where->addWidget(m_rowsLabel);
  where->addWidget(m_refreshButton);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(what);
  layout->addLayout(where);
  layout->addWidget(m_heatmap, 1);
  layout->addWidget(m_statisticsLabel);
  layout->addWidget(m_errorLabel);

  connect(m_hookBox, &QComboBox::currentIndexChanged, this, [this] { hookChanged(); });
  connect(m_modeBox, &QComboBox::currentIndexChanged, this, [this](int index) {
    m_mode = index == 1 ? BrowseMode::PositionsByFeatures : BrowseMode::ExamplesByFeatures;
    updateRanges();
    reload();
  });
  for (QSpinBox* box : {m_positionBox, m_exampleBox, m_firstRowBox}) {
    connect(box, &QSpinBox::valueChanged, this, [this] { reload(); });
  }
  connect(m_refreshButton, &QPushButton::clicked, this, [this] { refresh(); });
  connect(m_timer, &QTimer::timeout, this, [this] { refresh(); });
  updateRanges();
  reload();
}

ActivationsBrowser::~ActivationsBrowser() = default;

void ActivationsBrowser::setSource(std::unique_ptr<ActivationSource> source) {
  m_source = std::move(source);
  loadHooks();
}

void ActivationsBrowser::loadHooks() {
  std::vector<std::string> hooks;
  m_rows = 0;
  try {
    if (m_source) {
      m_source->refresh();
      m_rows = std::max<std::int64_t>(0, m_source->rowsAvailable());
      hooks = m_source->hooks();
    }
  } catch (const std::exception& e) {
    showError(tr("Could not read the recording: %1").arg(QString::fromUtf8(e.what())));
    return;
  }
  {
    const QSignalBlocker blocker(m_hookBox);
    m_hookBox->clear();
    for (const std::string& hook : hooks) m_hookBox->addItem(QString::fromStdString(hook));
    m_hookBox->setCurrentIndex(hooks.empty() ? -1 : 0);
  }
  hookChanged();
}

void ActivationsBrowser::hookChanged() {
  m_shape.clear();
  m_features = FeatureLayout{};
  m_hasPositions = false;
  m_positionName = "position";
  const std::string name = hook();
  if (m_source && !name.empty()) {
    try {
      m_shape = m_source->shape(name);
      std::vector<std::string> axes = m_source->axisNames(name);
      if (axes.size() != m_shape.size()) axes.clear();
      m_hasPositions = m_shape.size() >= 3;
      if (m_hasPositions && !axes.empty()) m_positionName = axes[1];
      const size_t firstFeature = m_hasPositions ? 2 : 1;
      for (size_t k = firstFeature; k < m_shape.size(); ++k) {
        m_features.sizes.push_back(m_shape[k]);
        m_features.count *= m_shape[k];
        if (!axes.empty()) {
          m_features.names.push_back(axes[k]);
        } else if (m_shape.size() - firstFeature == 1) {
          m_features.names.push_back("feature");
        } else {
          m_features.names.push_back("axis " + std::to_string(k));
        }
      }
    } catch (const std::exception& e) {
      showError(tr("Could not read the shape of %1: %2")
                    .arg(QString::fromStdString(name), QString::fromUtf8(e.what())));
      return;
    }
  }
  updateRanges();
  reload();
}

void ActivationsBrowser::updateRanges() {
  const bool examples = m_mode == BrowseMode::ExamplesByFeatures;
  const std::int64_t positions = m_hasPositions ? m_shape[1] : 1;
  const QSignalBlocker positionBlocker(m_positionBox);
  const QSignalBlocker exampleBlocker(m_exampleBox);
  const QSignalBlocker firstRowBlocker(m_firstRowBox);
  const QSignalBlocker modeBlocker(m_modeBox);
  m_modeBox->setCurrentIndex(examples ? 0 : 1);
  m_positionLabel->setText(QString::fromStdString(m_positionName));
  m_positionBox->setRange(0, spinValue(positions - 1));
  m_exampleBox->setRange(0, spinValue(m_rows - 1));
  m_firstRowBox->setRange(0, spinValue(m_rows - 1));
  m_positionBox->setEnabled(examples && m_hasPositions);
  m_positionLabel->setEnabled(examples && m_hasPositions);
  m_firstRowBox->setEnabled(examples && m_rows > 0);
  m_firstRowLabel->setEnabled(examples && m_rows > 0);
  m_exampleBox->setEnabled(!examples && m_rows > 0);
  m_exampleLabel->setEnabled(!examples && m_rows > 0);
  m_rowsLabel->setText(m_rows == 1 ? tr("1 example") : tr("%1 examples").arg(m_rows));
}

void ActivationsBrowser::reload() {
  const std::string name = hook();
  if (!m_source || name.empty()) {
    m_error.clear();
    m_errorLabel->hide();
    HeatmapData empty;
    empty.title = m_source ? "the recording has no hooks" : "no recording";
    showSlice(std::move(empty), Eigen::MatrixXd());
    return;
  }
  try {
    HeatmapData data;
    data.scale = ScaleKind::Diverging;
    data.columnTitle = m_features.columnTitle();
    if (m_features.sizes.size() >= 2) {
      data.columnLabels.reserve(static_cast<size_t>(m_features.count));
      for (std::int64_t i = 0; i < m_features.count; ++i) {
        data.columnLabels.push_back(m_features.columnLabel(i));
      }
    }
    Eigen::MatrixXd slice;
    if (m_mode == BrowseMode::ExamplesByFeatures) {
      const std::int64_t position = m_hasPositions ? m_positionBox->value() : 0;
      const std::int64_t first = std::min<std::int64_t>(m_firstRowBox->value(), m_rows);
      const std::int64_t count = std::min(m_maxRows, m_rows - first);
      data.rowTitle = "example";
      if (count <= 0) {
        data.title = name + ": no examples recorded yet";
      } else {
        slice = m_source->examplesByFeatures(name, position, first, count);
        checkSlice(slice, count, m_features.count, name);
        for (std::int64_t r = 0; r < count; ++r)
          data.rowLabels.push_back(std::to_string(first + r));
        data.title = name +
                     (m_hasPositions ? " at " + m_positionName + " " + std::to_string(position)
                                     : std::string()) +
                     ": examples " + std::to_string(first) + "-" +
                     std::to_string(first + count - 1) + " of " + std::to_string(m_rows);
      }
    } else {
      const std::int64_t row = m_exampleBox->value();
      data.rowTitle = m_hasPositions ? m_positionName : "example";
      if (row >= m_rows) {
        data.title = name + ": no examples recorded yet";
      } else {
        slice = m_source->positionsByFeatures(name, row);
        const std::int64_t positions = m_hasPositions ? m_shape[1] : 1;
        checkSlice(slice, positions, m_features.count, name + ", example " + std::to_string(row));
        std::vector<std::string> tokens = m_source->tokens(row);
        if (static_cast<std::int64_t>(tokens.size()) == positions)
          data.rowLabels = std::move(tokens);
        data.title = name + ", example " + std::to_string(row);
      }
    }
    data.values = slice;
    m_error.clear();
    m_errorLabel->hide();
    showSlice(std::move(data), slice);
  } catch (const std::exception& e) {
    showError(
        tr("Could not read %1: %2").arg(QString::fromStdString(name), QString::fromUtf8(e.what())));
  }
}

void ActivationsBrowser::showSlice(HeatmapData data, const Eigen::MatrixXd& slice) {
  if (slice.size() > 0) {
    m_statistics = sliceStatistics(slice);
  } else {
    m_statistics.reset();
  }
  m_heatmap->setData(std::move(data));
  m_statisticsLabel->setText(statisticsText());
  emit sliceChanged();
}

void ActivationsBrowser::showError(const QString& message) {
  m_error = message;
  m_errorLabel->setText(message);
  m_errorLabel->show();
  m_statistics.reset();
  HeatmapData empty;
  empty.title = "could not read the recording";
  m_heatmap->setData(std::move(empty));
  m_statisticsLabel->clear();
  emit sliceChanged();
}

QString ActivationsBrowser::statisticsText() const {
  if (!m_statistics) return {};
  const SliceStatistics& s = *m_statistics;
  if (s.count == 0) return tr("%1 values, none finite").arg(s.nonFinite);
  const bool examples = m_mode == BrowseMode::ExamplesByFeatures;
  const QString rowLabel = examples
                               ? tr("example %1").arg(m_firstRowBox->value() + s.largestRow)
                               : QStringLiteral("%1 %2").arg(QString::fromStdString(m_positionName),
                                                             QString::number(s.largestRow));
  QString featureText = QString::number(s.largestFeature);
  if (m_features.sizes.size() >= 2) {
    featureText += QStringLiteral(" (%1)").arg(
        QString::fromStdString(m_features.columnLabel(s.largestFeature)));
  }
  QString text =
      tr("mean %1   std %2   min %3   max %4   zeros %5%   largest |value| %6 at "
         "feature %7, %8")
          .arg(valueText(s.mean), valueText(s.stddev), valueText(s.min), valueText(s.max),
               valueText(100.0 * s.zeroFraction), valueText(s.largestValue), featureText, rowLabel);
  if (s.nonFinite > 0) text += tr("   non-finite %1").arg(s.nonFinite);
  return text;
}

void ActivationsBrowser::refresh() {
  if (!m_source) return;
  try {
    m_source->refresh();
    m_rows = std::max<std::int64_t>(0, m_source->rowsAvailable());
  } catch (const std::exception& e) {
    showError(tr("Could not refresh the recording: %1").arg(QString::fromUtf8(e.what())));
    return;
  }
  updateRanges();
  reload();
}

void ActivationsBrowser::setAutoRefresh(bool on, int intervalMs) {
  if (on) {
    m_timer->start(std::max(1, intervalMs));
  } else {
    m_timer->stop();
  }
}

bool ActivationsBrowser::autoRefresh() const { return m_timer->isActive(); }

void ActivationsBrowser::setHook(const std::string& hook) {
  const int index = m_hookBox->findText(QString::fromStdString(hook));
  if (index >= 0) m_hookBox->setCurrentIndex(index);
}

void ActivationsBrowser::setMode(BrowseMode mode) {
  m_modeBox->setCurrentIndex(mode == BrowseMode::PositionsByFeatures ? 1 : 0);
}

void ActivationsBrowser::setPosition(std::int64_t position) {
  m_positionBox->setValue(spinValue(position));
}

void ActivationsBrowser::setExample(std::int64_t row) { m_exampleBox->setValue(spinValue(row)); }

void ActivationsBrowser::setFirstRow(std::int64_t row) { m_firstRowBox->setValue(spinValue(row)); }

void ActivationsBrowser::setMaxRows(std::int64_t rows) {
  m_maxRows = std::max<std::int64_t>(1, rows);
  reload();
}

std::string ActivationsBrowser::hook() const { return m_hookBox->currentText().toStdString(); }
std::int64_t ActivationsBrowser::position() const { return m_positionBox->value(); }
std::int64_t ActivationsBrowser::example() const { return m_exampleBox->value(); }
std::int64_t ActivationsBrowser::firstRow() const { return m_firstRowBox->value(); }

QSize ActivationsBrowser::sizeHint() const { return QSize(760, 560); }

}  // namespace cs::viewers
