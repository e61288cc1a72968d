// Offscreen rendering of any widget (a HeatmapView, a ChartView, a panel holding several) to an
// image, a PNG file or an SVG file, at a requested size. The widget draws itself through its
// paintEvent, as on screen: the report's figures are exactly what the GUI shows.
#pragma once

#include <QImage>
#include <QSize>

#include <filesystem>

class QWidget;

namespace cs::viewers {

/// The widget drawn at `size` (logical pixels) on white. The widget is resized to `size` for the
/// drawing and given its old size back after. Needs a QApplication; a hidden widget is fine
/// (with QT_QPA_PLATFORM=offscreen no display is needed). Throws cs::ConfigError for an empty
/// or non-positive size.
QImage renderToImage(QWidget& widget, QSize size);

/// renderToImage() written as a PNG file at `path`. Throws cs::IoError when the file cannot be
/// written.
void renderToPng(QWidget& widget, const std::filesystem::path& path, QSize size);

/// The widget drawn as vector graphics (text stays text) into an SVG file at `path`, its view box
/// `size`. Throws cs::ConfigError for a bad size, cs::IoError when the file cannot be written.
void renderToSvg(QWidget& widget, const std::filesystem::path& path, QSize size);

}  // namespace cs::viewers
