#include "tools/bench/workload.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "ledger/time.h"

namespace runledger::tools::bench {
namespace {

constexpr std::array kOperations = {"sync",   "profile",     "scan",   "external_scan",
                                    "export", "materialize", "promote"};
constexpr std::array kOperationWeights = {15, 20, 25, 10, 10, 10, 10};  // percent
constexpr std::array kSchemas = {"public", "sales", "finance", "staging", "analytics"};
constexpr std::array kTables = {"orders",    "customers", "line_items", "payments",
                                "shipments", "inventory", "web_events", "sessions",
                                "invoices",  "products",  "accounts",   "refunds"};
constexpr std::array kErrors = {
    std::pair{"E_QUERY_TIMEOUT", "query timed out after 300 s while reading %s"},
    std::pair{"E_CONNECTION", "connection reset by peer while scanning %s"},
    std::pair{"E_PERMISSION", "permission denied for relation %s (role dq_reader)"}};

std::string Num(std::uint64_t n) { return std::to_string(n); }
std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Config objects as the platform's UI would save them, per operation.
std::string ConfigFor(std::string_view op, WorkloadGenerator& g) {
  if (op == "profile") {
    return R"({"infer_constraints":true,"histogram_buckets":20,"max_records_analyzed_per_partition":)" +
           Num(static_cast<std::uint64_t>(g.Uniform(1, 10)) * 100000) + "}";
  }
  if (op == "scan") {
    return R"({"check_categories":["metric","shape","volumetric"],"incremental":)" +
           std::string(g.Chance(70) ? "true" : "false") + R"(,"anomaly_rollup_threshold":)" +
           Num(static_cast<std::uint64_t>(g.Uniform(1, 50))) + "}";
  }
  if (op == "sync") return R"({"include_schemas":["public","sales"],"prune":false})";
  if (op == "external_scan") {
    return R"({"source":"s3://dq-landing/exports/part-)" +
           Num(static_cast<std::uint64_t>(g.Uniform(1000, 9999))) + R"(.parquet","checks":"all"})";
  }
  if (op == "export")
    return R"({"asset":"anomalies","format":"parquet","target":"ds-enrichment-1"})";
  if (op == "materialize")
    return R"({"computed_tables":["daily_revenue","churn_features"],"refresh":"full"})";
  return R"({"source_datastore":"ds-)" + Num(static_cast<std::uint64_t>(g.Uniform(1000, 1199))) +
         R"(","checks":)" + Num(static_cast<std::uint64_t>(g.Uniform(5, 120))) +
         R"(,"mode":"overwrite"})";
}

struct Counters {
  std::uint64_t records = 0, anomalies = 0, checks = 0;
  std::string Json(std::uint64_t containers_done) const {
    return R"({"records_scanned":)" + Num(records) + R"(,"anomalies_identified":)" +
           Num(anomalies) + R"(,"checks_added":)" + Num(checks) + R"(,"containers_profiled":)" +
           Num(containers_done) + "}";
  }
};

class RunBuilder {
 public:
  RunBuilder(WorkloadGenerator& g, RunScript& run) : g_(g), run_(run) {}

