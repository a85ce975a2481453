#include "tools/bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "ledger/time.h"

namespace runledger::tools::bench {
namespace {

bool Known(double v) { return v == v; }

std::string Cell(double v, const char* format) {
  if (!Known(v)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!Known(v) || std::isinf(v)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Machine DescribeMachine() {
  Machine m;
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      m.cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  if (uname(&u) == 0) m.kernel = std::string(u.sysname) + " " + u.release;
  m.load_before = LoadAverage();
  m.started_at = ledger::FormatTimestampMs(ledger::NowUnixMs());
  return m;
}

double RateRatio(const Figure& a, const Figure& b) {
  if (!a.measured() || !b.measured()) return kNotMeasured;
  return a.rate() / b.rate();
}

void PrintFigures(const std::vector<Figure>& figures, std::FILE* out) {
  std::fprintf(out, "%-46s %11s %9s %8s %8s %8s %7s %7s %8s %6s\n", "figure", "events/s", "req/s",
               "p50 ms", "p99 ms", "p99.9 ms", "srv CPU", "cli CPU", "RSS MiB", "errors");
  for (const Figure& f : figures) {
    std::fprintf(out, "%-46s %11s %9s %8s %8s %8s %7s %7s %8s %6llu\n", f.title.c_str(),
                 f.measured() ? Cell(f.rate(), "%.0f").c_str() : "-",
                 f.measured() && f.requests > 0 ? Cell(f.request_rate(), "%.0f").c_str() : "-",
                 Cell(f.p50_ms, "%.2f").c_str(), Cell(f.p99_ms, "%.2f").c_str(),
                 Cell(f.p999_ms, "%.2f").c_str(), Cell(f.server_cpu_cores, "%.2f").c_str(),
                 Cell(f.client_cpu_cores, "%.2f").c_str(), Cell(f.peak_rss_mib, "%.0f").c_str(),
                 static_cast<unsigned long long>(f.errors));
    if (!f.note.empty()) std::fprintf(out, "    note: %s\n", f.note.c_str());
  }
}

void PrintComparisons(const std::vector<Comparison>& comparisons, std::FILE* out) {
  std::fprintf(out, "%-62s %10s %10s  %s\n", "comparison", "value", "goal", "");
  for (const Comparison& c : comparisons) {
    const char* format = c.unit == "x" ? "%.2f" : c.unit == "ms" ? "%.2f" : "%.0f";
    std::string value = Cell(c.value, format);
    std::string goal =
        Known(c.goal) ? std::string(c.at_most ? "<= " : ">= ") + Cell(c.goal, format) : "";
    if (Known(c.value)) value += c.unit == "x" ? "x" : " " + c.unit;
    if (Known(c.goal)) goal += c.unit == "x" ? "x" : "";
    const char* verdict = !Known(c.goal)    ? ""
                          : !Known(c.value) ? "not measured"
                          : c.met()         ? "met"
                                            : "NOT MET";
    std::fprintf(out, "%-62s %10s %10s  %s\n", c.title.c_str(), value.c_str(), goal.c_str(),
                 verdict);
  }
}

std::string ReportJson(const Machine& machine, const std::string& config,
                       const std::vector<Figure>& figures,
                       const std::vector<Comparison>& comparisons) {
  std::string j = "{\"machine\":{";
  j += "\"cores\":" + std::to_string(machine.cores) + ",\"cpu\":" + JsonString(machine.cpu) +
       ",\"kernel\":" + JsonString(machine.kernel) +
       ",\"load_before\":" + JsonString(machine.load_before) +
       ",\"load_after\":" + JsonString(machine.load_after) +
       ",\"started_at\":" + JsonString(machine.started_at) + "},\"config\":" + config +
       ",\"figures\":{";
  bool first = true;
  for (const Figure& f : figures) {
    if (!first) j += ",";
    first = false;
    j += JsonString(f.key) + ":{\"title\":" + JsonString(f.title) +
         ",\"unit\":" + JsonString(f.unit) + ",\"seconds\":" + JsonNumber(f.seconds) +
         ",\"requests\":" + std::to_string(f.requests) + ",\"units\":" + std::to_string(f.units) +
         ",\"errors\":" + std::to_string(f.errors) +
         ",\"per_second\":" + JsonNumber(f.measured() ? f.rate() : kNotMeasured) +
         ",\"requests_per_second\":" + JsonNumber(f.measured() ? f.request_rate() : kNotMeasured) +
         ",\"p50_ms\":" + JsonNumber(f.p50_ms) + ",\"p99_ms\":" + JsonNumber(f.p99_ms) +
         ",\"p999_ms\":" + JsonNumber(f.p999_ms) +
         ",\"server_cpu_cores\":" + JsonNumber(f.server_cpu_cores) +
         ",\"client_cpu_cores\":" + JsonNumber(f.client_cpu_cores) +
         ",\"peak_rss_mib\":" + JsonNumber(f.peak_rss_mib) + ",\"note\":" + JsonString(f.note) +
         "}";
  }
  j += "},\"comparisons\":{";
  first = true;
  for (const Comparison& c : comparisons) {
    if (!first) j += ",";
    first = false;
    j += JsonString(c.key) + ":{\"title\":" + JsonString(c.title) +
         ",\"value\":" + JsonNumber(c.value) + ",\"goal\":" + JsonNumber(c.goal) +
         ",\"unit\":" + JsonString(c.unit) + ",\"at_most\":" + (c.at_most ? "true" : "false") +
         ",\"met\":" + (Known(c.goal) && Known(c.value) ? (c.met() ? "true" : "false") : "null") +
         "}";
  }
  return j + "}}\n";
}

}  // namespace runledger::tools::bench
