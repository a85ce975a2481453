#include "ledger/sha256.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace runledger::ledger {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// OpenSSL only fails here on allocation failure or a broken provider; the
// ledger cannot hash without it, so this is fatal rather than a Status.
[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "runledger: OpenSSL SHA-256 failure in %s\n", what);
  std::abort();
}

// Fetched once: an explicit fetch avoids OpenSSL 3's implicit per-init
// algorithm lookup. Never freed; it lives as long as the process.
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) DieOpenSsl("EVP_MD_fetch");
    return fetched;
  }();
  return md;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendHexBytes(const std::uint8_t* data, std::size_t size, std::string* out) {
  const std::size_t old_size = out->size();
  out->resize(old_size + 2 * size);
  char* dst = out->data() + old_size;
  for (std::size_t i = 0; i < size; ++i) {
    dst[2 * i] = kHexDigits[data[i] >> 4];
    dst[2 * i + 1] = kHexDigits[data[i] & 0x0f];
  }
}

}  // namespace

struct Sha256Builder::Ctx {
  Ctx() : md_ctx(EVP_MD_CTX_new()) {
    if (md_ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
    Reset();
  }
  ~Ctx() { EVP_MD_CTX_free(md_ctx); }
  Ctx(const Ctx&) = delete;
  Ctx& operator=(const Ctx&) = delete;

  void Reset() {
    if (EVP_DigestInit_ex2(md_ctx, Sha256Md(), nullptr) != 1) DieOpenSsl("EVP_DigestInit_ex2");
  }

  EVP_MD_CTX* md_ctx;
};

Sha256Builder::Sha256Builder() : ctx_(std::make_unique<Ctx>()) {}
Sha256Builder::~Sha256Builder() = default;
Sha256Builder::Sha256Builder(Sha256Builder&&) noexcept = default;
Sha256Builder& Sha256Builder::operator=(Sha256Builder&&) noexcept = default;

void Sha256Builder::Update(std::string_view bytes) {
  if (bytes.empty()) return;
  if (EVP_DigestUpdate(ctx_->md_ctx, bytes.data(), bytes.size()) != 1) {
    DieOpenSsl("EVP_DigestUpdate");
  }
}

Hash Sha256Builder::Finish() {
  Hash out;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_->md_ctx, out.data(), &length) != 1 || length != out.size()) {
    DieOpenSsl("EVP_DigestFinal_ex");
  }
  ctx_->Reset();
  return out;
}

Hash Sha256(std::string_view bytes) {
  // One context per thread, reused: hashing is on the append path.
  thread_local Sha256Builder builder;
  builder.Update(bytes);
  return builder.Finish();
}

std::string ToHex(const Hash& h) {
  std::string out;
  AppendHex(h, &out);
  return out;
}

void AppendHex(const Hash& h, std::string* out) { AppendHexBytes(h.data(), h.size(), out); }

std::optional<Hash> HashFromHex(std::string_view hex) {
  Hash out;
  if (hex.size() != 2 * out.size()) return std::nullopt;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string HexOf(std::string_view bytes) {
  std::string out;
  AppendHexBytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), &out);
  return out;
}

}  // namespace runledger::ledger
