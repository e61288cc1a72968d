// Helpers for the viewer tests: an output folder, error messages, colour measures and SVG text.
// Set CS_VIEWERS_OUTPUT_DIR to keep the rendered files for a look.
#pragma once

#include <QByteArray>
#include <QColor>
#include <QImage>
#include <QStringList>

#include <gtest/gtest.h>

#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

#include "support/message_of.h"

namespace cs::viewers::test {

/// $CS_VIEWERS_OUTPUT_DIR (kept), or a fresh folder under the system temp dir (removed when the
/// object dies).
class OutputDir {
 public:
  OutputDir();
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

 private:
  std::filesystem::path m_path;
  bool m_remove = false;
};

using cs::test::messageOf;

/// "q" + index, built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string label(const char* prefix, size_t index);

/// CIE L* (0 black to 100 white) of an sRGB colour.
double lightness(const QColor& color);

/// The largest per-channel difference between two colours.
int channelDistance(const QColor& a, const QColor& b);

/// The pixel at (x, y) as a QColor.
QColor pixelAt(const QImage& image, int x, int y);

/// The text of every <text> element of an SVG document; fails the test when the document is not
/// well-formed XML or its root is not <svg>.
QStringList svgTexts(const QByteArray& svg);

/// The whole file.
QByteArray readFile(const std::filesystem::path& path);

}  // namespace cs::viewers::test
