#include "app/gui/store_activation_source.h"

#include "core/torch_api.h"

#include "core/error.h"
#include "data/store/activation_store_reader.h"

namespace cs::gui {

namespace {

// [rows, rest...] -> [rows, prod(rest)] as float64 Eigen (row-major flattening of the rest).
Eigen::MatrixXd flattened(const at::Tensor& t) {
  const auto rows = t.size(0);
  const auto c = t.reshape({rows, -1}).to(at::kDouble).contiguous();
  Eigen::MatrixXd m(rows, c.size(1));
  const auto* p = c.data_ptr<double>();
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    for (Eigen::Index k = 0; k < m.cols(); ++k) m(r, k) = p[r * m.cols() + k];
  }
  return m;
}

std::vector<std::string> split(const std::string& axes) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin <= axes.size()) {
    const auto end = std::min(axes.find(',', begin), axes.size());
    out.push_back(axes.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

}  // namespace

StoreActivationSource::StoreActivationSource(const std::filesystem::path& path)
    : m_reader(std::make_unique<data::ActivationStoreReader>(path)) {}

StoreActivationSource::~StoreActivationSource() = default;

std::vector<std::string> StoreActivationSource::hooks() const { return m_reader->hooks(); }

std::vector<std::int64_t> StoreActivationSource::shape(const std::string& hook) const {
  std::vector<std::int64_t> s{m_reader->rows()};
  const auto& row = m_reader->activation(hook).rowShape;
  s.insert(s.end(), row.begin(), row.end());
  return s;
}

std::vector<std::string> StoreActivationSource::axisNames(const std::string& hook) const {
  return split(m_reader->activation(hook).axes);
}

void StoreActivationSource::refresh() { m_reader->refresh(); }

std::int64_t StoreActivationSource::rowsAvailable() const { return m_reader->rows(); }

Eigen::MatrixXd StoreActivationSource::examplesByFeatures(const std::string& hook,
                                                          std::int64_t position,
                                                          std::int64_t firstRow,
                                                          std::int64_t rows) const {
  const auto t = m_reader->readActivations(hook, firstRow, rows);  // [rows, rowShape...]
  if (t.dim() < 3) return flattened(t);  // [examples, features]: no position axis
  if (position < 0 || position >= t.size(1)) {
    throw ConfigError("position " + std::to_string(position) + " is outside 0.." +
                      std::to_string(t.size(1) - 1) + " of " + hook);
  }
  return flattened(t.select(1, position));
}

Eigen::MatrixXd StoreActivationSource::positionsByFeatures(const std::string& hook,
                                                           std::int64_t row) const {
  const auto t = m_reader->readActivations(hook, row, 1)[0];  // [rowShape...]
  return t.dim() < 2 ? flattened(t.unsqueeze(0)) : flattened(t);
}

std::vector<std::string> StoreActivationSource::tokens(std::int64_t row) const {
  // Token ids as text (the store keeps ids, not the tokenizer), and only where every position
  // was recorded: with "last" or a list the activations' positions are not the tokens'.
  if (m_reader->header().layout.positions != "all") return {};
  try {
    const auto ids = m_reader->readInput("tokens", row, 1)[0].to(at::kLong).contiguous();
    std::vector<std::string> out;
    for (int64_t i = 0; i < ids.size(0); ++i) out.push_back(std::to_string(ids[i].item<int64_t>()));
    return out;
  } catch (const Error&) {
    return {};  // an image recording: positions are the class token and the patches
  }
}

}  // namespace cs::gui
