// The offline export verifier on arbitrary bytes: VerifyExport must never
// crash, hang or read past its input, with and without a trusted checkpoint.
// Seeds are real bundles signed by fuzz/data/export_key.pem (written by
// fuzz_export_seed). Properties: a failure is Corruption naming a line
// ("line N: ..."); a success reports a consistent range.

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "fuzz/fuzz_check.h"
#include "ledger/checkpoint.h"
#include "ledger/export.h"

namespace {

using namespace runledger;

std::string key_pem;
std::optional<ledger::Checkpoint> trusted;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void Verify(std::string_view bundle, const std::optional<ledger::Checkpoint>& trust) {
  std::istringstream in{std::string(bundle)};
  ledger::VerifyExportReport report;
  const Status status = ledger::VerifyExport(in, key_pem, trust, &report);
  if (status.ok()) {
    FUZZ_CHECK(report.first >= 1 && report.first <= report.last);
    FUZZ_CHECK(report.events + report.leaf_hashes == report.last - report.first + 1);
    FUZZ_CHECK(report.checkpoint.size >= report.last);
    FUZZ_CHECK(!trust || report.extends_trusted);
    return;
  }
  FUZZ_CHECK(status.code() == Code::kCorruption);
  FUZZ_CHECK(status.message().starts_with("line "));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  key_pem = ReadFile(RUNLEDGER_FUZZ_DIR "/data/export_key.pem");
  auto checkpoint = ledger::Checkpoint::FromJson(ReadFile(RUNLEDGER_FUZZ_DIR "/data/export_trusted.json"));
  FUZZ_CHECK(!key_pem.empty() && checkpoint.has_value());
  trusted = *checkpoint;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bundle = fuzz::AsText(data, size);
  Verify(bundle, std::nullopt);
  Verify(bundle, trusted);
  return 0;
}
