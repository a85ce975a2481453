#include "tools/bench/figures.h"

#include <time.h>

#include <algorithm>
#include <limits>

namespace runledger::tools::bench {

void Latencies::Add(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  const auto clamped = std::clamp<std::int64_t>(us, 0, std::numeric_limits<std::uint32_t>::max());
  micros_.push_back(static_cast<std::uint32_t>(clamped));
  sorted_ = false;
}

void Latencies::Merge(const Latencies& other) {
  micros_.insert(micros_.end(), other.micros_.begin(), other.micros_.end());
  sorted_ = false;
}

double Latencies::PercentileMs(double q) {
  if (micros_.empty()) return kNotMeasured;
  if (!sorted_) {
    std::sort(micros_.begin(), micros_.end());
    sorted_ = true;
  }
  // Nearest rank: the smallest sample with at least q of all at or below it.
  const double rank = std::ceil(q * static_cast<double>(micros_.size()));
  const size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(micros_.size()))) - 1;
  return micros_[index] / 1000.0;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace runledger::tools::bench
