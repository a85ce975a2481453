#include "ledger/export.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/canonical_json.h"
#include "ledger/signing.h"
#include "ledger/time.h"
#include "tests/testing/temp_dir.h"

namespace runledger::ledger {
namespace {

using runledger::testing::TempDir;
using namespace std::chrono_literals;

constexpr auto kAnswerTimeout = 30s;
constexpr std::int64_t kFarFutureMs = 253402300799000;  // 9999-12-31T23:59:59Z

Uuid RunId(std::uint32_t n) {
  Uuid id{0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80};
  for (int i = 0; i < 4; ++i) id[12 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return id;
}

// Appends its events in one batch and reports when they are durable.
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

Status Append(EventStore& store, std::vector<Event> events) {
  std::promise<Status> done;
  auto answer = done.get_future();
  store.Submit(std::make_unique<AppendAll>(std::move(events), std::move(done)));
  if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) {
    return Status::Internal("the store did not answer in time");
  }
  return answer.get();
}

// Spins (bounded) until the wall clock passes `ms`, so the next batch gets a
// later recorded_at.
void WaitForClockAfter(std::int64_t ms) {
  const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
  while (NowUnixMs() <= ms && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
}

// Tricky text for JSON escapes and CSV quoting.
const char* const kMessages[] = {"plain", "comma, and \"quotes\"", "line\nbreak\r\n",
                                 "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",
                                 "tab\tback\\slash\x01"};

class ExportTest : public ::testing::Test {
 protected:
  static constexpr int kRuns = 6;
  static constexpr int kBatches = 12;

  void SetUp() override {
    StoreOptions options;
    options.data_dir = dir_.str();
    auto store = EventStore::Open(options, nullptr);
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    // 12 batches of 25 events over 6 runs, each batch at a later millisecond.
    int n = 0;
    for (int batch = 0; batch < kBatches; ++batch) {
      std::vector<Event> events;
      for (int i = 0; i < 25; ++i, ++n) events.push_back(NewEvent(n));
      ASSERT_TRUE(Append(*store_, std::move(events)).ok());
      WaitForClockAfter(NowUnixMs());
    }
    for (std::uint64_t p = 1; p <= store_->size(); ++p) {
      auto e = store_->ReadEvent(p);
      ASSERT_TRUE(e && e->has_value());
      recorded_.push_back((*e)->recorded_at_ms);
      runs_.push_back((*e)->run_id);
    }
  }

  Event NewEvent(int n) {
    Event e;
    const std::uint32_t run = static_cast<std::uint32_t>(n % kRuns);
    e.run_id = RunId(run);
    e.principal = "worker-" + std::to_string(run);
    if (n < kRuns) {
      e.type = "created";
      e.data = Json::MakeObject(
          {{"operation", Json::String(run % 2 ? "scan" : "profile")},
           {"datastore", Json::MakeObject({{"id", Json::String(Datastore(run))}})}});
    } else if (n >= kRuns * 49) {
      e.type = "ended";
      e.data = Json::MakeObject({{"status", Json::String("success")}});
    } else {
      e.type = "logged";
      e.data = Json::MakeObject({{"level", Json::String("info")},
                                 {"message", Json::String(kMessages[n % 5])},
                                 {"n", Json::Number(n)}});
    }
    return e;
  }
  static std::string Datastore(std::uint32_t run) { return run < 4 ? "ds-a" : "ds-b"; }

  Result<std::string> Export(const ExportRequest& request, ExportSummary* summary = nullptr) {
    std::string out;
    Status s = WriteExport(
        *store_, request,
        [&](std::string_view chunk) {
          out.append(chunk);
          return true;
        },
        summary);
    if (!s.ok()) return s;
    return out;
  }
  std::string ExportOk(const ExportRequest& request) {
    auto out = Export(request);
    EXPECT_TRUE(out) << out.error().ToString();
    return out ? *out : std::string();
  }
  Status Verify(const std::string& bundle, const std::optional<Checkpoint>& trusted = std::nullopt,
                VerifyExportReport* report = nullptr, std::string_view key = {}) {
    std::istringstream in(bundle);
    return VerifyExport(in, key.empty() ? store_->PublicKeyPem() : key, trusted, report);
  }
  static ExportRequest Whole() {
    ExportRequest r;
    r.from_ms = 0;
    r.to_ms = kFarFutureMs;
    return r;
  }
  // Positions (1-based) of the first and last events recorded in [from, to).
  std::pair<std::uint64_t, std::uint64_t> Expected(std::int64_t from, std::int64_t to) const {
    std::uint64_t first = 0, last = 0;
    for (size_t i = 0; i < recorded_.size(); ++i) {
      if (recorded_[i] >= from && recorded_[i] < to) {
        if (first == 0) first = i + 1;
        last = i + 1;
      }
    }
    return {first, last};
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::vector<std::int64_t> recorded_;  // by position - 1
  std::vector<Uuid> runs_;
};

Result<Json> Parse(std::string_view text, JsonParseOptions options = {}) {
  return ParseJson(text, options);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// "line N: ..." -> N; 0 when the message names no line.
std::uint64_t NamedLine(const Status& s) {
  const std::string& m = s.message();
  if (m.rfind("line ", 0) != 0) return 0;
  return std::strtoull(m.c_str() + 5, nullptr, 10);
}

// ---- Ranges and filters

TEST_F(ExportTest, WholeLedgerExportVerifies) {
  ExportSummary summary;
  auto bundle = Export(Whole(), &summary);
  ASSERT_TRUE(bundle) << bundle.error().ToString();
  const auto lines = Lines(*bundle);
  ASSERT_EQ(lines.size(), store_->size() + 2);
  EXPECT_EQ(summary.first, 1u);
  EXPECT_EQ(summary.last, store_->size());
  EXPECT_GE(summary.checkpoint.size, summary.last);
  EXPECT_EQ(summary.bytes, bundle->size());
  // Matching events are their stored bytes, verbatim.
  EXPECT_EQ(lines[5], store_->ReadEventBytes(5)->value_or(""));
  VerifyExportReport report;
  ASSERT_TRUE(Verify(*bundle, std::nullopt, &report).ok()) << Verify(*bundle).ToString();
  EXPECT_EQ(report.first, 1u);
  EXPECT_EQ(report.last, store_->size());
  EXPECT_EQ(report.events, store_->size());
  EXPECT_EQ(report.leaf_hashes, 0u);
  EXPECT_EQ(report.checkpoint.root, summary.checkpoint.root);
}

TEST_F(ExportTest, RangeIsThePositionsRecordedInFromTo) {
  const std::int64_t t0 = recorded_.front(), t_end = recorded_.back();
  const std::int64_t mid = recorded_[recorded_.size() / 2];
  const std::int64_t quarter = recorded_[recorded_.size() / 4];
  for (auto [from, to] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{t0, t0 + 1},
                                                          {t0, mid},
                                                          {quarter, mid},
                                                          {mid, t_end},
                                                          {mid, t_end + 1},
                                                          {quarter, quarter + 1},
                                                          {0, quarter},
                                                          {mid - 1, kFarFutureMs}}) {
    const auto [first, last] = Expected(from, to);
    ASSERT_NE(first, 0u);
    ExportRequest r;
    r.from_ms = from;
    r.to_ms = to;
    const std::string bundle = ExportOk(r);
    auto header = Parse(Lines(bundle).front());
    ASSERT_TRUE(header);
    const Json& h = *header->Find("export");
    EXPECT_EQ(h.Find("first")->AsSafeInteger(), static_cast<std::int64_t>(first));
    EXPECT_EQ(h.Find("last")->AsSafeInteger(), static_cast<std::int64_t>(last));
    EXPECT_EQ(h.Find("from")->string(), FormatTimestampMs(from));
    EXPECT_TRUE(h.Find("datastore")->is_null());
    EXPECT_EQ(Lines(bundle).size(), last - first + 3);
    EXPECT_TRUE(Verify(bundle).ok())
        << Verify(bundle).ToString() << " for [" << from << ", " << to << ")";
  }
}

TEST_F(ExportTest, EmptyRangeIsUnprocessable) {
  for (auto [from, to] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{recorded_.back() + 1, kFarFutureMs},
                                                          {0, recorded_.front()},
                                                          {recorded_[100], recorded_[100]},
                                                          {recorded_.back(), recorded_.front()}}) {
    ExportRequest r;
    r.from_ms = from;
    r.to_ms = to;
    auto out = Export(r);
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code(), Code::kUnprocessable);
    EXPECT_EQ(out.error().reason(), "empty_range");
  }
}

TEST_F(ExportTest, RunFilterExportsOtherEventsAsLeafHashes) {
  ExportRequest r = Whole();
  r.run_id = FormatUuid(RunId(2));
  r.matches = [](const Event& e) -> Result<bool> { return e.run_id == RunId(2); };
  const std::string bundle = ExportOk(r);
  VerifyExportReport report;
  ASSERT_TRUE(Verify(bundle, std::nullopt, &report).ok()) << Verify(bundle).ToString();
  const auto expected =
      static_cast<std::uint64_t>(std::count(runs_.begin(), runs_.end(), RunId(2)));
  EXPECT_EQ(report.events, expected);
  EXPECT_EQ(report.leaf_hashes, store_->size() - expected);
  const auto lines = Lines(bundle);
  auto stub = Parse(lines[1]);  // position 1 is run 0's
  ASSERT_TRUE(stub);
  EXPECT_EQ(Canonical(*stub),
            "{\"leaf_hash\":\"" + ToHex((*store_->ReadEvent(1))->hash) + "\",\"position\":1}");
}

TEST_F(ExportTest, DatastoreFilterInARangeVerifies) {
  std::map<Uuid, std::string> datastore_of;
  for (std::uint32_t run = 0; run < kRuns; ++run) datastore_of[RunId(run)] = Datastore(run);
  ExportRequest r;
  r.from_ms = recorded_[60];
  r.to_ms = recorded_[240];
  r.datastore = "ds-b";
  r.matches = [&](const Event& e) -> Result<bool> { return datastore_of.at(e.run_id) == "ds-b"; };
  ExportSummary summary;
  auto bundle = Export(r, &summary);
  ASSERT_TRUE(bundle);
  const auto [first, last] = Expected(r.from_ms, r.to_ms);
  std::uint64_t expected = 0;
  for (std::uint64_t p = first; p <= last; ++p) expected += datastore_of.at(runs_[p - 1]) == "ds-b";
  EXPECT_EQ(summary.matched, expected);
  VerifyExportReport report;
  EXPECT_TRUE(Verify(*bundle, std::nullopt, &report).ok()) << Verify(*bundle).ToString();
  EXPECT_EQ(report.events, expected);
}

TEST_F(ExportTest, MatcherErrorStopsTheExport) {
  ExportRequest r = Whole();
  r.matches = [](const Event& e) -> Result<bool> {
    if (e.position == 7) return Status::IOError("disk");
    return true;
  };
  auto out = Export(r);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), Code::kIOError);
}