  void Add(std::string type, const std::string& data, std::string_view status) {
    BenchEvent e;
    e.type = std::move(type);
    e.seq = static_cast<std::uint32_t>(run_.events.size() + 1);
    e.status = status;
    const std::string event_id =
        run_.id_text.substr(0, 8) + "-" + run_.id_text.substr(24) + "-" + Num(e.seq);
    const std::string occurred = ledger::FormatTimestampMs(ledger::NowUnixMs());
    if (e.type == "created") {
      e.body = R"({"run_id":")" + run_.id_text + "\"," + data.substr(1);
    } else {
      e.body = R"({"type":")" + e.type + R"(","id":")" + event_id + R"(","occurred_at":")" +
               occurred + R"(","data":)" + data + "}";
    }
    e.line = R"({"run_id":")" + run_.id_text + R"(","type":")" + e.type + R"(","id":")" + event_id +
             R"(","occurred_at":")" + occurred + R"(","data":)" + data + "}";
    run_.events.push_back(std::move(e));
  }

  std::string LogData(const std::string& container) {
    const int roll = g_.Uniform(1, 100);
    const char* level = roll <= 60 ? "info" : roll <= 90 ? "warning" : "error";
    const std::uint64_t records = static_cast<std::uint64_t>(g_.Uniform(1000, 2000000));
    char message[320];
    std::snprintf(
        message, sizeof message,
        "Partition 2025-%02d-%02d of %s: %llu records checked, %d anomalies over threshold "
        "(freshness %d.%dh, completeness %d.%d%%)%s",
        g_.Uniform(1, 12), g_.Uniform(1, 28), container.c_str(),
        static_cast<unsigned long long>(records), g_.Uniform(0, 40), g_.Uniform(0, 72),
        g_.Uniform(0, 9), g_.Uniform(80, 99), g_.Uniform(0, 9),
        g_.Chance(40) ? "; slow query plan detected on the partition key, consider an index" : "");
    return R"({"level":")" + std::string(level) + R"(","message":")" + message +
           R"(","container":")" + container + R"(","fields":{"records":)" + Num(records) +
           R"(,"duration_ms":)" + Num(static_cast<std::uint64_t>(g_.Uniform(20, 90000))) + "}}";
  }

 private:
  WorkloadGenerator& g_;
  RunScript& run_;
};

}  // namespace

std::uint64_t WorkloadGenerator::Next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int WorkloadGenerator::Uniform(int low, int high) {
  return low + static_cast<int>(Next() % static_cast<std::uint64_t>(high - low + 1));
}

RunScript WorkloadGenerator::NextRun() {
  RunScript run;
  run.id = ledger::NewUuidV7(ledger::NowUnixMs());
  run.id_text = ledger::FormatUuid(run.id);
  char ds[16];
  std::snprintf(ds, sizeof ds, "ds-%04d", 1000 + Uniform(0, kDatastores - 1));
  run.datastore = ds;
  int pick = Uniform(1, 100);
  size_t op = 0;
  while (pick > kOperationWeights[op]) pick -= kOperationWeights[op++];
  run.operation = kOperations[op];
  const bool promote = run.operation == "promote";

  std::vector<std::string> containers(static_cast<size_t>(Uniform(3, 9)));
  for (size_t i = 0; i < containers.size(); ++i) {
    do {  // a run lists each container once
      containers[i] = std::string(kSchemas[Next() % kSchemas.size()]) + "." +
                      kTables[Next() % kTables.size()] + "_" +
                      Num(static_cast<std::uint64_t>(Uniform(1, 400)));
    } while (std::find(containers.begin(), containers.begin() + static_cast<std::ptrdiff_t>(i),
                       containers[i]) != containers.begin() + static_cast<std::ptrdiff_t>(i));
  }
  const int outcome = Uniform(1, 100);
  const std::string_view final_status = outcome <= 80   ? "success"
                                        : outcome <= 92 ? "failure"
                                                        : "aborted";

  RunBuilder b(*this, run);
  std::string names;
  for (const auto& c : containers) names += (names.empty() ? "" : ",") + Quoted(c);
  const int trigger = Uniform(1, 3);
  const std::string by =
      trigger == 1   ? R"({"kind":"schedule","id":"nightly-)" + run.datastore + "\"}"
      : trigger == 2 ? R"({"kind":"user","id":"analyst-)" + Num(Next() % 40) + "\"}"
                     : R"({"kind":"api","id":"airflow-dq-dag"})";
  b.Add("created",
        R"({"operation":")" + run.operation + R"(","datastore":{"id":")" + run.datastore +
            R"(","name":"Warehouse )" + run.datastore.substr(3) + R"x( (Snowflake)"},"config":)x" +
            ConfigFor(run.operation, *this) + R"(,"triggered_by":)" + by + R"(,"containers":[)" +
            names + R"(],"unit":"tables"})",
        promote ? "running" : "queued");
  b.Add("started",
        R"({"worker":"dq-worker-eu-west-1a-pool-)" + Num(Next() % 8) + "/pod-" +
            Num(Next() % 100000) + "\"}",
        "running");

  // About ten progressed and five logged events, interleaved; a failed or
  // aborted run stops about halfway.
  const int progressed = Uniform(8, 12);
  const int logged = Uniform(3, 7);
  const int steps = final_status == "success" ? progressed + logged : (progressed + logged) / 2;
  const std::uint64_t total = containers.size();
  Counters counters;
  int progress_done = 0, logs_done = 0;
  std::uint64_t done_containers = 0;
  for (int step = 0; step < steps; ++step) {
    const bool log = logs_done < logged &&
                     (progress_done >= progressed || Uniform(1, progressed + logged) <= logged);
    if (log) {
      ++logs_done;
      b.Add("logged", b.LogData(containers[Next() % containers.size()]), "running");
      continue;
    }
    ++progress_done;
    const std::uint64_t processed =
        total * static_cast<std::uint64_t>(progress_done) / static_cast<std::uint64_t>(progressed);
    std::string newly_done;
    for (; done_containers < processed; ++done_containers) {
      newly_done += (newly_done.empty() ? "" : ",") + std::string(R"({"name":")") +
                    containers[done_containers] + R"(","status":")" +
                    (Chance(95) ? "done" : "failed") + "\"}";
    }
    counters.records += static_cast<std::uint64_t>(Uniform(1000, 5000000));
    counters.anomalies += static_cast<std::uint64_t>(Uniform(0, 12));
    counters.checks += static_cast<std::uint64_t>(Uniform(0, 30));
    b.Add("progressed",
          R"({"processed":)" + Num(processed) + R"(,"total":)" + Num(total) + R"(,"metrics":)" +
              counters.Json(done_containers) +
              (newly_done.empty() ? "" : R"(,"containers":[)" + newly_done + "]") + "}",
          "running");
  }
  if (final_status == "success") {
    b.Add("ended",
          R"({"status":"success","metrics":)" + counters.Json(done_containers) +
              R"(,"result":{"anomalies":)" + Num(counters.anomalies) + R"(,"checks_evaluated":)" +
              Num(counters.checks * 7) + R"(,"bytes_scanned":)" + Num(counters.records * 212) +
              "}}",
          "success");
  } else if (final_status == "failure") {
    const auto& [code, format] = kErrors[Next() % kErrors.size()];
    char message[200];
    std::snprintf(message, sizeof message, format,
                  containers[done_containers % containers.size()].c_str());
    b.Add("ended",
          R"({"status":"failure","error":{"message":")" + std::string(message) + R"(","code":")" +
              code + R"("},"metrics":)" + counters.Json(done_containers) + "}",
          "failure");
  } else {
    b.Add("ended",
          R"({"status":"aborted","aborted_by":{"kind":"system","id":"scheduler"},)"
          R"("reason":"superseded by a newer run of the same datastore"})",
          "aborted");
  }
  return run;
}

