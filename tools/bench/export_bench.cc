// Export and verify-export throughput on a ledger of N events (default
// 1,000,000):
//
//   export_bench [--events N] [--data DIR]
//
// Fills DIR (default: a fresh directory under /tmp, removed at the end; an
// existing DIR is reused and topped up to N events) with `logged` events of
// about 300 bytes over 1,000 runs, then times, on a release build:
//   1. the NDJSON export of the whole ledger to a file in DIR,
//   2. the same export to a sink that only counts bytes (no disk),
//   3. an export filtered to one run (every event decoded to test the filter),
//   4. the CSV export (every event decoded),
//   5. VerifyExport of the file from 1.
// Prints MB/s and events/s for each, by wall clock and by the process's CPU
// time (user + system, all threads), which stays meaningful on a busy
// machine. No assertions: numbers are for reading.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/export.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

constexpr int kEventsPerCommand = 1000;
constexpr int kCommandsInFlight = 8;
constexpr std::uint32_t kRuns = 1000;

Uuid RunId(std::uint32_t n) {
  Uuid id{0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80};
  for (int i = 0; i < 4; ++i) id[12 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return id;
}

class AppendMany : public Command {
 public:
  AppendMany(std::uint64_t first, int count, std::promise<Status> done)
      : first_(first), count_(count), done_(std::move(done)) {}
  Status Execute(AppendContext& ctx) override {
    for (int i = 0; i < count_; ++i) {
      const std::uint64_t n = first_ + static_cast<std::uint64_t>(i);
      Event e;
      e.type = "logged";
      e.run_id = RunId(static_cast<std::uint32_t>(n % kRuns));
      e.principal = "worker-" + std::to_string(n % 16);
      e.id = "evt-" + std::to_string(n);
      e.data = Json::MakeObject(
          {{"level", Json::String("info")},
           {"container", Json::String("warehouse.public.orders_" + std::to_string(n % 97))},
           {"message", Json::String("scanned partition " + std::to_string(n) +
                                    ": 12400 records, 3 anomalies identified, checks applied")},
           {"fields", Json::MakeObject({{"records", Json::Number(static_cast<double>(n % 100000))},
                                        {"anomalies", Json::Number(3)}})}});
      ctx.Append(std::move(e));
    }
    return Status::Ok();
  }
  void Complete(const Status& status) override { done_.set_value(status); }

 private:
  std::uint64_t first_;
  int count_;
  std::promise<Status> done_;
};

Status Fill(EventStore& store, std::uint64_t target) {
  std::deque<std::future<Status>> in_flight;
  for (std::uint64_t n = store.size(); n < target;) {
    const int count = static_cast<int>(std::min<std::uint64_t>(kEventsPerCommand, target - n));
    std::promise<Status> done;
    in_flight.push_back(done.get_future());
    store.Submit(std::make_unique<AppendMany>(n, count, std::move(done)));
    n += static_cast<std::uint64_t>(count);
    while (in_flight.size() >= kCommandsInFlight || (n >= target && !in_flight.empty())) {
      RUNLEDGER_RETURN_IF_ERROR(in_flight.front().get());
      in_flight.pop_front();
    }
  }
  return Status::Ok();
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Wall and CPU time since construction.
struct Timer {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = CpuSeconds();
  double WallSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  }
  double CpuSecondsSince() const { return CpuSeconds() - cpu; }
};

void Report(const char* what, std::uint64_t bytes, std::uint64_t events, const Timer& timer) {
  const double wall = timer.WallSeconds();
  const double cpu = timer.CpuSecondsSince();
  const double mb = static_cast<double>(bytes) / 1e6;
  std::printf(
      "%-46s wall %7.1f MB/s %9.0f ev/s | cpu %7.1f MB/s %9.0f ev/s  (%.0f MB, %.2f s wall, %.2f s "
      "cpu)\n",
      what, mb / wall, static_cast<double>(events) / wall, mb / cpu,
      static_cast<double>(events) / cpu, mb, wall, cpu);
}

int Run(std::uint64_t events, std::string dir) {
  const bool temporary = dir.empty();
  if (temporary) {
    dir = (std::filesystem::temp_directory_path() / ("export_bench_" + std::to_string(NowUnixMs())))
              .string();
  }
  StoreOptions options;
  options.data_dir = dir;
  auto opened = EventStore::Open(options, nullptr);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().ToString().c_str());
    return 1;
  }
  EventStore& store = **opened;
  Timer fill;
  const std::uint64_t before = store.size();
  if (Status s = Fill(store, events); !s.ok()) {
    std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
    return 1;
  }
  if (store.size() > before) {
    std::printf("appended %llu events in %.1f s\n",
                static_cast<unsigned long long>(store.size() - before), fill.WallSeconds());
  }
  ExportRequest whole;
  whole.from_ms = 0;
  whole.to_ms = 253402300799000;
  const std::string file = dir + "/export.ndjson";
  auto timed_export = [&](const char* what, const ExportRequest& request, bool to_file) -> bool {
    std::ofstream out;
    if (to_file) out.open(file, std::ios::binary | std::ios::trunc);
    ExportSummary summary;
    const Timer timer;
    Status s = WriteExport(
        store, request,
        [&](std::string_view chunk) {
          if (to_file) out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
          return !to_file || static_cast<bool>(out);
        },
        &summary);
    if (to_file) out.close();
    if (!s.ok()) {
      std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
      return false;
    }
    Report(what, summary.bytes, summary.last - summary.first + 1, timer);
    return true;
  };
  ExportRequest one_run = whole;
  one_run.matches = [](const Event& e) -> Result<bool> { return e.run_id == RunId(7); };
  ExportRequest csv = whole;
  csv.format = ExportFormat::kCsv;
  bool ok = timed_export("export ndjson, whole ledger, to a file", whole, true) &&
            timed_export("export ndjson, whole ledger, counted only", whole, false) &&
            timed_export("export ndjson, one run in full, counted only", one_run, false) &&
            timed_export("export csv, whole ledger, counted only", csv, false);
  if (ok) {
    std::ifstream in(file, std::ios::binary);
    VerifyExportReport report;
    const Timer timer;
    Status s = VerifyExport(in, store.PublicKeyPem(), std::nullopt, &report);
    if (!s.ok()) {
      std::fprintf(stderr, "verify-export: %s\n", s.ToString().c_str());
      ok = false;
    } else {
      Report("verify-export of the file", report.bytes, report.events + report.leaf_hashes, timer);
    }
  }
  opened->reset();
  if (temporary) std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace runledger::ledger

int main(int argc, char** argv) {
  std::uint64_t events = 1000000;
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) {
      events = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--data") == 0) {
      dir = argv[i + 1];
    } else {
      std::fprintf(stderr, "usage: export_bench [--events N] [--data DIR]\n");
      return 2;
    }
  }
  return runledger::ledger::Run(events, dir);
}
