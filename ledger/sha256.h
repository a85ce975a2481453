#pragma once

// SHA-256 (FIPS 180-4) over OpenSSL's EVP interface, and the hex text the
// ledger uses for hashes (checkpoint roots, leaf hashes, key ids).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace runledger::ledger {

using Hash = std::array<std::uint8_t, 32>;

// SHA-256 of `bytes`. Thread-safe.
Hash Sha256(std::string_view bytes);

// Incremental SHA-256 of the concatenation of every Update since
// construction or the last Finish. Finish returns the digest and resets the
// builder, so one builder can hash many messages. Not thread-safe: use one
// builder per thread. Move-only.
class Sha256Builder {
 public:
  Sha256Builder();
  ~Sha256Builder();
  Sha256Builder(Sha256Builder&&) noexcept;
  Sha256Builder& operator=(Sha256Builder&&) noexcept;
  Sha256Builder(const Sha256Builder&) = delete;
  Sha256Builder& operator=(const Sha256Builder&) = delete;

  void Update(std::string_view bytes);
  void Update(const Hash& hash) { Update(AsBytes(hash)); }
  Hash Finish();

  static std::string_view AsBytes(const Hash& hash) {
    return {reinterpret_cast<const char*>(hash.data()), hash.size()};
  }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// 64 lowercase hex characters.
std::string ToHex(const Hash& h);
// Appends the 64 lowercase hex characters of `h` to `*out`.
void AppendHex(const Hash& h, std::string* out);
// Parses exactly 64 hex characters (either case); nullopt otherwise.
std::optional<Hash> HashFromHex(std::string_view hex);
// Lowercase hex of arbitrary bytes (two characters per byte).
std::string HexOf(std::string_view bytes);

}  // namespace runledger::ledger
