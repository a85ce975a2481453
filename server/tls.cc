#include "server/tls.h"

#include <openssl/ssl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace runledger::server {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites (1.3 has its own, all AEAD): forward secrecy and AEAD only.
constexpr char kTls12Ciphers[] = "ECDHE+AESGCM:ECDHE+CHACHA20";

Status CheckReadable(const char* what, const std::string& path) {
  if (std::ifstream(path).good()) return Status::Ok();
  return Status::IOError(std::string("cannot read ") + what + " " + path + ": " +
                         std::strerror(errno));
}

// A key others can read is no longer a secret; one they can write can be
// swapped for theirs.
Status CheckKeyIsPrivate(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IOError("cannot read TLS key file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::BadRequest("TLS key file " + path +
                              " is accessible by group or others; chmod 600 it");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> LoadTlsContext(const std::string& cert_file,
                                                     const std::string& key_file) {
  if (Status s = CheckReadable("TLS certificate file", cert_file); !s.ok()) return s;
  if (Status s = CheckKeyIsPrivate(key_file); !s.ok()) return s;
  if (Status s = CheckReadable("TLS key file", key_file); !s.ok()) return s;

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Status::Internal("OpenSSL refused the TLS protocol settings");
  }
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle keep-alive connections give their record buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // Without a callback OpenSSL would prompt on the terminal for the
  // passphrase of an encrypted key; an empty one makes it fail instead.
  context->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });

  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return Status::BadRequest("TLS certificate file " + cert_file +
                              " holds no usable PEM certificate: " + ec.message());
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::BadRequest(
        "TLS key file " + key_file +
        " holds no unencrypted PEM private key matching the certificate: " + ec.message());
  }
  return context;
}

}  // namespace runledger::server
