// An image with an attribution heatmap laid over it: a score per patch (a ViT's 4x4 grid) or
// per pixel, coloured by a ColorScale and blended with the image at an opacity the user sets
// with a slider. Small images are scaled up without smoothing, so an 8x8 digit keeps its pixels.
// The screen, PNG and SVG all draw through paint().
#pragma once

#include <QImage>
#include <QRect>
#include <QWidget>

#include <Eigen/Core>

#include <optional>
#include <string>

#include "viewers/color_scale.h"
#include "viewers/scale_kind.h"

class QLabel;
class QSlider;

namespace cs::viewers {

/// What the scores are laid on.
enum class AttributionGrid {
  Patches,  // scores [rows, columns] over a grid of equal patches (as even as the pixels allow)
  Pixels,   // scores [height, width], one per image pixel
};

/// What an image attribution view shows. Qt's QImage is the image type here: the viewers are Qt.
struct ImageAttributionData {
  QImage image;            // any format; transparent pixels are shown over white
  Eigen::MatrixXd scores;  // [patch rows, patch columns] or [height, width]; NaN: no overlay
  AttributionGrid grid = AttributionGrid::Patches;
  ScaleKind scale = ScaleKind::Diverging;
  std::string title;
  std::string scoreName;      // e.g. "attribution"; "score" when empty
  std::optional<double> min;  // fixed colour-scale ends; unset: from the data (see ColorScale)
  std::optional<double> max;
  bool gridLines = false;  // draw the patch boundaries (patch grids only)
};

class ImageAttributionView : public QWidget {
  Q_OBJECT

 public:
  explicit ImageAttributionView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem: an empty image, no scores, pixel scores whose
  /// size differs from the image's, a patch grid finer than the image, infinite scores,
  /// non-finite or empty fixed ranges.
  static void validate(const ImageAttributionData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it.
  void setData(ImageAttributionData data);
  /// Back to the state after construction: a "no data" message.
  void clear();
  const ImageAttributionData& data() const { return m_data; }

  /// The scale the scores are coloured with.
  const ColorScale& colorScale() const { return m_scale; }

  /// The overlay's opacity, 0 (image only) to 1 (scores only); 0.5 at first. Clamped. The
  /// slider shows it in percent and sets it.
  void setOpacity(double opacity);
  double opacity() const { return m_opacity; }
  QSlider* opacitySlider() const { return m_slider; }

  /// Shows or hides the opacity slider under the figure (shown at first). A report hides it so
  /// that the exported figure has no controls; paint() then has the whole widget.
  void setControlsVisible(bool visible);
  bool controlsVisible() const { return m_controlsVisible; }

  /// The part of the widget that paint() draws into: all of it, less the slider's strip.
  QRect canvasRect() const;

  /// Draws the figure (title, blended image, legend) into `bounds`. paintEvent and the
  /// renderers call it with canvasRect().
  void paint(QPainter& painter, const QRect& bounds) const;

  /// Where paint() puts the image for `bounds` (empty without data): a whole number of screen
  /// pixels per image pixel whenever the image fits at least once.
  QRect imageRect(const QRect& bounds) const;
  /// The legend's colour bar (max at the top) for `bounds`.
  QRect legendBarRect(const QRect& bounds) const;

  /// The image pixels patch (row, column) covers: patch boundaries fall at
  /// ceil(k * size / count). Pixel grids: the one pixel (column, row).
  QRect patchPixels(int row, int column) const;
  /// The patch (row, column) holding image pixel (x, y).
  std::pair<int, int> patchOf(int x, int y) const;
  /// Where paint() draws patch (row, column) for `bounds`.
  QRect patchRect(int row, int column, const QRect& bounds) const;

  /// The blended colour paint() gives image pixel (x, y) at the current opacity: the image's
  /// colour mixed with its patch's scale colour.
  QColor blendedColor(int x, int y) const;

  /// The hover text at `point` (widget coordinates): the patch or pixel and its score; empty
  /// off the image.
  QString toolTipAt(const QPoint& point) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  void opacityChanged(double opacity);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;
  QString scoreName() const;
  void placeControls();

  ImageAttributionData m_data;
  QImage m_opaque;  // the image in RGB32, transparent parts over white
  ColorScale m_scale;
  double m_opacity = 0.5;
  bool m_controlsVisible = true;
  QSlider* m_slider = nullptr;
  QLabel* m_sliderLabel = nullptr;
  QLabel* m_sliderValue = nullptr;
};

}  // namespace cs::viewers
