#pragma once

// What every part of `runledger bench` measures: latency samples of one kind
// of operation, and a Figure (throughput, latency percentiles, CPU, memory)
// that the report prints, compares and writes as JSON.

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace runledger::tools::bench {

using Clock = std::chrono::steady_clock;

// Latency samples in microseconds. Not thread-safe: one per thread, Merge after.
class Latencies {
 public:
  void Add(Clock::duration d);
  void Merge(const Latencies& other);
  size_t count() const { return micros_.size(); }
  // The q-quantile (0 < q <= 1) in milliseconds; NaN without samples.
  double PercentileMs(double q);

 private:
  std::vector<std::uint32_t> micros_;
  bool sorted_ = true;
};

inline constexpr double kNotMeasured = std::nan("");

struct Figure {
  std::string key;    // JSON key, e.g. "runledger_single"
  std::string title;  // table row, e.g. "runledger single-event appends (HTTP)"
  std::string unit = "events";
  double seconds = 0;  // the measured window
  std::uint64_t requests = 0;
  std::uint64_t units = 0;  // events (a bulk request counts its lines)
  std::uint64_t errors = 0;
  double p50_ms = kNotMeasured;
  double p99_ms = kNotMeasured;
  double p999_ms = kNotMeasured;
  double server_cpu_cores = kNotMeasured;  // CPU seconds / wall seconds of the process under test
  double client_cpu_cores = kNotMeasured;  // the load generator's thread(s)
  double peak_rss_mib = kNotMeasured;      // VmHWM during the window
  std::string note;

  double rate() const { return seconds > 0 ? static_cast<double>(units) / seconds : 0; }
  double request_rate() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  bool measured() const { return seconds > 0 && units > 0; }
  void SetLatencies(Latencies& latencies) {
    p50_ms = latencies.PercentileMs(0.50);
    p99_ms = latencies.PercentileMs(0.99);
    p999_ms = latencies.PercentileMs(0.999);
  }
};

// CPU seconds (user + system) this thread has used.
double ThreadCpuSeconds();

}  // namespace runledger::tools::bench
