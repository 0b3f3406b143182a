// A minimal progress bar on stderr for long jobs (simulating, converting, training):
//
//   simulate  45% |#########           | 4.5M/10M  1.2M/s  ETA 4s
//
// It redraws in place at most ten times a second, and only when the output is a terminal; the
// final line is always written, so that logs of batch jobs keep the totals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fraudguard {

class ProgressBar {
public:
  // `total` is the expected count, 0 when unknown (then the fraction must be given to Update).
  explicit ProgressBar(std::string label, uint64_t total = 0, int fd = 2);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Reports `done` items; `fraction` (0..1) when known better than done/total, else negative.
  // Cheap enough to call per item: it reads the clock once every 4096 calls.
  void Update(uint64_t done, double fraction = -1);
  // Writes the final line (once; the destructor calls it too).
  void Finish();

  // One line of the bar, without line break. Exposed for tests.
  static std::string Format(std::string_view label,
                            uint64_t done,
                            uint64_t total,
                            double fraction,
                            double elapsed_seconds);
  // 950, 4.5k, 4.5M, 1.2G.
  static std::string FormatCount(double count);

private:
  void Draw(bool final_line);

  std::string label_;
  uint64_t total_;
  int fd_;
  bool interactive_;
  int64_t start_ns_;
  int64_t last_draw_ns_ = 0;
  uint64_t done_ = 0;
  double fraction_ = -1;
  uint32_t calls_ = 0;
  bool finished_ = false;
};

}  // namespace fraudguard
