// What a bar or line chart shows: named series over categories (bars, or a line through
// categories) or over numeric x values (lines). Plain data (std only, no Qt): the report and the
// GUI fill it and hand it to a ChartView, which checks it.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cs::viewers {

enum class ChartKind { Bar, Line };

struct ChartSeries {
  std::string name;            // shown in the legend when there is more than one series
  std::vector<double> values;  // one per category or x value; NaN leaves a gap
};

struct ChartData {
  ChartKind kind = ChartKind::Bar;
  std::vector<std::string> categories;  // Bar: the groups. Line: evenly spaced x labels
  std::vector<double> x;                // Line only: numeric x positions (instead of categories)
  std::vector<ChartSeries> series;
  std::string xTitle;
  std::string yTitle;
  std::string title;
  std::optional<double> yMin;  // fixed y axis ends; unset: round values around the data
  std::optional<double> yMax;  // (bars always include 0)
};

}  // namespace cs::viewers
