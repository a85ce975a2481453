#pragma once

// Ed25519 checkpoint signing (OpenSSL EVP), key ids and base64 (SPEC 6).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/status.h"

typedef struct evp_pkey_st EVP_PKEY;  // OpenSSL's, so callers need not include it

namespace runledger::ledger {

// An Ed25519 private key, with its public half precomputed. Sign is
// thread-safe after construction. Move-only; a moved-from Signer may only be
// destroyed or assigned to.
class Signer {
 public:
  // Loads the PKCS#8 PEM private key at `pem_path`, or, when no file is
  // there, creates a new key and writes it with mode 0600 (temp file in the
  // same directory, fsync, rename without replacing, fsync of the directory;
  // if another process created the file meanwhile, its key is loaded).
  // `*created` (if given) tells which happened. IOError when the file system
  // fails, Corruption when the file is not an Ed25519 private key PEM.
  static Result<Signer> LoadOrCreate(const std::string& pem_path, bool* created = nullptr);
  // Corruption unless `private_pem` holds an unencrypted Ed25519 private key.
  static Result<Signer> FromPem(std::string_view private_pem);
  // A fresh random key (for tests and tools).
  static Signer Generate();

  Signer(Signer&&) noexcept = default;
  Signer& operator=(Signer&&) noexcept = default;

  // The raw 64-byte Ed25519 signature of `message`.
  std::string Sign(std::string_view message) const;
  // PKCS#8 PEM of the private key, as LoadOrCreate writes it.
  std::string PrivateKeyPem() const;
  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
  const std::string& PublicKeyPem() const { return public_key_pem_; }
  // Lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo.
  const std::string& KeyId() const { return key_id_; }

 private:
  struct KeyDeleter {
    void operator()(EVP_PKEY* key) const;
  };
  using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

  explicit Signer(KeyPtr key);

  KeyPtr key_;
  std::string public_key_pem_;
  std::string key_id_;
};

// true iff `signature_raw` is a valid Ed25519 signature of `message` under
// the Ed25519 SubjectPublicKeyInfo PEM key `public_key_pem`. Thread-safe.
bool VerifySignature(std::string_view public_key_pem, std::string_view message,
                     std::string_view signature_raw);
// The key id (see Signer::KeyId) of an Ed25519 public key PEM; nullopt when
// the text is not one.
std::optional<std::string> KeyIdOfPublicPem(std::string_view public_key_pem);

// RFC 4648 section 4: standard alphabet, '=' padded.
std::string Base64Encode(std::string_view bytes);
// Strict inverse of Base64Encode: no whitespace, padding required, unused
// bits zero. nullopt otherwise.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace runledger::ledger
