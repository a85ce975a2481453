#pragma once

// Printing and JSON of a benchmark run: the figures table, the ratios of
// runledger to its references, and each goal of the performance issue with
// how far the measurement is from it.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/bench/figures.h"

namespace runledger::tools::bench {

// A ratio or a value held against its goal (NaN goal: shown, not judged).
struct Comparison {
  std::string key;
  std::string title;
  double value = kNotMeasured;
  double goal = kNotMeasured;
  std::string unit;      // "x", "ms", "events/s"
  bool at_most = false;  // the goal is an upper bound (latency)
  bool met() const {
    return value == value && goal == goal && (at_most ? value <= goal : value >= goal);
  }
};

struct Machine {
  int cores = 0;
  std::string cpu;
  std::string kernel;
  std::string load_before;  // /proc/loadavg at start
  std::string load_after;
  std::string started_at;  // UTC
};
Machine DescribeMachine();
std::string LoadAverage();

// Ratio a/b of two figures' rates; NaN when either is missing.
double RateRatio(const Figure& a, const Figure& b);

void PrintFigures(const std::vector<Figure>& figures, std::FILE* out);
void PrintComparisons(const std::vector<Comparison>& comparisons, std::FILE* out);

// {"machine":{...},"config":{...},"figures":{key:{...}},"comparisons":{key:{...}}}
// `config` is a pre-serialized JSON object.
std::string ReportJson(const Machine& machine, const std::string& config,
                       const std::vector<Figure>& figures,
                       const std::vector<Comparison>& comparisons);

}  // namespace runledger::tools::bench
