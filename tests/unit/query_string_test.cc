#include "api/query_string.h"

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

TEST(QueryString, SplitsPairsInOrderAndSkipsEmptyOnes) {
  const auto parameters = SplitQuery("range=24h&&routes=all&flag&=x&");
  ASSERT_EQ(parameters.size(), 4U);
  EXPECT_EQ(parameters[0].name, "range");
  EXPECT_EQ(parameters[0].value, "24h");
  EXPECT_EQ(parameters[1].name, "routes");
  EXPECT_EQ(parameters[1].value, "all");
  EXPECT_EQ(parameters[2].name, "flag");
  EXPECT_EQ(parameters[2].value, "");
  EXPECT_EQ(parameters[3].name, "");
  EXPECT_EQ(parameters[3].value, "x");
  EXPECT_TRUE(SplitQuery("").empty());
  EXPECT_EQ(SplitQuery("a=b=c")[0].value, "b=c");
}

}  // namespace
}  // namespace fraudguard
