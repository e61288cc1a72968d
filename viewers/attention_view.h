// The attention pattern viewer: one head's query x key pattern as a heatmap labelled with the
// tokens, a head picker, and a strip of thumbnails of every head of the layer (click one to show
// it). Thumbnails are images computed once per setData, so 1024 tokens x 32 heads stays quick.
#pragma once

#include <QImage>
#include <QStringList>
#include <QWidget>

#include <optional>
#include <vector>

#include "viewers/attention_data.h"
#include "viewers/color_scale.h"

class QComboBox;
class QLabel;

namespace cs::viewers {

class HeatmapView;

/// A grid of small pattern images, one per head, wrapping to the widget's width; the selected
/// one is outlined. Drawn through paint() like the other views.
class HeadThumbnails : public QWidget {
  Q_OBJECT

 public:
  /// Each thumbnail's side in pixels: a pattern over more positions is shrunk to it, each
  /// pixel the largest value of the cells it covers (a one-cell diagonal stays visible).
  static constexpr int kSide = 48;

  explicit HeadThumbnails(QWidget* parent = nullptr);

  /// Renders every head's thumbnail (once; painting reuses them) with `scale`, labelled `labels`
  /// (one per head). Resets the selection to `selected`.
  void setHeads(const std::vector<Eigen::MatrixXd>& heads, const QStringList& labels,
                const ColorScale& scale, int selected);
  void setSelected(int index);
  int selected() const { return m_selected; }
  int count() const { return static_cast<int>(m_images.size()); }

  /// Head `index`'s thumbnail, kSide x kSide.
  const QImage& thumbnailImage(int index) const { return m_images.at(static_cast<size_t>(index)); }

  void paint(QPainter& painter, const QRect& bounds) const;

  /// Where paint() puts head `index`'s image for `bounds` (empty when out of range).
  QRect thumbnailRect(int index, const QRect& bounds) const;
  /// The head whose image (or label) is under `point`, widget coordinates.
  std::optional<int> thumbnailAt(const QPoint& point) const;

  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void thumbnailClicked(int index);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  int columnsFor(int width) const;
  double labelHeight() const;

  std::vector<QImage> m_images;
  QStringList m_labels;
  int m_selected = -1;
};

class AttentionView : public QWidget {
  Q_OBJECT

 public:
  explicit AttentionView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem: head numbers that do not match the heads or
  /// repeat, a non-square or ragged pattern, a token count that does not match the positions,
  /// a non-finite value or one outside [0, 1] (beyond rounding).
  static void validate(const AttentionData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it. The
  /// shown head keeps its index when the new data has it, else it is the first. Emits nothing.
  void setData(AttentionData data);
  const AttentionData& data() const { return m_data; }

  /// The shown head's index into data().heads; -1 when there are no heads.
  int currentHead() const { return m_current; }
  /// The model's number of head `index` (data().headNumbers, or the index itself).
  int headNumber(int index) const;

  /// Shows head `index` and emits headSelected when that changes the shown head. Indices out of
  /// range are ignored. The head picker and the thumbnails call it.
  void setCurrentHead(int index);

  HeatmapView* heatmap() const { return m_heatmap; }
  QComboBox* headPicker() const { return m_picker; }
  HeadThumbnails* thumbnails() const { return m_thumbnails; }

  QSize sizeHint() const override;

 Q_SIGNALS:
  /// The shown head changed (picker, thumbnail or setCurrentHead): the layer and the head's
  /// number as the model counts it (see headNumber()).
  void headSelected(int layer, int head);

 private:
  void showHead(int index);

  AttentionData m_data;
  int m_current = -1;
  QLabel* m_layerLabel = nullptr;
  QComboBox* m_picker = nullptr;
  HeatmapView* m_heatmap = nullptr;
  HeadThumbnails* m_thumbnails = nullptr;
};

}  // namespace cs::viewers
