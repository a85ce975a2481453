#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/sha256.h"
#include "ledger/status.h"

namespace runledger::ledger {

// A signed statement "the first `size` events hash to `root`" (SPEC section 6).
struct Checkpoint {
  std::uint64_t size = 0;
  Hash root{};
  std::string recorded_at;  // signing time, YYYY-MM-DDTHH:MM:SS.mmmZ
  std::string key_id;       // hex SHA-256 of the public key's DER
  std::string signature;    // standard base64 of the Ed25519 signature

  // The exact bytes that are signed.
  std::string SignedMessage() const;
  // `{"size","root","recorded_at","key_id","signature"}`
  std::string ToJson() const;
  static Result<Checkpoint> FromJson(std::string_view json);
  // Checks the signature and that key_id names `public_key_pem`.
  bool VerifyWith(std::string_view public_key_pem) const;
};

}  // namespace runledger::ledger
