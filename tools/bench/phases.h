#pragma once

// One measured HTTP phase against a server whose process we can watch:
// runs the load (tools/bench/http_load.h) and turns it into Figures, with
// the server's CPU and peak RSS over the measured window, and optionally a
// `perf record` of the server over that window.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/figures.h"
#include "tools/bench/http_load.h"

namespace runledger::tools::bench {

struct ServerUnderTest {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  pid_t pid = 0;  // 0: CPU and RSS not measured
  pid_t tid = 0;  // a thread of pid (the in-process hello server): its CPU only, no RSS
};

struct PhaseSpec {
  std::string key;  // figure key; per-kind figures get "_<kind>"
  std::string title;
  std::string unit = "events";
  std::string perf_path;  // non-empty: `perf record --call-graph dwarf` the server into this file
};

// With one kind: one Figure. With several: the total first, then one per
// kind (CPU and RSS on the total only).
std::vector<Figure> MeasureHttp(const ServerUnderTest& server, LoadOptions load, CallSource& source,
                                const PhaseSpec& spec);

// Prints one progress line to stderr (phases take seconds; say what runs).
void Progress(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace runledger::tools::bench
