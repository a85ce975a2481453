#pragma once

// Line splitting of an NDJSON request body (POST /v1/events, SPEC section 4),
// kept apart from the handler so it can be tested and fuzzed on its own.
//
//   body  := *( line "\n" ) [ line ]     ; the last line may lack its "\n"
//   line  := text [ "\r" ]               ; one trailing CR is dropped
//
// Lines are numbered from 1 in the body, blank ones counted; a line holding
// nothing but spaces and tabs is blank and skipped.

#include <cstddef>
#include <string_view>
#include <vector>

namespace runledger::server {

struct NdjsonLine {
  std::size_t number = 0;  // 1-based line number in the body
  std::string_view text;   // without "\n" and the trailing "\r"; points into the body
};

// The non-blank lines of `body`, in order. Pure; the views stay valid as
// long as `body`'s bytes do. Never fails: any bytes split somehow, and
// judging each line (JSON, size) is the caller's job.
std::vector<NdjsonLine> SplitNdjsonLines(std::string_view body);

}  // namespace runledger::server