TEST_F(ExportTest, OutputIsStreamedInBoundedChunks) {
  ExportRequest r = Whole();
  r.chunk_bytes = 1024;
  std::vector<size_t> chunks;
  ASSERT_TRUE(WriteExport(*store_, r, [&](std::string_view chunk) {
                chunks.push_back(chunk.size());
                return true;
              }).ok());
  ASSERT_GT(chunks.size(), 10u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_GE(chunks[i], 1024u);
    EXPECT_LT(chunks[i], 1024u + 1024u) << "a chunk holds more than one event past the bound";
  }
}

TEST_F(ExportTest, SinkThatStopsEndsTheExport) {
  int calls = 0;
  ExportRequest r = Whole();
  r.chunk_bytes = 512;
  Status s = WriteExport(*store_, r, [&](std::string_view) { return ++calls < 3; });
  EXPECT_EQ(s.reason(), "export_stopped");
  EXPECT_EQ(calls, 3);
}

// ---- Checkpoints and consistency

TEST_F(ExportTest, SinceSizeProvesTheCheckpointExtendsATrustedOne) {
  auto old = store_->CheckpointNow();
  ASSERT_TRUE(old);
  std::vector<Event> more;
  for (int i = 0; i < 37; ++i) more.push_back(NewEvent(1000 + i));
  ASSERT_TRUE(Append(*store_, std::move(more)).ok());
  ExportRequest r = Whole();
  r.from_ms = recorded_[200];
  r.since_size = old->size;
  ExportSummary summary;
  auto bundle = Export(r, &summary);
  ASSERT_TRUE(bundle);
  EXPECT_GT(summary.checkpoint.size, old->size);
  VerifyExportReport report;
  ASSERT_TRUE(Verify(*bundle, *old, &report).ok()) << Verify(*bundle, *old).ToString();
  EXPECT_TRUE(report.extends_trusted);

  // Without the proof, a trusted checkpoint cannot be checked: the trailer is named.
  const std::string plain = ExportOk(Whole());
  Status s = Verify(plain, *old);
  EXPECT_EQ(NamedLine(s), Lines(plain).size()) << s.ToString();
  EXPECT_NE(s.message().find("since_size=" + std::to_string(old->size)), std::string::npos);
}

