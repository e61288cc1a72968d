// What a user reads when a job fails: our errors as they are, libtorch's without a backtrace,
// and failed allocations as out-of-memory with advice; the memory budget behind the early
// refusal of batches that cannot fit.
#include "core/error_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include "core/torch_api.h"

#include <new>

#include "core/error.h"
#include "core/memory_budget.h"

namespace cs {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Kind = ExceptionDescription::Kind;

template <class F>
ExceptionDescription describeThrown(F&& f) {
  try {
    f();
  } catch (...) {
    return describeException(std::current_exception());
  }
  ADD_FAILURE() << "nothing was thrown";
  return {};
}

TEST(ErrorMessage, OurErrorsKeepTheirMessage) {
  const auto d = describeThrown([] { throw ConfigError("--batch must be positive"); });
  EXPECT_EQ(d.kind, Kind::Ours);
  EXPECT_EQ(d.message, "--batch must be positive");
}

TEST(ErrorMessage, AFailedLibtorchAllocationIsOutOfMemoryWithAdvice) {
  // 2^50 floats: no machine has it, and libtorch says so without touching memory.
  const auto d = describeThrown([] { (void)torch::empty({std::int64_t{1} << 50}); });
  EXPECT_EQ(d.kind, Kind::OutOfMemory);
  EXPECT_THAT(d.message, HasSubstr("out of memory"));
  EXPECT_THAT(d.message, HasSubstr("--batch"));
  EXPECT_THAT(d.message, Not(HasSubstr("Exception raised from")));  // no C++ backtrace
  EXPECT_THAT(d.message, Not(HasSubstr("\n")));
}

TEST(ErrorMessage, BadAllocIsOutOfMemory) {
  const auto d = describeThrown([] { throw std::bad_alloc(); });
  EXPECT_EQ(d.kind, Kind::OutOfMemory);
  EXPECT_THAT(d.message, HasSubstr("out of memory"));
}

TEST(ErrorMessage, OtherLibtorchErrorsLoseOnlyTheBacktrace) {
  const auto d = describeThrown([] { (void)torch::ones({2, 3}).matmul(torch::ones({2, 3})); });
  EXPECT_EQ(d.kind, Kind::Library);
  EXPECT_THAT(d.message, HasSubstr("cannot be multiplied"));
  EXPECT_THAT(d.message, Not(HasSubstr("Exception raised from")));
}

TEST(ErrorMessage, AnythingElseIsUnexpected) {
  EXPECT_EQ(describeThrown([] { throw std::logic_error("bug"); }).kind, Kind::Unexpected);
  EXPECT_EQ(describeThrown([] { throw 42; }).kind, Kind::Unexpected);
}

TEST(MemoryBudget, KnowsWhatIsAvailableAndRefusesMore) {
  const auto available = availableMemoryBytes();
  ASSERT_GT(available, 0);  // Linux: /proc/meminfo
  EXPECT_NO_THROW(requireMemory(1 << 20, "one MiB", "advice"));
  const auto message = [&] {
    try {
      requireMemory(available * 4, "a forward pass over 9 rows", "use a smaller batch");
    } catch (const MemoryError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_THAT(message, HasSubstr("a forward pass over 9 rows needs about"));
  EXPECT_THAT(message, HasSubstr("are available; use a smaller batch"));
  EXPECT_EQ(memoryText(std::int64_t{3} << 29), "1.5 GiB");
  EXPECT_EQ(memoryText(300 << 20), "300 MiB");
}

}  // namespace
}  // namespace cs
