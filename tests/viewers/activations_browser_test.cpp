// ActivationsBrowser over an in-memory source: the statistics of the shown slice are right, the
// mode decides the heatmap's rows, several feature axes are flattened with labels saying how,
// rows a recording adds between refreshes appear (and no row past rowsAvailable is read), and a
// source that throws shows its message in the widget instead of escaping.
#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "viewer_test_support.h"
#include "viewers/activations_browser.h"
#include "viewers/axis_ticks.h"
#include "viewers/render.h"

namespace cs::viewers {
namespace {

// A recording in memory: each hook holds, per example, a [positions, features] matrix. Rows
// past `committed` exist but are "not written yet": reading them throws, as the store would.
class FakeSource : public ActivationSource {
 public:
  struct Hook {
    std::vector<std::int64_t> shape;  // [examples, positions, features...] or [examples, f]
    std::vector<std::string> axes;
    std::vector<Eigen::MatrixXd> rows;  // [positions, features] each
  };

  std::vector<std::string> hooks() const override {
    if (failHooks) throw std::runtime_error("cannot open /activations: file is truncated");
    return order;
  }
  std::vector<std::int64_t> shape(const std::string& hook) const override {
    return hooksByName.at(hook).shape;
  }
  std::vector<std::string> axisNames(const std::string& hook) const override {
    return hooksByName.at(hook).axes;
  }
  void refresh() override { ++refreshes; }
  std::int64_t rowsAvailable() const override { return committed; }

  Eigen::MatrixXd examplesByFeatures(const std::string& hook, std::int64_t position,
                                     std::int64_t firstRow, std::int64_t rows) const override {
    if (failReads) throw std::runtime_error("HDF5 read error in /activations/" + hook);
    checkRows(firstRow, rows);
    const Hook& h = hooksByName.at(hook);
    Eigen::MatrixXd out(rows, h.rows[0].cols());
    for (std::int64_t r = 0; r < rows; ++r) out.row(r) = h.rows[firstRow + r].row(position);
    return out;
  }
  Eigen::MatrixXd positionsByFeatures(const std::string& hook, std::int64_t row) const override {
    if (failReads) throw std::runtime_error("HDF5 read error in /activations/" + hook);
    checkRows(row, 1);
    return hooksByName.at(hook).rows[row];
  }
  std::vector<std::string> tokens(std::int64_t row) const override {
    return {"<bos>", " row" + std::to_string(row), "\n"};
  }

  void add(const std::string& name, Hook hook) {
    order.push_back(name);
    hooksByName[name] = std::move(hook);
  }

  std::vector<std::string> order;
  std::map<std::string, Hook> hooksByName;
  std::int64_t committed = 0;
  bool failReads = false;
  bool failHooks = false;
  int refreshes = 0;
  mutable std::int64_t rowsRead = 0;  // one past the highest row read