TEST_F(ExportTest, SinceSizeBeyondTheCheckpointIsOutOfRange) {
  ExportRequest r = Whole();
  r.since_size = store_->size() + 1;
  auto out = Export(r);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().reason(), "out_of_range");
}

TEST_F(ExportTest, TrustedCheckpointTheBundleDoesNotExtendIsNamed) {
  // A checkpoint signed with the store's own key over a root the ledger never had.
  auto signer = Signer::LoadOrCreate(dir_.str() + "/signing-key.pem");
  ASSERT_TRUE(signer);
  Checkpoint forged;
  forged.size = 100;
  forged.root = Sha256("another history");
  forged.recorded_at = FormatTimestampMs(NowUnixMs());
  forged.key_id = signer->KeyId();
  forged.signature = Base64Encode(signer->Sign(forged.SignedMessage()));
  ASSERT_TRUE(forged.VerifyWith(store_->PublicKeyPem()));
  ExportRequest r = Whole();
  r.since_size = 100;
  const std::string bundle = ExportOk(r);
  Status s = Verify(bundle, forged);
  EXPECT_EQ(NamedLine(s), Lines(bundle).size()) << s.ToString();
  EXPECT_NE(s.message().find("does not extend the trusted checkpoint"), std::string::npos)
      << s.ToString();
}

