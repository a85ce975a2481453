#include "tools/bench/postgres_reference.h"

#ifdef RUNLEDGER_BENCH_HAVE_LIBPQ

#include <libpq-fe.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "tools/bench/process.h"
#include "tools/bench/workload.h"

namespace runledger::tools::bench {
namespace {

namespace asio = boost::asio;

constexpr size_t kOpenRunsPerBatchClient = 60;

constexpr const char* kSchema = R"sql(
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_events, bench_runs;
CREATE TABLE bench_runs (
  run_id uuid PRIMARY KEY,
  status text NOT NULL,
  version int NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_events (
  run_id uuid NOT NULL,
  seq int NOT NULL,
  body jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, seq));
)sql";

// One event = one statement = one transaction: the run's row is upserted
// (row lock, version + 1, status) and the event inserted with that seq.
constexpr const char* kAppend = R"sql(
WITH r AS (
  INSERT INTO bench_runs AS r (run_id, status, version) VALUES ($1::uuid, $2, 1)
  ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, version = r.version + 1, updated_at = now()
  RETURNING run_id, version)
INSERT INTO bench_events (run_id, seq, body) SELECT run_id, version, $3::jsonb FROM r
)sql";

std::string Literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

class PgLoad {
 public:
  explicit PgLoad(const PostgresReferenceOptions& o) : o_(o), timer_(io_) {}
  ~PgLoad() {
    for (auto& c : conns_) {
      c->socket.reset();
      PQfinish(c->pg);
    }
  }

