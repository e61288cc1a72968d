// Comparing two activation stores example by example, for the recording tests that check that
// an interrupted, failed or resumed run holds exactly what an uninterrupted one does.
#pragma once

#include <cstdint>
#include <filesystem>

namespace cs::test {

/// Every hook and input array of the two stores is equal over the first `rows` examples
/// (GoogleTest failures otherwise).
void expectSameStoreContent(const std::filesystem::path& a, const std::filesystem::path& b,
                            std::int64_t rows);

}  // namespace cs::test