TEST_F(ExportTest, WrongKeyIsNamedAtTheTrailer) {
  const std::string bundle = ExportOk(Whole());
  const Signer other = Signer::Generate();
  Status s = Verify(bundle, std::nullopt, nullptr, other.PublicKeyPem());
  EXPECT_EQ(NamedLine(s), Lines(bundle).size()) << s.ToString();
  EXPECT_NE(s.message().find("not the given key"), std::string::npos) << s.ToString();
}

TEST_F(ExportTest, TamperedSignatureIsNamedAtTheTrailer) {
  auto lines = Lines(ExportOk(Whole()));
  std::string& trailer = lines.back();
  const size_t at = trailer.find("\"signature\":\"") + 13;
  trailer[at] = trailer[at] == 'A' ? 'B' : 'A';
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), lines.size()) << s.ToString();
  EXPECT_NE(s.message().find("signature does not verify"), std::string::npos) << s.ToString();
}

// ---- Tampering with the lines

TEST_F(ExportTest, EveryByteFlipOfASmallBundleIsDetectedOrHarmless) {
  ExportRequest r;
  r.from_ms = recorded_[40];
  r.to_ms = recorded_[60];
  r.run_id = FormatUuid(RunId(3));
  r.matches = [](const Event& e) -> Result<bool> { return e.run_id == RunId(3); };
  const std::string bundle = ExportOk(r);
  ASSERT_TRUE(Verify(bundle).ok());
  const auto lines = Lines(bundle);
  ASSERT_GT(lines.size(), 4u);
  size_t offset = lines.front().size() + 1;
  int detected = 0, harmless = 0;
  for (size_t index = 1; index + 1 < lines.size(); ++index) {
    const std::string& original = lines[index];
    const bool full = original.find("\"hash\"") != std::string::npos;
    for (size_t i = 0; i <= original.size(); ++i) {    // the line's "\n" included
      for (unsigned char mask : {0x01, 0x20, 0x80}) {  // a low bit, letter case, UTF-8
        std::string tampered = bundle;
        tampered[offset + i] = static_cast<char>(tampered[offset + i] ^ mask);
        const Status s = Verify(tampered);
        if (s.ok()) {
          // Only a change the canonical form does not see may pass.
          auto before = Parse(original, {true});
          auto after = Parse(Lines(tampered)[index], {true});
          ASSERT_TRUE(before && after);
          EXPECT_EQ(Canonical(*before), Canonical(*after))
              << "undetected change at line " << index + 1;
          ++harmless;
          continue;
        }
        ++detected;
        const std::uint64_t named = NamedLine(s);
        if (full || named != lines.size()) {
          // A leaf_hash changed to another valid hash is caught at the root (the trailer).
          EXPECT_EQ(named, index + 1)
              << "byte " << i << " mask " << int(mask) << ": " << s.ToString();
        }
      }
    }
    offset += original.size() + 1;
  }
  EXPECT_GT(detected, 5000);
  RecordProperty("harmless_flips", harmless);
}

