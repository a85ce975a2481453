// Writes the seeds of export_verify_fuzzer: a ten-event ledger in three
// batches, exported whole, as its middle batch only (left and right covers
// non-empty), and filtered to one run with a consistency proof from a
// checkpoint taken after the first batch.
//
//   fuzz_export_seed CORPUS_DIR DATA_DIR
//     CORPUS_DIR/{whole,range,run}.ndjson
//     DATA_DIR/export_key.pem        the signing public key
//     DATA_DIR/export_trusted.json   the early checkpoint
//
// The key is new on every run: regenerate the three together.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/export.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

class AppendAll : public Command {
 public:
  AppendAll(std::vector<Event> events, std::promise<Status> done)
      : events_(std::move(events)), done_(std::move(done)) {}
  Status Execute(AppendContext& ctx) override {
    for (Event& e : events_) ctx.Append(std::move(e));
    return Status::Ok();
  }
  void Complete(const Status& status) override { done_.set_value(status); }

 private:
  std::vector<Event> events_;
  std::promise<Status> done_;
};

Uuid RunId(int n) { return Uuid{0x01, 0x8f, 0, 0, 0, 0, 0x70, 0, 0x80, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(n)}; }

Status Append(EventStore& store, int from, int count) {
  std::vector<Event> events;
  for (int n = from; n < from + count; ++n) {
    Event e;
    e.run_id = RunId(n % 2 + 1);
    e.type = "logged";
    e.principal = "worker";
    e.data = Json::MakeObject({{"level", Json::String("info")},
                               {"message", Json::String(n % 3 ? "ok" : "caf\xC3\xA9 \"q\"\n")},
                               {"n", Json::Number(n)}});
    events.push_back(std::move(e));
  }
  std::promise<Status> done;
  auto answer = done.get_future();
  store.Submit(std::make_unique<AppendAll>(std::move(events), std::move(done)));
  Status s = answer.get();
  // The next batch gets a later recorded_at.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return s;
}

Status Export(EventStore& store, const ExportRequest& request, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  return WriteExport(store, request, [&](std::string_view chunk) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return static_cast<bool>(out);
  });
}

int Run(const std::string& corpus, const std::string& data) {
  char dir[] = "/tmp/runledger-export-seed-XXXXXX";
  if (mkdtemp(dir) == nullptr) return 1;
  StoreOptions options;
  options.data_dir = dir;
  auto store = EventStore::Open(options, nullptr);
  if (!store) {
    std::cerr << store.error().ToString() << "\n";
    return 1;
  }
  EventStore& s = **store;
  Status status = Append(s, 0, 3);
  auto trusted = s.CheckpointNow();
  if (status.ok() && !trusted) status = trusted.error();
  if (status.ok()) status = Append(s, 3, 4);
  if (status.ok()) status = Append(s, 7, 3);
  ExportRequest whole;
  whole.from_ms = 0;
  whole.to_ms = 253402300799000;
  ExportRequest run = whole;
  run.run_id = "018f0000-0000-7000-8000-000000000002";
  run.since_size = status.ok() ? trusted->size : 0;
  run.matches = [](const Event& e) -> Result<bool> { return e.run_id == RunId(2); };
  ExportRequest range = whole;
  if (status.ok()) {
    auto second = s.ReadEvent(4);
    auto third = s.ReadEvent(8);
    if (!second || !third || !second->has_value() || !third->has_value()) return 1;
    range.from_ms = (*second)->recorded_at_ms;
    range.to_ms = (*third)->recorded_at_ms;
  }
  if (status.ok()) status = Export(s, whole, corpus + "/whole.ndjson");
  if (status.ok()) status = Export(s, range, corpus + "/range.ndjson");
  if (status.ok()) status = Export(s, run, corpus + "/run.ndjson");
  if (status.ok()) {
    std::ofstream(data + "/export_key.pem", std::ios::binary) << s.PublicKeyPem();
    std::ofstream(data + "/export_trusted.json", std::ios::binary) << trusted->ToJson();
  }
  store->reset();
  std::filesystem::remove_all(dir);
  if (!status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace runledger::ledger

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_export_seed CORPUS_DIR DATA_DIR\n");
    return 2;
  }
  return runledger::ledger::Run(argv[1], argv[2]);
}
