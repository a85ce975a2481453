// Canonical JSON round trip (RFC 8785): for every text ParseJson accepts,
// parse -> Canonical -> parse -> Canonical gives the same bytes twice, both
// DOMs are equal, and JsonWriter::Value writes the same bytes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz/fuzz_check.h"
#include "ledger/canonical_json.h"
#include "ledger/json.h"
#include "ledger/json_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace runledger::ledger;
  const std::string_view text = runledger::fuzz::AsText(data, size);
  for (bool large : {false, true}) {
    JsonParseOptions options;
    options.allow_large_integer_literals = large;
    auto first = ParseJson(text, options);
    if (!first) continue;
    const std::string canonical = Canonical(*first);
    // Canonical form writes integral doubles below 1e21 in full, so reading
    // it back needs large literals allowed (as DecodeEvent does).
    JsonParseOptions reread;
    reread.allow_large_integer_literals = true;
    auto second = ParseJson(canonical, reread);
    if (!second) std::fprintf(stderr, "canonical form not parsed: %s\n", canonical.c_str());
    FUZZ_CHECK(second.has_value());
    FUZZ_CHECK(*first == *second);
    const std::string again = Canonical(*second);
    FUZZ_CHECK(again == canonical);
    std::string written;
    JsonWriter(&written).Value(*first);
    FUZZ_CHECK(written == canonical);
  }
  return 0;
}
