#include "ledger/signing.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ledger/sha256.h"

namespace runledger::ledger {
namespace {

constexpr std::size_t kSignatureBytes = 64;
constexpr std::size_t kKeyFileBytesMax = 64 * 1024;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "runledger: OpenSSL failure in %s\n", what);
  std::abort();
}

std::string ErrnoText(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// A read-only memory BIO over `text` (which must outlive it).
BioPtr ReadBio(std::string_view text) {
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return nullptr;
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string DrainBio(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}

PkeyPtr ParsePublicPem(std::string_view pem) {
  BioPtr bio = ReadBio(pem);
  if (bio == nullptr) return nullptr;
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();  // parse failures leave entries on this thread's queue
  if (key != nullptr && EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) key.reset();
  return key;
}

std::string KeyIdOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) DieOpenSsl("i2d_PUBKEY");
  std::string id =
      ToHex(Sha256({reinterpret_cast<const char*>(der), static_cast<std::size_t>(length)}));
  OPENSSL_free(der);
  return id;
}

Status ReadWholeFile(int fd, const std::string& path, std::string* out) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(ErrnoText("read", path));
    if (n == 0) return Status::Ok();
    out->append(buffer, static_cast<std::size_t>(n));
    if (out->size() > kKeyFileBytesMax)
      return Status::Corruption("signing key file is too large: " + path);
  }
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(ErrnoText("write", path));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

std::string ParentDir(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(ErrnoText("open", dir));
  const int rc = fsync(fd);
  const int saved_errno = errno;
  close(fd);
  errno = saved_errno;
  return rc == 0 ? Status::Ok() : Status::IOError(ErrnoText("fsync", dir));
}

// Moves `temp` to `path` unless `path` exists (then *moved stays false and
// the result is Ok). *linked tells that `temp` is still there afterwards.
Status MoveNoReplace(const std::string& temp, const std::string& path, bool* moved, bool* linked) {
  if (renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) {
    *moved = true;
    return Status::Ok();
  }
  if (errno == EINVAL || errno == ENOSYS) {
    // The file system cannot rename without replacing; link() never replaces.
    if (link(temp.c_str(), path.c_str()) == 0) {
      *moved = *linked = true;
      return Status::Ok();
    }
  }
  if (errno == EEXIST) return Status::Ok();
  return Status::IOError(ErrnoText("rename " + temp + " to", path));
}

// Writes `contents` to a fresh 0600 file beside `path`, fsyncs it and moves
// it to `path` unless something is already there. *won is false when
// another writer got there first.
Status PublishNewFile(const std::string& path, std::string_view contents, bool* won) {
  *won = false;
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return Status::IOError(ErrnoText("create", temp));
  Status status = WriteAll(fd, contents, temp);
  if (status.ok() && fsync(fd) != 0) status = Status::IOError(ErrnoText("fsync", temp));
  if (close(fd) != 0 && status.ok()) status = Status::IOError(ErrnoText("close", temp));
  bool linked = false;
  if (status.ok()) status = MoveNoReplace(temp, path, won, &linked);
  // Only a renamed temp file is gone; never unlink a name we no longer own.
  if (!*won || linked) unlink(temp.c_str());
  if (!status.ok() || !*won) return status;
  return SyncDir(ParentDir(path));
}

}  // namespace

void Signer::KeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

Signer::Signer(KeyPtr key) : key_(std::move(key)) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    DieOpenSsl("PEM_write_bio_PUBKEY");
  }
  public_key_pem_ = DrainBio(bio.get());
  key_id_ = KeyIdOf(key_.get());
}

Signer Signer::Generate() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (key == nullptr) DieOpenSsl("EVP_PKEY_Q_keygen");
  return Signer(std::move(key));
}

Result<Signer> Signer::FromPem(std::string_view private_pem) {
  BioPtr bio = ReadBio(private_pem);
  if (bio == nullptr) return Status::Corruption("signing key: PEM too large");
  // A null password callback with empty user data refuses encrypted keys
  // instead of prompting on the terminal.
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  ERR_clear_error();
  if (key == nullptr) return Status::Corruption("signing key: not an unencrypted private key PEM");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return Status::Corruption("signing key: not an Ed25519 key");
  }
  return Signer(std::move(key));
}

std::string Signer::PrivateKeyPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY").
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    DieOpenSsl("PEM_write_bio_PrivateKey");
  }
  return DrainBio(bio.get());
}

Result<Signer> Signer::LoadOrCreate(const std::string& pem_path, bool* created) {
  if (created != nullptr) *created = false;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = open(pem_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string pem;
      Status status = ReadWholeFile(fd, pem_path, &pem);
      close(fd);
      if (!status.ok()) return status;
      Result<Signer> signer = FromPem(pem);
      if (!signer) return Status::Corruption(signer.error().message() + " (" + pem_path + ")");
      return signer;
    }
    if (errno != ENOENT) return Status::IOError(ErrnoText("open", pem_path));
    Signer signer = Generate();
    bool won = false;
    RUNLEDGER_RETURN_IF_ERROR(PublishNewFile(pem_path, signer.PrivateKeyPem(), &won));
    if (won) {
      if (created != nullptr) *created = true;
      return signer;
    }
    // Another process created the key first: load theirs.
  }
  return Status::IOError("signing key " + pem_path + " keeps appearing and vanishing");
}

std::string Signer::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(kSignatureBytes, '\0');
  std::size_t length = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      length != kSignatureBytes) {
    DieOpenSsl("EVP_DigestSign");
  }
  return signature;
}

bool VerifySignature(std::string_view public_key_pem, std::string_view message,
                     std::string_view signature_raw) {
  if (signature_raw.size() != kSignatureBytes) return false;
  PkeyPtr key = ParsePublicPem(public_key_pem);
  if (key == nullptr) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature_raw.data()),
                       signature_raw.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  return ok;
}

std::optional<std::string> KeyIdOfPublicPem(std::string_view public_key_pem) {
  PkeyPtr key = ParsePublicPem(public_key_pem);
  if (key == nullptr) return std::nullopt;
  return KeyIdOf(key.get());
}

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t group =
        static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16 |
        static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8 |
        static_cast<std::uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(kBase64Alphabet[(group >> shift) & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t group = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16;
    if (rest == 2)
      group |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8;
    out.push_back(kBase64Alphabet[(group >> 18) & 63]);
    out.push_back(kBase64Alphabet[(group >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(group >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t data_chars = last ? 4 - padding : 4;
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const int value = j < data_chars ? Base64Value(text[i + j]) : 0;
      if (value < 0) return std::nullopt;  // includes a '=' before the end
      group = group << 6 | static_cast<std::uint32_t>(value);
    }
    // Strict: the bits a padded group does not use must be zero.
    if ((padding == 2 && last && (group & 0xffff) != 0) ||
        (padding == 1 && last && (group & 0xff) != 0)) {
      return std::nullopt;
    }
    const std::size_t out_bytes = data_chars - 1;
    for (std::size_t j = 0; j < out_bytes; ++j) {
      out.push_back(static_cast<char>((group >> (16 - 8 * j)) & 0xff));
    }
  }
  return out;
}

}  // namespace runledger::ledger
