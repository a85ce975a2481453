// Writes export bundles for verify_export.py, which checks them with the
// Python standard library only (an auditor without our binary):
//
//   export_bundle OUT_DIR
//     OUT_DIR/key.pem          the checkpoint signing public key
//     OUT_DIR/trusted.json     a checkpoint taken part way
//     OUT_DIR/whole.ndjson     every event
//     OUT_DIR/range.ndjson     positions 46..80 (the second of three batches),
//                              so both left and right are non-empty
//     OUT_DIR/run.ndjson       run 2's events in full, the others as leaf
//                              hashes, with a consistency proof from trusted.json
//
// Event data holds strings and small integers only, so Python's
// json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False) is
// their RFC 8785 form.

#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
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

Status Append(EventStore& store, int from, int count) {
  static const char* const kText[] = {"plain", "comma, \"quoted\"",
                                      "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",
                                      "ctl\x01\x1f tab\t nl\n bs\\", "\xE2\x80\xA8 sep"};
  std::vector<Event> events;
  for (int n = from; n < from + count; ++n) {
    Event e;
    e.run_id = Uuid{0x01, 0x8f, 0, 0, 0, 0, 0x70, 0,
                    0x80, 0,    0, 0, 0, 0, 0,    static_cast<std::uint8_t>(n % 4)};
    e.type = "logged";
    e.principal = "worker \xC3\xA9";
    e.data = Json::MakeObject(
        {{"level", Json::String("info")},
         {"message", Json::String(kText[n % 5])},
         {"n", Json::Number(n)},
         {"fields", Json::MakeObject({{"z", Json::Number(-n)}, {"a", Json::MakeArray()}})}});
    events.push_back(std::move(e));
  }
  std::promise<Status> done;
  auto answer = done.get_future();
  store.Submit(std::make_unique<AppendAll>(std::move(events), std::move(done)));
  Status s = answer.get();
  // The next batch then gets a later recorded_at (bounded wait).
  const std::int64_t now = NowUnixMs();
  for (int spins = 0; NowUnixMs() <= now && spins < 100000000; ++spins) std::this_thread::yield();
  return s;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

Status Export(EventStore& store, const ExportRequest& request, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  Status s = WriteExport(store, request, [&](std::string_view chunk) {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return static_cast<bool>(out);
  });
  return s;
}

int Run(const std::string& dir) {
  StoreOptions options;
  options.data_dir = dir + "/data";
  auto store = EventStore::Open(options, nullptr);
  if (!store) {
    std::cerr << store.error().ToString() << "\n";
    return 1;
  }
  EventStore& s = **store;
  // Three batches at three different milliseconds.
  Status status = Append(s, 0, 45);
  auto trusted = s.CheckpointNow();
  if (status.ok() && !trusted) status = trusted.error();
  if (status.ok()) status = Append(s, 45, 35);
  if (status.ok()) status = Append(s, 80, 23);
  if (!status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 1;
  }
  ExportRequest whole;
  whole.from_ms = 0;
  whole.to_ms = 253402300799000;
  ExportRequest run = whole;
  run.run_id = "018f0000-0000-7000-8000-000000000002";
  run.since_size = trusted->size;
  const Uuid run_id = Uuid{0x01, 0x8f, 0, 0, 0, 0, 0x70, 0, 0x80, 0, 0, 0, 0, 0, 0, 2};
  run.matches = [run_id](const Event& e) -> Result<bool> { return e.run_id == run_id; };
  ExportRequest range = whole;
  auto second = s.ReadEvent(46);
  auto third = s.ReadEvent(81);
  if (!second || !third || !second->has_value() || !third->has_value()) return 1;
  range.from_ms = (*second)->recorded_at_ms;
  range.to_ms = (*third)->recorded_at_ms;
  status = Export(s, whole, dir + "/whole.ndjson");
  if (status.ok()) status = Export(s, range, dir + "/range.ndjson");
  if (status.ok()) status = Export(s, run, dir + "/run.ndjson");
  if (!status.ok() || !WriteFile(dir + "/key.pem", s.PublicKeyPem()) ||
      !WriteFile(dir + "/trusted.json", trusted->ToJson())) {
    std::cerr << "export failed: " << status.ToString() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace runledger::ledger

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: export_bundle OUT_DIR\n");
    return 2;
  }
  return runledger::ledger::Run(argv[1]);
}
