#pragma once

// The two scenarios of `runledger bench` (tools/bench_cmd.h): each runs its
// phases in `work_dir`, prints the figures and comparisons, writes the JSON
// and returns the command's exit code.

#include <string>
#include <vector>

#include "tools/bench/figures.h"
#include "tools/bench/report.h"
#include "tools/bench_cmd.h"

namespace runledger::tools::bench {

int RunCompare(const BenchOptions& options, const std::string& work_dir);
int RunLarge(const BenchOptions& options, const std::string& work_dir);

// Shared by both: this executable (to start `runledger serve` and friends).
std::string SelfPath();
// "--only" holds `phase` (or is empty).
bool PhaseWanted(const BenchOptions& options, const std::string& phase);
// Prints the table and comparisons, writes --json; 0, or 1 when a figure
// had errors or the JSON could not be written.
int Finish(const BenchOptions& options, Machine machine, const std::string& config,
           const std::vector<Figure>& figures, const std::vector<Comparison>& comparisons);
// The pre-serialized "config" object of the JSON.
std::string ConfigJson(const BenchOptions& options, const std::string& extra_members);

}  // namespace runledger::tools::bench
