// Attention patterns. The main heatmap is a HeatmapView (its cells cached per head); thumbnails
// are shrunk once per setData by taking each pixel's largest cell, so that the thin lines heads
// are known by (previous token, induction stripe) survive the shrinking.
#include "viewers/attention_view.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>

#include "core/error.h"
#include "viewers/heatmap_view.h"
#include "viewers/paint_helpers.h"

namespace cs::viewers {
namespace {

// float32 softmax outputs can exceed 1 or fall below 0 by a few ulps.
constexpr double kTolerance = 1e-5;
constexpr int kMargin = 6;
constexpr int kGap = 8;

QColor selectionColor() { return paint::seriesColor(1); }

// `side` x `side` pixels; pixel p spans cells [p n / side, (p + 1) n / side), at least one.
QImage thumbnailFor(const Eigen::MatrixXd& pattern, const ColorScale& scale, int side) {
  QImage image(side, side, QImage::Format_RGB32);
  const auto n = pattern.rows();
  if (n == 0) {
    image.fill(ColorScale::nanColor());
    return image;
  }
  const auto span = [&](int p) {
    const Eigen::Index lo = p * n / side;
    return std::pair{lo, std::max(lo + 1, (p + 1) * n / side)};
  };
  for (int x = 0; x < side; ++x) {
    const auto [c0, c1] = span(x);
    for (int y = 0; y < side; ++y) {
      const auto [r0, r1] = span(y);
      image.setPixel(x, y, scale.color(pattern.block(r0, c0, r1 - r0, c1 - c0).maxCoeff()).rgb());
    }
  }
  return image;
}

std::string valueText(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

HeadThumbnails::HeadThumbnails(QWidget* parent) : QWidget(parent) {
  setAttribute(Qt::WA_OpaquePaintEvent);
  QSizePolicy policy(QSizePolicy::Preferred, QSizePolicy::Fixed);
  policy.setHeightForWidth(true);
  setSizePolicy(policy);
}

void HeadThumbnails::setHeads(const std::vector<Eigen::MatrixXd>& heads, const QStringList& labels,
                              const ColorScale& scale, int selected) {
  std::vector<QImage> images;
  images.reserve(heads.size());
  for (const Eigen::MatrixXd& head : heads) images.push_back(thumbnailFor(head, scale, kSide));
  m_images = std::move(images);
  m_labels = labels;
  m_selected = selected;
  updateGeometry();
  update();
}

void HeadThumbnails::setSelected(int index) {
  if (index == m_selected) return;
  m_selected = index;
  update();
}

double HeadThumbnails::labelHeight() const {
  return QFontMetricsF(paint::pixelFont(font(), 0.9)).height();
}

int HeadThumbnails::columnsFor(int width) const {
  return std::max(1, (width - 2 * kMargin + kGap) / (kSide + kGap));
}

int HeadThumbnails::heightForWidth(int width) const {
  const int columns = columnsFor(width);
  const int rows = std::max(1, (count() + columns - 1) / columns);
  const int rowHeight = kSide + static_cast<int>(std::ceil(labelHeight())) + kGap;
  return 2 * kMargin + rows * rowHeight - kGap;
}

QSize HeadThumbnails::sizeHint() const {
  const int width = 2 * kMargin + std::max(1, std::min(count(), 12)) * (kSide + kGap) - kGap;
  return QSize(width, heightForWidth(width));
}

QSize HeadThumbnails::minimumSizeHint() const {
  // One row: the minimum a layout may squeeze the strip to. The height at one column (32 rows for
  // 32 heads) would become the whole window's minimum height.
  return QSize(2 * kMargin + kSide, heightForWidth(std::numeric_limits<int>::max() / 2));
}

QRect HeadThumbnails::thumbnailRect(int index, const QRect& bounds) const {
  if (index < 0 || index >= count()) return {};
  const int columns = columnsFor(bounds.width());
  const int rowHeight = kSide + static_cast<int>(std::ceil(labelHeight())) + kGap;
  return QRect(bounds.left() + kMargin + (index % columns) * (kSide + kGap),
               bounds.top() + kMargin + (index / columns) * rowHeight, kSide, kSide);
}

std::optional<int> HeadThumbnails::thumbnailAt(const QPoint& point) const {
  const int labels = static_cast<int>(std::ceil(labelHeight()));
  for (int i = 0; i < count(); ++i) {
    if (thumbnailRect(i, rect()).adjusted(0, 0, 0, labels).contains(point)) return i;
  }
  return std::nullopt;
}

void HeadThumbnails::paint(QPainter& painter, const QRect& bounds) const {
  painter.save();
  painter.fillRect(bounds, paint::backgroundColor());
  const QFont labelFont = paint::pixelFont(font(), 0.9);
  const QFont selectedFont = paint::pixelFont(font(), 0.9, true);
  const double lh = labelHeight();
  for (int i = 0; i < count(); ++i) {
    const QRect image = thumbnailRect(i, bounds);
    painter.setRenderHint(QPainter::Antialiasing, false);
    painter.drawImage(image.topLeft(), m_images[static_cast<size_t>(i)]);
    const bool selected = i == m_selected;
    if (selected) {
      // Two pixels wide, outside the image, so that no cell is hidden by it.
      paint::frameOutside(painter, image, selectionColor());
      paint::frameOutside(painter, image.adjusted(-1, -1, 1, 1), selectionColor());
    } else {
      paint::frameOutside(painter, image, paint::gridColor());
    }
    painter.setRenderHint(QPainter::TextAntialiasing, true);
    painter.setFont(selected ? selectedFont : labelFont);
    painter.setPen(selected ? selectionColor() : paint::textColor());
    const QRectF labelBox(image.left() - kGap / 2.0, image.bottom() + 2, image.width() + kGap, lh);
    painter.drawText(labelBox, Qt::AlignCenter,
                     painter.fontMetrics().elidedText(m_labels.value(i), Qt::ElideRight,
                                                      static_cast<int>(labelBox.width())));
  }
  painter.restore();
}

void HeadThumbnails::paintEvent(QPaintEvent*) {
  QPainter painter(this);
  paint(painter, rect());
}

void HeadThumbnails::mousePressEvent(QMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (const auto index = thumbnailAt(event->position().toPoint())) {
      emit thumbnailClicked(*index);
      return;
    }
  }
  QWidget::mousePressEvent(event);
}

AttentionView::AttentionView(QWidget* parent) : QWidget(parent) {
  m_layerLabel = new QLabel(this);
  m_picker = new QComboBox(this);
  m_picker->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  m_heatmap = new HeatmapView(this);
  m_thumbnails = new HeadThumbnails(this);

  // White like the heatmap, so that an export of the whole view reads as one figure.
  QPalette white = palette();
  white.setColor(QPalette::Window, paint::backgroundColor());
  setPalette(white);
  setAutoFillBackground(true);

  auto* header = new QHBoxLayout;
  header->setContentsMargins(8, 4, 8, 0);
  header->addWidget(m_layerLabel);
  header->addWidget(m_picker);
  header->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(header);
  layout->addWidget(m_heatmap, 1);
  layout->addWidget(m_thumbnails);

  connect(m_picker, &QComboBox::currentIndexChanged, this, &AttentionView::setCurrentHead);
  connect(m_thumbnails, &HeadThumbnails::thumbnailClicked, this, &AttentionView::setCurrentHead);
  setData({});
}

void AttentionView::validate(const AttentionData& data) {
  const std::string where = "attention pattern of layer " + std::to_string(data.layer) + ": ";
  const auto heads = data.heads.size();
  if (!data.headNumbers.empty() && data.headNumbers.size() != heads) {
    throw ConfigError(where + std::to_string(data.headNumbers.size()) + " head numbers for " +
                      std::to_string(heads) + " heads; give one number per head or none");
  }
  std::set<int> seen;
  for (int number : data.headNumbers) {
    if (number < 0 || !seen.insert(number).second) {
      throw ConfigError(where + "head number " + std::to_string(number) +
                        (number < 0 ? " is negative" : " appears twice") +
                        "; give each head its own number, counting from 0");
    }
  }
  const auto name = [&](size_t i) {
    return "head " +
           std::to_string(data.headNumbers.empty() ? static_cast<int>(i) : data.headNumbers[i]);
  };
  for (size_t i = 0; i < heads; ++i) {
    const Eigen::MatrixXd& head = data.heads[i];
    const std::string size = std::to_string(head.rows()) + " x " + std::to_string(head.cols());
    if (head.rows() != head.cols()) {
      throw ConfigError(
          where + name(i) + " is " + size +
          "; a pattern is [query, key] over the same positions, so it must be square");
    }
    if (i > 0 && head.rows() != data.heads[0].rows()) {
      throw ConfigError(where + name(i) + " is " + size + " but " + name(0) + " is " +
                        std::to_string(data.heads[0].rows()) + " x " +
                        std::to_string(data.heads[0].cols()) +
                        "; every head of a layer covers the same positions");
    }
  }
  const auto positions = heads == 0 ? Eigen::Index{0} : data.heads[0].rows();
  if (!data.tokens.empty() && static_cast<Eigen::Index>(data.tokens.size()) != positions) {
    throw ConfigError(where + std::to_string(data.tokens.size()) + " tokens for patterns over " +
                      std::to_string(positions) +
                      " positions; give one token per position or none");
  }
  for (size_t i = 0; i < heads; ++i) {
    const Eigen::MatrixXd& head = data.heads[i];
    // Checked in one pass first: a full layer is millions of values, almost always all fine.
    if (head.allFinite() && (head.size() == 0 || (head.minCoeff() >= -kTolerance &&
                                                  head.maxCoeff() <= 1.0 + kTolerance))) {
      continue;
    }
    for (Eigen::Index q = 0; q < head.rows(); ++q) {
      for (Eigen::Index k = 0; k < head.cols(); ++k) {
        const double v = head(q, k);
        const std::string cell =
            where + name(i) + ", query " + std::to_string(q) + ", key " + std::to_string(k) + ": ";
        if (!std::isfinite(v)) {
          throw ConfigError(cell + "value " + valueText(v) +
                            " is not finite; check the model run for overflow");
        }
        if (v < -kTolerance || v > 1.0 + kTolerance) {
          throw ConfigError(cell + "value " + valueText(v) +
                            " is outside [0, 1]; pass attention probabilities (hook_pattern, "
                            "after the softmax), not scores");
        }
      }
    }
  }
}

void AttentionView::setData(AttentionData data) {
  validate(data);
  m_data = std::move(data);
  const int heads = static_cast<int>(m_data.heads.size());
  const int index = heads == 0 ? -1 : (m_current >= 0 && m_current < heads ? m_current : 0);
  QStringList pickerItems;
  QStringList thumbnailLabels;
  for (int i = 0; i < heads; ++i) {
    pickerItems << QStringLiteral("head %1").arg(headNumber(i));
    thumbnailLabels << QStringLiteral("H%1").arg(headNumber(i));
  }
  {
    const QSignalBlocker blocker(m_picker);
    m_picker->clear();
    m_picker->addItems(pickerItems);
    m_picker->setCurrentIndex(index);
    m_picker->setEnabled(heads > 0);
  }
  m_layerLabel->setText(QStringLiteral("layer %1").arg(m_data.layer));
  m_thumbnails->setHeads(m_data.heads, thumbnailLabels, ColorScale::sequential(0.0, 1.0), index);
  showHead(index);
}

int AttentionView::headNumber(int index) const {
  if (m_data.headNumbers.empty()) return index;
  return m_data.headNumbers.at(static_cast<size_t>(index));
}

void AttentionView::setCurrentHead(int index) {
  if (index < 0 || index >= static_cast<int>(m_data.heads.size()) || index == m_current) return;
  showHead(index);
  emit headSelected(m_data.layer, headNumber(index));
}

void AttentionView::showHead(int index) {
  m_current = index;
  {
    const QSignalBlocker blocker(m_picker);
    m_picker->setCurrentIndex(index);
  }
  m_thumbnails->setSelected(index);
  HeatmapData heatmap;
  heatmap.rowTitle = "query";
  heatmap.columnTitle = "key";
  heatmap.scale = ScaleKind::Sequential;
  heatmap.min = 0.0;
  heatmap.max = 1.0;
  if (index >= 0) {
    heatmap.values = m_data.heads[static_cast<size_t>(index)];
    heatmap.rowLabels = m_data.tokens;
    heatmap.columnLabels = m_data.tokens;
    heatmap.title =
        "layer " + std::to_string(m_data.layer) + ", head " + std::to_string(headNumber(index));
  }
  m_heatmap->setData(std::move(heatmap));
}

QSize AttentionView::sizeHint() const { return QSize(720, 680); }

}  // namespace cs::viewers
