// Colour scales. The sequential anchors are viridis (van der Walt and Smith, matplotlib) sampled
// at ten even steps; the diverging anchors are ColorBrewer RdBu's seven-class ends with pure white
// in the middle, so that zero is exactly white.
#include "viewers/color_scale.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace cs::viewers {
namespace {

std::string rangeText(double min, double max) {
  std::ostringstream out;
  out << "[" << min << ", " << max << "]";
  return out.str();
}

void checkRange(const char* what, double min, double max) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    throw ConfigError(std::string(what) + " colour scale: range " + rangeText(min, max) +
                      " is not finite; give finite ends");
  }
  if (!(min < max)) {
    throw ConfigError(std::string(what) + " colour scale: range " + rangeText(min, max) +
                      " is empty; the minimum must be below the maximum");
  }
}

int lerpChannel(int a, int b, double t) { return static_cast<int>(std::lround(a + (b - a) * t)); }

}  // namespace

ColorScale::ColorScale(ScaleKind kind, double min, double max, double centre)
    : m_kind(kind), m_min(min), m_max(max), m_centre(centre) {}

ColorScale ColorScale::sequential(double min, double max) {
  checkRange("sequential", min, max);
  return ColorScale(ScaleKind::Sequential, min, max, min + (max - min) / 2);
}

ColorScale ColorScale::diverging(double min, double max) {
  checkRange("diverging", min, max);
  const double centre = (min < 0.0 && 0.0 < max) ? 0.0 : min + (max - min) / 2;
  return ColorScale(ScaleKind::Diverging, min, max, centre);
}

ColorScale ColorScale::fitted(ScaleKind kind, double dataMin, double dataMax,
                              std::optional<double> fixedMin, std::optional<double> fixedMax) {
  for (const auto& [end, name] : {std::pair{fixedMin, "minimum"}, std::pair{fixedMax, "maximum"}}) {
    if (end && !std::isfinite(*end)) {
      std::ostringstream out;
      out << "colour scale: the fixed " << name << " " << *end
          << " is not finite; give a finite value or leave it unset";
      throw ConfigError(out.str());
    }
  }
  if (fixedMin && fixedMax && !(*fixedMin < *fixedMax)) {
    throw ConfigError("colour scale: the fixed range " + rangeText(*fixedMin, *fixedMax) +
                      " is empty; the minimum must be below the maximum");
  }
  const bool haveData = std::isfinite(dataMin) && std::isfinite(dataMax);
  double lo = 0.0;
  double hi = 1.0;
  if (kind == ScaleKind::Diverging) {
    if (fixedMin && fixedMax) {
      lo = *fixedMin;
      hi = *fixedMax;
    } else if (fixedMin || fixedMax) {
      const double limit = std::abs(fixedMin ? *fixedMin : *fixedMax);
      lo = -limit;
      hi = limit;
    } else {
      const double limit = haveData ? std::max(std::abs(dataMin), std::abs(dataMax)) : 1.0;
      lo = -limit;
      hi = limit;
    }
    if (lo == hi) {  // all zeros, or a mirrored fixed end of 0
      lo = -1.0;
      hi = 1.0;
    }
    return diverging(lo, hi);
  }
  lo = fixedMin ? *fixedMin : (haveData ? dataMin : 0.0);
  hi = fixedMax ? *fixedMax : (haveData ? dataMax : 1.0);
  if (!(lo < hi)) {
    // One fixed end beyond the data, or constant data: keep the given end, widen the other.
    const double width = std::max(1.0, std::abs(fixedMin ? lo : hi) * 0.5);
    if (fixedMin) {
      hi = lo + width;
    } else if (fixedMax) {
      lo = hi - width;
    } else {
      const double half = lo == 0.0 ? 0.5 : std::abs(lo) * 0.5;
      lo -= half;
      hi += half;
    }
  }
  return sequential(lo, hi);
}

double ColorScale::position(double value) const {
  if (std::isnan(value)) return value;
  value = std::clamp(value, m_min, m_max);
  if (m_kind == ScaleKind::Diverging) {
    if (value <= m_centre) return 0.5 * (value - m_min) / (m_centre - m_min);
    return 0.5 + 0.5 * (value - m_centre) / (m_max - m_centre);
  }
  return (value - m_min) / (m_max - m_min);
}

double ColorScale::valueAtPosition(double position) const {
  position = std::clamp(position, 0.0, 1.0);
  if (m_kind == ScaleKind::Diverging) {
    if (position <= 0.5) return m_min + (m_centre - m_min) * position * 2.0;
    return m_centre + (m_max - m_centre) * (position - 0.5) * 2.0;
  }
  return m_min + (m_max - m_min) * position;
}

QColor ColorScale::colorAtPosition(double position) const {
  const std::vector<QColor>& table = anchors(m_kind);
  const double scaled = std::clamp(position, 0.0, 1.0) * static_cast<double>(table.size() - 1);
  const auto index = std::min(static_cast<size_t>(scaled), table.size() - 2);
  const double t = scaled - static_cast<double>(index);
  const QColor& a = table[index];
  const QColor& b = table[index + 1];
  return QColor(lerpChannel(a.red(), b.red(), t), lerpChannel(a.green(), b.green(), t),
                lerpChannel(a.blue(), b.blue(), t));
}

QColor ColorScale::color(double value) const {
  if (std::isnan(value)) return nanColor();
  return colorAtPosition(position(value));
}

const std::vector<QColor>& ColorScale::anchors(ScaleKind kind) {
  static const std::vector<QColor> kViridis = {QColor(0x44, 0x01, 0x54), QColor(0x48, 0x28, 0x78),
                                               QColor(0x3e, 0x4a, 0x89), QColor(0x31, 0x68, 0x8e),
                                               QColor(0x26, 0x82, 0x8e), QColor(0x1f, 0x9e, 0x89),
                                               QColor(0x35, 0xb7, 0x79), QColor(0x6d, 0xcd, 0x59),
                                               QColor(0xb4, 0xde, 0x2c), QColor(0xfd, 0xe7, 0x25)};
  static const std::vector<QColor> kBlueWhiteRed = {
      QColor(0x21, 0x66, 0xac), QColor(0x67, 0xa9, 0xcf), QColor(0xd1, 0xe5, 0xf0),
      QColor(0xff, 0xff, 0xff), QColor(0xfd, 0xdb, 0xc7), QColor(0xef, 0x8a, 0x62),
      QColor(0xb2, 0x18, 0x2b)};
  return kind == ScaleKind::Diverging ? kBlueWhiteRed : kViridis;
}

std::pair<double, double> finiteRange(const Eigen::MatrixXd& values) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (Eigen::Index c = 0; c < values.cols(); ++c) {
    for (Eigen::Index r = 0; r < values.rows(); ++r) {
      const double v = values(r, c);
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (lo > hi) return {std::nan(""), std::nan("")};
  return {lo, hi};
}

}  // namespace cs::viewers