  Figure Run() {
    Figure figure;
    if (std::string error = Setup(); !error.empty()) {
      figure.note = error;
      return figure;
    }
    const auto now = Clock::now();
    begin_ = now + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(o_.warmup_seconds));
    end_ = begin_ +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds));
    for (auto& c : conns_) Send(*c);
    Tick();
    io_.run();
    figure.seconds = std::chrono::duration<double>(end_ - begin_).count();
    figure.requests = latencies_.count();
    figure.units = units_;
    figure.errors = errors_;
    figure.server_cpu_cores = server_cores_;
    figure.client_cpu_cores = client_cores_;
    figure.SetLatencies(latencies_);
    if (!first_error_.empty()) figure.note = first_error_;
    if (std::string problem = CheckTables(); !problem.empty()) {
      ++figure.errors;
      figure.note += (figure.note.empty() ? "" : "; ") + problem;
    }
    return figure;
  }

 private:
  struct Conn {
    Conn(std::uint64_t seed, size_t open_runs) : generator(seed), runs(generator, open_runs) {}
    PGconn* pg = nullptr;
    std::optional<asio::posix::stream_descriptor> socket;
    WorkloadGenerator generator;
    RunInterleaver runs;
    std::string sql;
    std::string params[3];
    Clock::time_point started;
    size_t units = 0;
    bool failed = false;
    bool busy = false;
  };

  std::string Setup() {
    PGconn* admin = PQconnectdb(o_.conninfo.c_str());
    std::string error;
    if (PQstatus(admin) != CONNECTION_OK) {
      error = std::string("cannot connect to PostgreSQL: ") + PQerrorMessage(admin);
    } else {
      PGresult* r = PQexec(admin, kSchema);
      if (PQresultStatus(r) != PGRES_COMMAND_OK)
        error = std::string("schema: ") + PQerrorMessage(admin);
      PQclear(r);
    }
    PQfinish(admin);
    if (!error.empty()) return error;
    const size_t open_runs = o_.batch_events > 0 ? kOpenRunsPerBatchClient : 1;
    for (size_t i = 0; i < o_.connections; ++i) {
      auto c = std::make_unique<Conn>(o_.seed * 1000 + i, open_runs);
      c->pg = PQconnectdb(o_.conninfo.c_str());
      if (PQstatus(c->pg) != CONNECTION_OK) {
        error = std::string("connect: ") + PQerrorMessage(c->pg);
        PQfinish(c->pg);
        return error;
      }
      PGresult* r = PQprepare(c->pg, "append", kAppend, 3, nullptr);
      if (PQresultStatus(r) != PGRES_COMMAND_OK)
        error = std::string("prepare: ") + PQerrorMessage(c->pg);
      PQclear(r);
      PQsetnonblocking(c->pg, 1);
      c->socket.emplace(io_, dup(PQsocket(c->pg)));
      conns_.push_back(std::move(c));
      if (!error.empty()) return error;
    }
    return "";
  }

  // Every stored event is counted by exactly one run's version.
  std::string CheckTables() {
    PGconn* admin = PQconnectdb(o_.conninfo.c_str());
    std::string problem;
    PGresult* r = PQexec(admin,
                         "SELECT (SELECT count(*) FROM bench_events), "
                         "(SELECT coalesce(sum(version), 0) FROM bench_runs)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      problem = std::string("check: ") + PQerrorMessage(admin);
    } else if (std::string(PQgetvalue(r, 0, 0)) != PQgetvalue(r, 0, 1)) {
      problem = std::string("check: ") + PQgetvalue(r, 0, 0) + " events but run versions sum to " +
                PQgetvalue(r, 0, 1);
    }
    PQclear(r);
    PQfinish(admin);
    return problem;
  }

  void Send(Conn& c) {
    if (stopping_ || c.failed) return MaybeFinish();
    c.started = Clock::now();
    c.busy = true;
    int sent = 0;
    if (o_.batch_events == 0) {
      const auto view = c.runs.Next();
      c.params[0] = view->run->id_text;
      c.params[1] = std::string(view->event->status);
      c.params[2] = view->event->line;
      const char* values[3] = {c.params[0].c_str(), c.params[1].c_str(), c.params[2].c_str()};
      c.units = 1;
      sent = PQsendQueryPrepared(c.pg, "append", 3, values, nullptr, nullptr, 0);
    } else {
      c.sql = "BEGIN;";
      for (size_t i = 0; i < o_.batch_events; ++i) {
        const auto view = c.runs.Next();
        c.sql += "EXECUTE append('" + view->run->id_text + "','" +
                 std::string(view->event->status) + "'," + Literal(view->event->line) + ");";
      }
      c.sql += "COMMIT;";
      c.units = o_.batch_events;
      sent = PQsendQuery(c.pg, c.sql.c_str());
    }
    if (!sent) return Fail(c, PQerrorMessage(c.pg));
    Flush(c);
  }

  void Flush(Conn& c) {
    const int r = PQflush(c.pg);
    if (r < 0) return Fail(c, PQerrorMessage(c.pg));
    if (r == 1) {
      c.socket->async_wait(asio::posix::stream_descriptor::wait_write,
                           [this, &c](boost::system::error_code ec) {
                             if (ec) return Fail(c, ec.message());
                             Flush(c);
                           });
      return;
    }
    WaitRead(c);
  }

  void WaitRead(Conn& c) {
    c.socket->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, &c](boost::system::error_code ec) {
                           if (ec) return Fail(c, ec.message());
                           if (!PQconsumeInput(c.pg)) return Fail(c, PQerrorMessage(c.pg));
                           bool ok = true;
                           while (!PQisBusy(c.pg)) {
                             PGresult* r = PQgetResult(c.pg);
                             if (r == nullptr) return Done(c, ok);
                             const auto status = PQresultStatus(r);
                             if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
                               ok = false;
                               Error(PQresultErrorMessage(r));
                             }
                             PQclear(r);
                           }
                           WaitRead(c);
                         });
  }

  void Done(Conn& c, bool ok) {
    const auto done = Clock::now();
    c.busy = false;
    if (ok && c.started >= begin_ && done <= end_) {
      latencies_.Add(done - c.started);
      units_ += c.units;
    } else if (!ok && c.started >= begin_ && done <= end_) {
      ++errors_;
    }
    Send(c);
  }

  void Fail(Conn& c, const std::string& what) {
    Error(what);
    c.failed = true;
    c.busy = false;
    MaybeFinish();
  }

  void Error(const std::string& what) {
    if (first_error_.empty()) first_error_ = what;
  }

  void Tick() {
    const auto now = Clock::now();
    if (!started_ && now >= begin_) {
      started_ = true;
      cpu_.emplace(o_.postmaster_pid, true);
      cpu_->Start();
      client_cpu_ = ThreadCpuSeconds();
    }
    if (!stopping_ && now >= end_) {
      stopping_ = true;
      client_cores_ = (ThreadCpuSeconds() - client_cpu_) / o_.seconds;
      if (o_.postmaster_pid > 0) server_cores_ = cpu_->Stop();
      return MaybeFinish();
    }
    timer_.expires_after(std::chrono::milliseconds(1));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) Tick();
    });
  }

  void MaybeFinish() {
    bool any_busy = false, all_failed = true;
    for (auto& c : conns_) {
      any_busy = any_busy || c->busy;
      all_failed = all_failed && c->failed;
    }
    if ((stopping_ || all_failed) && !any_busy) {
      stopping_ = true;
      timer_.cancel();
    }
  }

  const PostgresReferenceOptions& o_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Clock::time_point begin_, end_;
  bool started_ = false, stopping_ = false;
  std::optional<CpuMeter> cpu_;
  double client_cpu_ = 0, client_cores_ = kNotMeasured, server_cores_ = kNotMeasured;
  Latencies latencies_;
  std::uint64_t units_ = 0, errors_ = 0;
  std::string first_error_;
};

}  // namespace

bool PostgresReferenceAvailable() { return true; }

Figure MeasurePostgres(const PostgresReferenceOptions& options) { return PgLoad(options).Run(); }

}  // namespace runledger::tools::bench

#else  // no libpq in this build

namespace runledger::tools::bench {
bool PostgresReferenceAvailable() { return false; }
Figure MeasurePostgres(const PostgresReferenceOptions&) {
  Figure figure;
  figure.note = "this build has no libpq (install libpq-dev and reconfigure)";
  return figure;
}
}  // namespace runledger::tools::bench

#endif