 private:
  void checkRows(std::int64_t first, std::int64_t rows) const {
    if (first < 0 || rows <= 0 || first + rows > committed) {
      throw std::out_of_range("rows " + std::to_string(first) + "+" + std::to_string(rows) +
                              " past the " + std::to_string(committed) + " committed");
    }
    rowsRead = std::max(rowsRead, first + rows);
  }
};

constexpr const char* kResid = "blocks.0.hook_resid_post";
constexpr const char* kZ = "blocks.0.attn.hook_z";
constexpr const char* kMlp = "mlp_digits.hidden";

// resid: 6 examples x 3 positions x 4 features, value e*10 + p + f/4 minus 20, with zeros at
// feature 0 of position 1. z: 6 x 3 x [2 heads, 3 d_head], value 100h + d + e/10.
// mlp: 6 examples x 5 features, no position axis.
std::unique_ptr<FakeSource> recording(std::int64_t committed) {
  auto source = std::make_unique<FakeSource>();
  FakeSource::Hook resid{{6, 3, 4}, {"batch", "pos", "d_model"}, {}};
  FakeSource::Hook z{{6, 3, 2, 3}, {"batch", "pos", "head", "d_head"}, {}};
  FakeSource::Hook mlp{{6, 5}, {}, {}};
  for (int e = 0; e < 6; ++e) {
    Eigen::MatrixXd r(3, 4);
    Eigen::MatrixXd zz(3, 6);
    for (int p = 0; p < 3; ++p) {
      for (int f = 0; f < 4; ++f) r(p, f) = (p == 1 && f == 0) ? 0.0 : e * 10 + p + f / 4.0 - 20;
      for (int h = 0; h < 2; ++h) {
        for (int d = 0; d < 3; ++d) zz(p, h * 3 + d) = 100 * h + d + e / 10.0 + p;
      }
    }
    resid.rows.push_back(r);
    z.rows.push_back(zz);
    Eigen::MatrixXd m(1, 5);
    for (int f = 0; f < 5; ++f) m(0, f) = e - f;
    mlp.rows.push_back(m);
  }
  source->add(kResid, resid);
  source->add(kZ, z);
  source->add(kMlp, mlp);
  source->committed = committed;
  return source;
}

TEST(SliceStatistics, MeanSpreadExtremesZerosAndLargestMagnitude) {
  Eigen::MatrixXd slice(2, 3);
  slice << 0, 1, 2, -3, 0, std::nan("");
  const SliceStatistics s = sliceStatistics(slice);
  EXPECT_EQ(s.count, 5);
  EXPECT_EQ(s.nonFinite, 1);
  EXPECT_DOUBLE_EQ(s.mean, 0.0);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt((0 + 1 + 4 + 9 + 0) / 5.0));
  EXPECT_DOUBLE_EQ(s.min, -3.0);
  EXPECT_DOUBLE_EQ(s.max, 2.0);
  EXPECT_DOUBLE_EQ(s.zeroFraction, 0.4);
  EXPECT_EQ(s.largestRow, 1);
  EXPECT_EQ(s.largestFeature, 0);
  EXPECT_DOUBLE_EQ(s.largestValue, -3.0);
  // A large offset does not swamp the spread.
  Eigen::MatrixXd shifted(1, 2);
  shifted << 1e9 + 1, 1e9 - 1;
  EXPECT_DOUBLE_EQ(sliceStatistics(shifted).stddev, 1.0);
}

TEST(FeatureLayout, FlattenedLabelsAndTitle) {
  FeatureLayout layout{{2, 3, 4}, {"a", "b", "c"}, 24};
  EXPECT_EQ(layout.columnLabel(0), "0.0.0");
  EXPECT_EQ(layout.columnLabel(1 * 12 + 2 * 4 + 3), "1.2.3");
  EXPECT_EQ(layout.columnTitle(), "a.b.c (column = (a*3 + b)*4 + c)");
  FeatureLayout single{{7}, {"d_model"}, 7};
  EXPECT_EQ(single.columnLabel(5), "5");
  EXPECT_EQ(single.columnTitle(), "d_model");
}

TEST(ActivationsBrowser, ShowsExamplesAtAPositionWithTheirStatistics) {
  ActivationsBrowser browser;
  browser.setSource(recording(6));
  EXPECT_EQ(browser.hook(), kResid);
  EXPECT_EQ(browser.hookPicker()->count(), 3);
  EXPECT_EQ(browser.mode(), BrowseMode::ExamplesByFeatures);
  browser.setPosition(1);
  ASSERT_TRUE(browser.errorMessage().isEmpty()) << browser.errorMessage().toStdString();
  const HeatmapData& shown = browser.heatmap().data();
  ASSERT_EQ(shown.values.rows(), 6);
  ASSERT_EQ(shown.values.cols(), 4);
  EXPECT_DOUBLE_EQ(shown.values(4, 2), 4 * 10 + 1 + 0.5 - 20);
  EXPECT_EQ(shown.rowTitle, "example");
  EXPECT_EQ(shown.columnTitle, "d_model");
  EXPECT_EQ(browser.positionBox()->maximum(), 2);

  // The same statistics computed by hand over the 24 values.
  double sum = 0.0;
  int zeros = 0;
  for (int e = 0; e < 6; ++e) {
    for (int f = 0; f < 4; ++f) {
      const double v = f == 0 ? 0.0 : e * 10 + 1 + f / 4.0 - 20;
      sum += v;
      zeros += v == 0.0;
    }
  }
  const double mean = sum / 24;
  double squares = 0.0;
  for (int e = 0; e < 6; ++e) {
    for (int f = 0; f < 4; ++f) {
      const double v = f == 0 ? 0.0 : e * 10 + 1 + f / 4.0 - 20;
      squares += (v - mean) * (v - mean);
    }
  }
  ASSERT_TRUE(browser.statistics().has_value());
  const SliceStatistics& s = *browser.statistics();
  EXPECT_EQ(s.count, 24);
  EXPECT_NEAR(s.mean, mean, 1e-12);
  EXPECT_NEAR(s.stddev, std::sqrt(squares / 24), 1e-12);
  EXPECT_DOUBLE_EQ(s.min, 0 * 10 + 1 + 0.25 - 20);
  EXPECT_DOUBLE_EQ(s.max, 5 * 10 + 1 + 0.75 - 20);
  EXPECT_DOUBLE_EQ(s.zeroFraction, zeros / 24.0);
  EXPECT_EQ(zeros, 6);
  EXPECT_EQ(s.largestRow, 5);
  EXPECT_EQ(s.largestFeature, 3);
  const QString text = browser.statisticsText();
  EXPECT_TRUE(text.contains(QStringLiteral("mean ") + QString::fromStdString(formatValue(mean))))
      << text.toStdString();
  EXPECT_TRUE(text.contains(QStringLiteral("zeros 25%"))) << text.toStdString();
  EXPECT_TRUE(text.contains(QStringLiteral("feature 3, example 5"))) << text.toStdString();
}

TEST(ActivationsBrowser, ModeSwitchShowsPositionsOfOneExample) {
  ActivationsBrowser browser;
  browser.setSource(recording(6));
  ASSERT_EQ(browser.heatmap().data().values.rows(), 6);
  EXPECT_TRUE(browser.positionBox()->isEnabled());
  EXPECT_FALSE(browser.exampleBox()->isEnabled());

  browser.modePicker()->setCurrentIndex(1);  // as the user would
  EXPECT_EQ(browser.mode(), BrowseMode::PositionsByFeatures);
  browser.setExample(2);
  const HeatmapData& shown = browser.heatmap().data();
  ASSERT_EQ(shown.values.rows(), 3);
  ASSERT_EQ(shown.values.cols(), 4);
  EXPECT_DOUBLE_EQ(shown.values(2, 1), 2 * 10 + 2 + 0.25 - 20);
  EXPECT_EQ(shown.rowTitle, "pos");
  EXPECT_EQ(shown.rowLabels, (std::vector<std::string>{"<bos>", " row2", "\n"}));
  EXPECT_FALSE(browser.positionBox()->isEnabled());
  EXPECT_TRUE(browser.exampleBox()->isEnabled());
  EXPECT_EQ(browser.exampleBox()->maximum(), 5);
  EXPECT_EQ(browser.statistics()->count, 12);

  // A hook without a position axis: one row, the position box off.
  browser.setHook(kMlp);
  EXPECT_EQ(browser.heatmap().data().values.rows(), 1);
  EXPECT_DOUBLE_EQ(browser.heatmap().data().values(0, 4), 2 - 4);
  browser.setMode(BrowseMode::ExamplesByFeatures);
  EXPECT_EQ(browser.heatmap().data().values.rows(), 6);
  EXPECT_EQ(browser.heatmap().data().values.cols(), 5);
  EXPECT_FALSE(browser.positionBox()->isEnabled());
  EXPECT_TRUE(browser.errorMessage().isEmpty()) << browser.errorMessage().toStdString();
}

TEST(ActivationsBrowser, SeveralFeatureAxesAreFlattenedAndLabelled) {
  ActivationsBrowser browser;
  browser.setSource(recording(6));
  browser.setHook(kZ);
  browser.setPosition(2);
  const HeatmapData& shown = browser.heatmap().data();
  ASSERT_EQ(shown.values.cols(), 6);
  EXPECT_EQ(shown.columnLabels,
            (std::vector<std::string>{"0.0", "0.1", "0.2", "1.0", "1.1", "1.2"}));
  EXPECT_EQ(shown.columnTitle, "head.d_head (column = head*3 + d_head)");
  // Column head*3 + d holds head h, d_head d.
  EXPECT_DOUBLE_EQ(shown.values(4, 1 * 3 + 2), 100 + 2 + 0.4 + 2);
  EXPECT_EQ(browser.statistics()->largestFeature, 5);
  EXPECT_TRUE(browser.statisticsText().contains(QStringLiteral("feature 5 (1.2)")))
      << browser.statisticsText().toStdString();

  // The flattened title reaches the rendered heatmap.
  test::OutputDir out;
  renderToSvg(browser.heatmap(), out / "activations_z.svg", QSize(640, 440));
  const QStringList texts = test::svgTexts(test::readFile(out / "activations_z.svg"));
  EXPECT_TRUE(texts.contains(QStringLiteral("head.d_head (column = head*3 + d_head)")));
  EXPECT_TRUE(texts.contains(QStringLiteral("1.2")));
}

TEST(ActivationsBrowser, RowsWrittenBetweenRefreshesAppearAndNoneBeyondAreRead) {
  auto owned = recording(2);
  FakeSource* source = owned.get();
  ActivationsBrowser browser;
  browser.setSource(std::move(owned));
  EXPECT_EQ(browser.rowsAvailable(), 2);
  EXPECT_EQ(browser.heatmap().data().values.rows(), 2);

  source->committed = 5;  // the writer flushed three more rows
  EXPECT_EQ(browser.heatmap().data().values.rows(), 2) << "nothing changes before a refresh";
  const int refreshes = source->refreshes;
  browser.refresh();
  EXPECT_EQ(source->refreshes, refreshes + 1) << "the source re-reads its row count";
  EXPECT_EQ(browser.rowsAvailable(), 5);
  EXPECT_EQ(browser.heatmap().data().values.rows(), 5);
  EXPECT_EQ(browser.heatmap().data().rowLabels.back(), "4");
  EXPECT_EQ(browser.firstRowBox()->maximum(), 4);
  EXPECT_EQ(browser.exampleBox()->maximum(), 4);

  // A window of 2 from example 4 stops at the last written row.
  browser.setMaxRows(2);
  browser.setFirstRow(4);
  EXPECT_EQ(browser.heatmap().data().values.rows(), 1);
  EXPECT_EQ(browser.heatmap().data().rowLabels, (std::vector<std::string>{"4"}));
  browser.setMode(BrowseMode::PositionsByFeatures);
  browser.setExample(99);  // clamped to the last written example
  EXPECT_EQ(browser.example(), 4);
  EXPECT_TRUE(browser.errorMessage().isEmpty()) << browser.errorMessage().toStdString();
  EXPECT_LE(source->rowsRead, source->committed);

  EXPECT_FALSE(browser.autoRefresh());
  browser.setAutoRefresh(true);
  EXPECT_TRUE(browser.autoRefresh());
  browser.setAutoRefresh(false);
  EXPECT_FALSE(browser.autoRefresh());
}

TEST(ActivationsBrowser, AnEmptyRecordingShowsNoRowsYet) {
  ActivationsBrowser browser;
  browser.setSource(recording(0));
  EXPECT_TRUE(browser.errorMessage().isEmpty()) << browser.errorMessage().toStdString();
  EXPECT_EQ(browser.heatmap().data().values.size(), 0);
  EXPECT_NE(browser.heatmap().data().title.find("no examples recorded yet"), std::string::npos);
  EXPECT_FALSE(browser.statistics().has_value());
  browser.setMode(BrowseMode::PositionsByFeatures);
  EXPECT_EQ(browser.heatmap().data().values.size(), 0);
  EXPECT_TRUE(browser.errorMessage().isEmpty());
}

TEST(ActivationsBrowser, SourceErrorsAreShownInTheWidget) {
  auto owned = recording(4);
  FakeSource* source = owned.get();
  source->failReads = true;
  ActivationsBrowser browser;
  ASSERT_NO_THROW(browser.setSource(std::move(owned)));
  EXPECT_TRUE(browser.errorMessage().contains(
      QStringLiteral("HDF5 read error in /activations/blocks.0.hook_resid_post")))
      << browser.errorMessage().toStdString();
  bool shown = false;
  for (const QLabel* l : browser.findChildren<QLabel*>()) {
    shown = shown || (l->isVisibleTo(&browser) && l->text() == browser.errorMessage());
  }
  EXPECT_TRUE(shown) << "the message is in a visible label";
  EXPECT_EQ(browser.heatmap().data().values.size(), 0);
  EXPECT_FALSE(browser.statistics().has_value());

  // Errors from controls' slots stay inside too.
  ASSERT_NO_THROW(browser.modePicker()->setCurrentIndex(1));
  EXPECT_FALSE(browser.errorMessage().isEmpty());

  // The next good read clears the message.
  source->failReads = false;
  browser.refresh();
  EXPECT_TRUE(browser.errorMessage().isEmpty()) << browser.errorMessage().toStdString();
  EXPECT_EQ(browser.heatmap().data().values.rows(), 3);

  auto broken = recording(4);
  broken->failHooks = true;
  ActivationsBrowser other;
  ASSERT_NO_THROW(other.setSource(std::move(broken)));
  EXPECT_TRUE(other.errorMessage().contains(QStringLiteral("file is truncated")))
      << other.errorMessage().toStdString();
}

TEST(ActivationsBrowser, RendersWithItsControls) {
  test::OutputDir out;
  ActivationsBrowser browser;
  browser.setSource(recording(6));
  browser.setHook(kZ);
  const QImage image = renderToImage(browser, QSize(800, 560));
  EXPECT_EQ(image.size(), QSize(800, 560));
  renderToPng(browser, out / "activations_browser.png", QSize(800, 560));
  renderToSvg(browser, out / "activations_browser.svg", QSize(800, 560));
  const QStringList texts = test::svgTexts(test::readFile(out / "activations_browser.svg"));
  EXPECT_TRUE(texts.contains(QString::fromStdString(browser.heatmap().data().title)))
      << "the heatmap is drawn as part of the browser";
}

}  // namespace
}  // namespace cs::viewers
