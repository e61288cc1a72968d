// A prompt drawn as a row of token chips coloured by a signed score per position (integrated
// gradients, direct logit attribution, patching by position), wrapping onto lines to the width,
// with a colour-bar legend. The screen, PNG and SVG all draw through paint().
#pragma once

#include <QRect>
#include <QString>
#include <QWidget>

#include <optional>
#include <string>
#include <vector>

#include "viewers/color_scale.h"

namespace cs::viewers {

/// What a token attribution view shows. Plain data: the report and the GUI fill it from an
/// analysis result and hand it to a TokenAttributionView, which checks it.
struct TokenAttributionData {
  std::vector<std::string> tokens;  // the prompt's tokens as text (UTF-8), one per position
  std::vector<double> scores;       // one per token, signed; all finite
  std::string title;
  std::string scoreName;      // what the scores are, e.g. "IG attribution"; "score" when empty
  std::optional<double> min;  // fixed colour-scale ends; unset: symmetric about 0 from the data
  std::optional<double> max;
};

/// A token as a chip shows it: leading and trailing spaces as "·", newlines as "↵", tabs as
/// "⇥", other control characters as their Unicode control pictures, the empty token as "∅".
QString tokenChipText(const std::string& token);

class TokenAttributionView : public QWidget {
  Q_OBJECT

 public:
  explicit TokenAttributionView(QWidget* parent = nullptr);

  /// Throws cs::ConfigError naming the problem: token and score counts that differ, a
  /// non-finite score, non-finite or empty fixed ranges.
  static void validate(const TokenAttributionData& data);

  /// Checks `data` (see validate(); on error the view keeps what it showed) and shows it. No
  /// tokens draws a "no data" message.
  void setData(TokenAttributionData data);
  const TokenAttributionData& data() const { return m_data; }

  /// The diverging scale the chips are coloured with.
  const ColorScale& colorScale() const { return m_scale; }

  /// Draws the whole view into `bounds`. paintEvent, renderToPng and renderToSvg all call it.
  void paint(QPainter& painter, const QRect& bounds) const;

  /// Where paint() puts token `index`'s chip for `bounds` (empty for a bad index or no data).
  /// The chip is flat in its score's colour except for the text, which sits inside a padding of
  /// chipPadding() pixels on every side.
  QRect chipRect(int index, const QRect& bounds) const;
  static int chipPadding();

  /// The legend's colour bar (min on the left) for `bounds`; empty without data.
  QRect legendBarRect(const QRect& bounds) const;

  /// The token whose chip holds `point` (widget coordinates), if any.
  std::optional<int> tokenAt(const QPoint& point) const;

  /// The hover text of token `index`: its text, position and score.
  QString toolTipText(int index) const;

  bool hasHeightForWidth() const override { return true; }
  /// The height at which every chip fits at `width`.
  int heightForWidth(int width) const override;
  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 Q_SIGNALS:
  /// The user clicked the chip of the token at `position` (left button).
  void tokenClicked(int position);

 protected:
  bool event(QEvent* event) override;
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  struct Geometry;
  Geometry geometryFor(const QRect& bounds) const;
  QString scoreName() const;

  TokenAttributionData m_data;
  ColorScale m_scale;
};

}  // namespace cs::viewers
