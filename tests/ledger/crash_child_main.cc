// ledger_crash_child DATA_DIR TAG
//
// Opens the event store at DATA_DIR and appends from kThreads threads until
// it is killed. As soon as an append is acknowledged (Complete(ok)), its
// thread writes one line to stdout:
//
//   line := position " " run_id " " client_id "\n"
//
// with client ids "<TAG>-t<thread>-<n>", each line in a single write(2) of
// less than PIPE_BUF bytes so that lines from different threads never
// interleave. EventStoreCrashTest SIGKILLs this process mid-stream and checks
// that every line it read names an event the reopened store holds. The
// process also ends (SIGPIPE) once nobody reads its stdout, and after
// kAppendsPerThreadMax appends per thread.

#include <unistd.h>

#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ledger/event_store.h"

namespace runledger::ledger {
namespace {

constexpr int kThreads = 16;
constexpr std::uint32_t kRuns = 5;
constexpr int kAppendsPerThreadMax = 100000;

class AppendCommand : public Command {
 public:
  AppendCommand(Event event, std::promise<Result<Event>> done)
      : event_(std::move(event)), done_(std::move(done)) {}
  Status Execute(AppendContext& ctx) override {
    appended_ = ctx.Append(std::move(event_));
    return Status::Ok();
  }
  void Complete(const Status& status) override {
    if (status.ok()) {
      done_.set_value(std::move(appended_));
    } else {
      done_.set_value(status);
    }
  }

 private:
  Event event_;
  Event appended_;
  std::promise<Result<Event>> done_;
};

bool WriteAll(const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Appends until the process dies; returns false on the first refused append.
bool AppendForever(EventStore& store, const std::string& tag, int thread) {
  Uuid run_id{0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80};
  run_id[15] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(thread) % kRuns);
  for (int n = 0; n < kAppendsPerThreadMax; ++n) {
    Event event;
    event.type = "progressed";
    event.run_id = run_id;
    event.principal = "crash-child";
    event.id = tag + "-t" + std::to_string(thread) + "-" + std::to_string(n);
    event.data = Json::MakeObject({{"processed", Json::Number(n)}});
    std::promise<Result<Event>> done;
    auto answer = done.get_future();
    store.Submit(std::make_unique<AppendCommand>(std::move(event), std::move(done)));
    Result<Event> appended = answer.get();
    if (!appended) {
      std::fprintf(stderr, "append refused: %s\n", appended.error().ToString().c_str());
      return false;
    }
    const std::string line = std::to_string(appended->position) + " " +
                             FormatUuid(appended->run_id) + " " + *appended->id + "\n";
    if (!WriteAll(line)) return false;
  }
  return true;
}

}  // namespace
}  // namespace runledger::ledger

int main(int argc, char** argv) {
  using namespace runledger::ledger;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR TAG\n", argv[0]);
    return 2;
  }
  StoreOptions options;
  options.data_dir = argv[1];
  auto store = EventStore::Open(options, nullptr);
  if (!store) {
    std::fprintf(stderr, "cannot open the store: %s\n", store.error().ToString().c_str());
    return 1;
  }
  const std::string tag = argv[2];
  std::vector<std::thread> threads;
  std::vector<char> ok(kThreads, 1);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { ok[static_cast<size_t>(t)] = AppendForever(**store, tag, t); });
  }
  for (auto& thread : threads) thread.join();
  for (char thread_ok : ok) {
    if (!thread_ok) return 1;
  }
  return 0;
}