TEST_F(ExportTest, WhitespaceOutsideTheHashedFormIsHarmless) {
  auto lines = Lines(ExportOk(Whole()));
  std::string& line = lines[3];
  line.insert(line.find("\"position\""), "  ");
  line.insert(0, " ");
  line += "\t ";
  lines.front().insert(1, " ");
  ASSERT_TRUE(Verify(Join(lines)).ok()) << Verify(Join(lines)).ToString();
}

TEST_F(ExportTest, RemovedLineIsNamed) {
  auto lines = Lines(ExportOk(Whole()));
  lines.erase(lines.begin() + 4);
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), 5u) << s.ToString();
}

TEST_F(ExportTest, ReorderedLinesAreNamed) {
  auto lines = Lines(ExportOk(Whole()));
  std::swap(lines[3], lines[7]);
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), 4u) << s.ToString();
}

TEST_F(ExportTest, ChangedAndRehashedEventIsCaughtAtTheRoot) {
  auto lines = Lines(ExportOk(Whole()));
  auto event = Parse(lines[9]);
  ASSERT_TRUE(event);
  event->Find("data")->Set("level", Json::String("debug"));
  event->Erase("hash");
  const Hash leaf = LeafHash(Canonical(*event));
  event->Set("hash", Json::String(ToHex(leaf)));
  lines[9] = Canonical(*event);
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), lines.size()) << s.ToString();
  EXPECT_NE(s.message().find("checkpoint's root"), std::string::npos);
}

TEST_F(ExportTest, TruncatedBundleIsDetected) {
  ExportRequest r = Whole();
  r.from_ms = recorded_.back();  // the last batch
  const std::string bundle = ExportOk(r);
  const auto lines = Lines(bundle);
  // At a line boundary before the trailer.
  const size_t cut = bundle.size() - lines.back().size() - 1;
  Status s = Verify(bundle.substr(0, cut));
  EXPECT_EQ(NamedLine(s), lines.size()) << s.ToString();
  EXPECT_NE(s.message().find("truncated"), std::string::npos);
  // At every byte of the last lines.
  for (size_t at = cut - lines[lines.size() - 2].size() - 1; at < bundle.size() - 1; ++at) {
    s = Verify(bundle.substr(0, at));
    ASSERT_FALSE(s.ok()) << "cut at " << at;
    EXPECT_GE(NamedLine(s), lines.size() - 3) << s.ToString();
  }
}

