// NDJSON bulk line splitting (server/ndjson.h) and what POST /v1/events does
// with each line. Properties: the lines equal those of a naive reference
// splitter (numbers, text, blank lines skipped), every view lies inside the
// body and holds no "\n", and each line parses and validates as a bulk
// event (errors 400 / 422 only; an accepted line has a run_id ParseUuid reads).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "ledger/json.h"
#include "ledger/uuid.h"
#include "projections/validation.h"
#include "server/ndjson.h"

namespace {

struct RefLine {
  std::size_t number;
  std::string text;
};

// Character by character, as the SPEC words it.
std::vector<RefLine> ReferenceSplit(std::string_view body) {
  std::vector<RefLine> lines;
  std::string current;
  std::size_t number = 1;
  auto flush = [&] {
    if (!current.empty() && current.back() == '\r') current.pop_back();
    bool blank = true;
    for (char c : current) blank = blank && (c == ' ' || c == '\t');
    if (!blank) lines.push_back({number, current});
    current.clear();
  };
  for (char c : body) {
    if (c == '\n') {
      flush();
      ++number;
    } else {
      current.push_back(c);
    }
  }
  flush();  // a last line without "\n" (nothing if the body ends in "\n")
  return lines;
}

constexpr std::size_t kBulkLineLimitBytes = 1 << 20;  // ApiOptions::bulk_line_limit_bytes

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using runledger::Code;
  const std::string_view body = runledger::fuzz::AsText(data, size);
  const auto lines = runledger::server::SplitNdjsonLines(body);
  const auto reference = ReferenceSplit(body);
  FUZZ_CHECK(lines.size() == reference.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    FUZZ_CHECK(line.number == reference[i].number);
    FUZZ_CHECK(line.text == reference[i].text);
    FUZZ_CHECK(line.text.data() >= body.data());
    FUZZ_CHECK(line.text.data() + line.text.size() <= body.data() + body.size());
    FUZZ_CHECK(line.text.find('\n') == std::string_view::npos);
    if (line.text.size() > kBulkLineLimitBytes) continue;
    auto event = runledger::ledger::ParseJson(line.text);
    if (!event) {
      FUZZ_CHECK(event.error().code() == Code::kBadRequest || event.error().code() == Code::kUnprocessable);
      continue;
    }
    const auto valid = runledger::projections::ValidateEventEnvelope(*event, true);
    if (!valid.ok()) {
      FUZZ_CHECK(valid.code() == Code::kUnprocessable);
      continue;
    }
    // BulkIngest dereferences these without checking again.
    FUZZ_CHECK(runledger::ledger::ParseUuid(event->Find("run_id")->string()).has_value());
    FUZZ_CHECK(event->Find("type")->is_string() && event->Find("data") != nullptr);
  }
  return 0;
}
