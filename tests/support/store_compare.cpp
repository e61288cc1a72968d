#include "support/store_compare.h"

#include <gtest/gtest.h>

#include "data/store/activation_store_reader.h"

namespace cs::test {

void expectSameStoreContent(const std::filesystem::path& a, const std::filesystem::path& b,
                            std::int64_t rows) {
  const data::ActivationStoreReader x(a), y(b);
  ASSERT_EQ(x.hooks(), y.hooks());
  for (const auto& hook : x.hooks()) {
    SCOPED_TRACE(hook);
    EXPECT_TRUE(at::equal(x.readActivations(hook, 0, rows), y.readActivations(hook, 0, rows)));
  }
  for (const auto& in : x.header().layout.inputs) {
    SCOPED_TRACE(in.name);
    EXPECT_TRUE(at::equal(x.readInput(in.name, 0, rows), y.readInput(in.name, 0, rows)));
  }
}

}  // namespace cs::test
