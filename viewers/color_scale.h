// Maps values to colours: a sequential viridis-like map and a blue-white-red diverging map, both
// piecewise linear between a few anchor colours. Values outside the range clamp to its ends;
// NaN maps to a neutral grey that neither map contains.
#pragma once

#include <QColor>

#include <Eigen/Core>

#include <optional>
#include <utility>
#include <vector>

#include "viewers/scale_kind.h"

namespace cs::viewers {

/// The finite values' extremes, the range ColorScale::fitted takes; NaN when there are none.
std::pair<double, double> finiteRange(const Eigen::MatrixXd& values);

class ColorScale {
 public:
  /// Sequential, [0, 1].
  ColorScale() = default;

  /// Dark purple at `min` to yellow at `max`, lightness rising monotonically.
  /// Throws cs::ConfigError unless min < max and both are finite.
  static ColorScale sequential(double min, double max);

  /// Blue at `min`, white at the centre, red at `max`. The centre is 0 when 0 lies strictly
  /// inside (min, max), else the midpoint; each half is linear on its own (so [-1, 3] shows -1 as
  /// full blue and 3 as full red). Throws cs::ConfigError unless min < max and both are finite.
  static ColorScale diverging(double min, double max);

  /// The scale a view draws data with: the data range [dataMin, dataMax] (the finite values'
  /// extremes; NaN when there are none) unless fixed ends are given. Diverging scales are
  /// symmetric about 0 (from the largest magnitude) unless a range is given; one fixed end alone
  /// is mirrored (fixedMax 2 gives [-2, 2]). A degenerate range is widened around its value.
  /// Throws cs::ConfigError for non-finite fixed ends or fixedMin >= fixedMax.
  static ColorScale fitted(ScaleKind kind, double dataMin, double dataMax,
                           std::optional<double> fixedMin = std::nullopt,
                           std::optional<double> fixedMax = std::nullopt);

  /// The colour of `value`, clamped to [min, max]; nanColor() for NaN.
  QColor color(double value) const;

  /// Where `value` falls along the map, 0 (min) to 1 (max), clamped; NaN for NaN.
  double position(double value) const;

  /// The colour at `position` in [0, 1] along the map (clamped).
  QColor colorAtPosition(double position) const;

  /// The value at `position` in [0, 1]: position()'s inverse.
  double valueAtPosition(double position) const;

  ScaleKind kind() const { return m_kind; }
  double min() const { return m_min; }
  double max() const { return m_max; }
  /// White on a diverging scale; the midpoint on a sequential one.
  double centre() const { return m_centre; }

  /// Anchor colours, evenly spaced along the map from position 0 to 1.
  static const std::vector<QColor>& anchors(ScaleKind kind);

  /// The colour of missing (NaN) values.
  static QColor nanColor() { return QColor(160, 160, 160); }

 private:
  ColorScale(ScaleKind kind, double min, double max, double centre);

  ScaleKind m_kind = ScaleKind::Sequential;
  double m_min = 0.0;
  double m_max = 1.0;
  double m_centre = 0.5;
};

}  // namespace cs::viewers
