// Viewer test helpers.
#include "viewer_test_support.h"

#include <QFile>
#include <QXmlStreamReader>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

namespace cs::viewers::test {

OutputDir::OutputDir() {
  if (const char* kept = std::getenv("CS_VIEWERS_OUTPUT_DIR"); kept != nullptr && *kept != 0) {
    m_path = kept;
    std::filesystem::create_directories(m_path);
    return;
  }
  std::random_device random;
  m_path = std::filesystem::temp_directory_path() /
           ("circuitscope-viewers-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(m_path);
  m_remove = true;
}

OutputDir::~OutputDir() {
  if (!m_remove) return;
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

std::string label(const char* prefix, size_t index) {
  std::string text = prefix;
  text += std::to_string(index);
  return text;
}

double lightness(const QColor& color) {
  const auto linear = [](int channel) {
    const double c = channel / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  const double y =
      0.2126 * linear(color.red()) + 0.7152 * linear(color.green()) + 0.0722 * linear(color.blue());
  return y > 216.0 / 24389.0 ? 116.0 * std::cbrt(y) - 16.0 : y * 24389.0 / 27.0;
}

int channelDistance(const QColor& a, const QColor& b) {
  return std::max({std::abs(a.red() - b.red()), std::abs(a.green() - b.green()),
                   std::abs(a.blue() - b.blue())});
}

QColor pixelAt(const QImage& image, int x, int y) { return QColor(image.pixel(x, y)); }

QStringList svgTexts(const QByteArray& svg) {
  QStringList texts;
  QXmlStreamReader reader(svg);
  bool sawRoot = false;
  while (!reader.atEnd()) {
    reader.readNext();
    if (!reader.isStartElement()) continue;
    if (!sawRoot) {
      EXPECT_EQ(reader.name().toString(), QStringLiteral("svg")) << "the root element";
      sawRoot = true;
    }
    if (reader.name() == QLatin1String("text")) {
      texts << reader.readElementText(QXmlStreamReader::IncludeChildElements).trimmed();
    }
  }
  EXPECT_FALSE(reader.hasError()) << "SVG is not well-formed XML: "
                                  << reader.errorString().toStdString() << " at line "
                                  << reader.lineNumber();
  EXPECT_TRUE(sawRoot) << "SVG has no root element";
  return texts;
}

QByteArray readFile(const std::filesystem::path& path) {
  QFile file(QString::fromStdString(path.string()));
  EXPECT_TRUE(file.open(QIODevice::ReadOnly)) << "cannot read " << path;
  return file.readAll();
}

}  // namespace cs::viewers::test
