// Time sources. Everything that ages state or measures windows takes a Clock so that tests can
// drive time by hand instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace fraudguard {

class Clock {
public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock& Instance() {
    static SystemClock clock;
    return clock;
  }
};

// A clock that only moves when told to.
class ManualClock final : public Clock {
public:
  explicit ManualClock(int64_t start_millis = 0) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t millis) { now_.store(millis, std::memory_order_relaxed); }
  void Advance(int64_t millis) { now_.fetch_add(millis, std::memory_order_relaxed); }

private:
  std::atomic<int64_t> now_;
};

// Monotonic nanoseconds for measuring durations.
inline int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace fraudguard