TEST_F(ExportTest, ContentAfterTheTrailerIsNamed) {
  const std::string bundle = ExportOk(Whole());
  Status s = Verify(bundle + "\n \n{}\n");
  EXPECT_EQ(NamedLine(s), Lines(bundle).size() + 3) << s.ToString();
  EXPECT_TRUE(Verify(bundle + " \n\n").ok());
}

TEST_F(ExportTest, ExtraLineBeforeTheTrailerIsNamed) {
  auto lines = Lines(ExportOk(Whole()));
  lines.insert(lines.end() - 1, lines[lines.size() - 2]);
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), lines.size() - 1) << s.ToString();
}

TEST_F(ExportTest, EventOfAnotherRunInARunExportIsNamed) {
  auto lines = Lines(ExportOk(Whole()));
  auto header = Parse(lines[0]);
  ASSERT_TRUE(header);
  header->Find("export")->Set("run_id", Json::String(FormatUuid(RunId(0))));
  lines[0] = Canonical(*header);
  Status s = Verify(Join(lines));
  EXPECT_EQ(NamedLine(s), 3u) << s.ToString();  // position 2 is run 1's
}

// ---- CSV

// Splits RFC 4180 text into rows of fields.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rows.back().back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        rows.back().back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      rows.emplace_back(1);
    } else {
      rows.back().back().push_back(c);
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

TEST_F(ExportTest, CsvHasOneQuotedRowPerMatchingEvent) {
  ExportRequest r = Whole();
  r.format = ExportFormat::kCsv;
  r.matches = [](const Event& e) -> Result<bool> { return e.run_id == RunId(4); };
  r.run_columns = [](const Event&) -> Result<RunColumns> {
    return RunColumns{"scan", "ds,\"b\"\r\nx"};
  };
  const std::string csv = ExportOk(r);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "position,seq,run_id,type,recorded_at,principal,operation,datastore,status,hash,data");
  const auto rows = ParseCsv(csv);
  const auto expected = static_cast<size_t>(std::count(runs_.begin(), runs_.end(), RunId(4)));
  ASSERT_EQ(rows.size(), expected + 1);
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 11u) << i;
    const std::uint64_t position = std::stoull(rows[i][0]);
    auto e = store_->ReadEvent(position);
    ASSERT_TRUE(e && e->has_value());
    const Event& event = **e;
    EXPECT_EQ(rows[i][1], std::to_string(event.seq));
    EXPECT_EQ(rows[i][2], FormatUuid(event.run_id));
    EXPECT_EQ(rows[i][3], event.type);
    EXPECT_EQ(rows[i][4], FormatTimestampMs(event.recorded_at_ms));
    EXPECT_EQ(rows[i][5], event.principal);
    EXPECT_EQ(rows[i][6], "scan");
    EXPECT_EQ(rows[i][7], "ds,\"b\"\r\nx");
    EXPECT_EQ(rows[i][8], event.type == "ended" ? "success" : "");
    EXPECT_EQ(rows[i][9], ToHex(event.hash));
    auto data = Parse(rows[i][10]);
    ASSERT_TRUE(data) << rows[i][10];
    EXPECT_EQ(*data, event.data);
  }
  // Quoting, exactly: a field with a comma, quotes or a line break is quoted, quotes doubled.
  EXPECT_NE(csv.find(",scan,\"ds,\"\"b\"\"\r\nx\","), std::string::npos);
  EXPECT_NE(csv.find("\"{\"\"level\"\":\"\"info\"\",\"\"message\"\":\"\"line\\nbreak\\r\\n\"\""),
            std::string::npos);
  EXPECT_NE(csv.find(",success," + ToHex((*store_->ReadEvent(store_->size() - 1))->hash)),
            std::string::npos);
}

}  // namespace
}  // namespace runledger::ledger
