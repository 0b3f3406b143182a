#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "sim/progress_bar.h"

namespace fraudguard {
namespace {

TEST(ProgressBarTest, FormatsCountsRateAndEta) {
  EXPECT_EQ(ProgressBar::Format("simulate", 4'500'000, 10'000'000, -1, 3.75),
            "simulate  45% |#########           | 4.5M/10M  1.2M/s  ETA 5s");
}

TEST(ProgressBarTest, UsesTheGivenFractionWhenTheTotalIsUnknown) {
  EXPECT_EQ(ProgressBar::Format("read", 1500, 0, 0.5, 2),
            "read  50% |##########          | 1.5k  750/s  ETA 2s");
}

TEST(ProgressBarTest, FinalLineShowsTheTotalTime) {
  EXPECT_EQ(ProgressBar::Format("train", 10, 10, -1, 125),
            "train 100% |####################| 10/10  0/s  in 2m05s");
}

TEST(ProgressBarTest, FormatsLargeCountsShortly) {
  EXPECT_EQ(ProgressBar::FormatCount(999), "999");
  EXPECT_EQ(ProgressBar::FormatCount(1000), "1k");
  EXPECT_EQ(ProgressBar::FormatCount(12'345), "12.3k");
  EXPECT_EQ(ProgressBar::FormatCount(2.5e9), "2.5G");
}

TEST(ProgressBarTest, WritesOneFinalLineWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    ProgressBar bar("convert", 100, fileno(file));
    for (uint64_t i = 1; i <= 100; ++i) {
      bar.Update(i);
    }
  }
  std::rewind(file);
  char buffer[256] = {};
  const size_t size = std::fread(buffer, 1, sizeof(buffer) - 1, file);
  std::fclose(file);
  const std::string text(buffer, size);
  EXPECT_EQ(text.find("convert 100% |####################| 100/100"), 0u) << text;
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
}

}  // namespace
}  // namespace fraudguard
