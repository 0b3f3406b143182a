#include "sim/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/clock.h"

namespace fraudguard {
namespace {

constexpr int kBarWidth = 20;
constexpr int64_t kRedrawIntervalNs = 100'000'000;

std::string FormatSeconds(double seconds) {
  char buffer[32];
  if (seconds < 60) {
    std::snprintf(buffer, sizeof(buffer), "%.0fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buffer, sizeof(buffer), "%.0fm%02.0fs", std::floor(seconds / 60),
                  std::fmod(seconds, 60));
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.0fh%02.0fm", std::floor(seconds / 3600),
                  std::floor(std::fmod(seconds, 3600) / 60));
  }
  return buffer;
}

void WriteAll(int fd, const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t count = write(fd, text.data() + written, text.size() - written);
    if (count <= 0) {
      return;  // a progress bar is not worth failing or retrying for
    }
    written += static_cast<size_t>(count);
  }
}

}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total, int fd)
    : label_(std::move(label)),
      total_(total),
      fd_(fd),
      interactive_(isatty(fd) == 1),
      start_ns_(MonotonicNanos()) {}

ProgressBar::~ProgressBar() {
  Finish();
}

std::string ProgressBar::FormatCount(double count) {
  char buffer[32];
  if (count < 1000) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", count);
  } else if (count < 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%.1fk", count / 1e3);
  } else if (count < 1e9) {
    std::snprintf(buffer, sizeof(buffer), "%.1fM", count / 1e6);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1fG", count / 1e9);
  }
  std::string text = buffer;
  // "10.0M" reads better as "10M".
  if (const size_t point = text.find(".0");
      point != std::string::npos && point + 3 == text.size()) {
    text.erase(point, 2);
  }
  return text;
}

std::string ProgressBar::Format(std::string_view label,
                                uint64_t done,
                                uint64_t total,
                                double fraction,
                                double elapsed_seconds) {
  if (fraction < 0 || std::isnan(fraction)) {
    fraction = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
  }
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kBarWidth);
  char percent[8];
  std::snprintf(percent, sizeof(percent), "%3d%%", static_cast<int>(fraction * 100));

  std::string line(label);
  line += " ";
  line += percent;
  line += " |";
  line.append(static_cast<size_t>(filled), '#');
  line.append(static_cast<size_t>(kBarWidth - filled), ' ');
  line += "| ";
  line += FormatCount(static_cast<double>(done));
  if (total > 0) {
    line += "/" + FormatCount(static_cast<double>(total));
  }
  if (elapsed_seconds > 0) {
    line += "  " + FormatCount(static_cast<double>(done) / elapsed_seconds) + "/s";
    if (fraction > 0 && fraction < 1) {
      line += "  ETA " + FormatSeconds(elapsed_seconds * (1 - fraction) / fraction);
    } else if (fraction >= 1) {
      line += "  in " + FormatSeconds(elapsed_seconds);
    }
  }
  return line;
}

void ProgressBar::Update(uint64_t done, double fraction) {
  done_ = done;
  fraction_ = fraction;
  if (!interactive_ || (calls_++ & 4095) != 0) {
    return;
  }
  const int64_t now = MonotonicNanos();
  if (now - last_draw_ns_ >= kRedrawIntervalNs) {
    last_draw_ns_ = now;
    Draw(false);
  }
}

void ProgressBar::Finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  if (total_ > 0 && fraction_ < 0) {
    fraction_ = static_cast<double>(done_) / static_cast<double>(total_);
  }
  Draw(true);
}

void ProgressBar::Draw(bool final_line) {
  const double elapsed = static_cast<double>(MonotonicNanos() - start_ns_) / 1e9;
  std::string text = interactive_ ? "\r\x1b[2K" : "";
  text += Format(label_, done_, total_, fraction_, elapsed);
  if (final_line) {
    text += '\n';
  }
  WriteAll(fd_, text);
}

}  // namespace fraudguard