RunInterleaver::RunInterleaver(WorkloadGenerator& generator, size_t open_runs,
                               std::uint64_t max_runs)
    : generator_(generator), max_runs_(max_runs), slots_(std::max<size_t>(open_runs, 1)) {}

std::optional<RunInterleaver::View> RunInterleaver::Next() {
  for (size_t tried = 0; tried < slots_.size(); ++tried) {
    Slot& slot = slots_[cursor_];
    cursor_ = (cursor_ + 1) % slots_.size();
    if (!slot.run || slot.next == slot.run->events.size()) {
      slot.run.reset();
      if (max_runs_ > 0 && runs_started_ >= max_runs_) continue;
      slot.run = std::make_unique<RunScript>(generator_.NextRun());
      slot.next = 0;
      ++runs_started_;
    }
    return View{slot.run.get(), &slot.run->events[slot.next++]};
  }
  return std::nullopt;
}

ByteSizes MeasureLines(std::uint64_t seed, int runs) {
  WorkloadGenerator g(seed);
  ByteSizes sizes{SIZE_MAX, 0, 0};
  std::uint64_t count = 0, bytes = 0;
  for (int i = 0; i < runs; ++i) {
    for (const auto& e : g.NextRun().events) {
      sizes.min = std::min(sizes.min, e.line.size());
      sizes.max = std::max(sizes.max, e.line.size());
      bytes += e.line.size();
      ++count;
    }
  }
  sizes.mean = count ? static_cast<double>(bytes) / static_cast<double>(count) : 0;
  return sizes;
}

}  // namespace runledger::tools::bench
