#include "tests/testing/test_certificate.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>

namespace runledger::testing {
namespace {

constexpr long kValidBeforeNowSeconds = 3600;  // clocks may disagree a little
constexpr long kValidAfterNowSeconds = 24 * 3600;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Certificate = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string Drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Subject = issuer "CN=runledger test", subjectAltName IP:127.0.0.1 (what
// hostname verification of 127.0.0.1 looks at), signed by its own key.
bool Fill(X509* cert, EVP_PKEY* key) {
  X509_NAME* name = X509_get_subject_name(cert);
  const auto* common_name = reinterpret_cast<const unsigned char*>("runledger test");
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  Extension alt_name(X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, "IP:127.0.0.1"));
  return X509_set_version(cert, 2) == 1 &&  // v3
         ASN1_INTEGER_set(X509_get_serialNumber(cert), 1) == 1 &&
         X509_gmtime_adj(X509_getm_notBefore(cert), -kValidBeforeNowSeconds) != nullptr &&
         X509_gmtime_adj(X509_getm_notAfter(cert), kValidAfterNowSeconds) != nullptr &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, common_name, -1, -1, 0) == 1 &&
         X509_set_issuer_name(cert, name) == 1 && X509_set_pubkey(cert, key) == 1 &&
         alt_name != nullptr && X509_add_ext(cert, alt_name.get(), -1) == 1 &&
         X509_sign(cert, key, EVP_sha256()) > 0;
}

}  // namespace

TestCertificate MakeTestCertificate() {
  Key key(EVP_EC_gen("P-256"));
  Certificate cert(X509_new());
  Bio cert_pem(BIO_new(BIO_s_mem()));
  Bio key_pem(BIO_new(BIO_s_mem()));
  if (!key || !cert || !cert_pem || !key_pem || !Fill(cert.get(), key.get()) ||
      PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    ADD_FAILURE() << "OpenSSL could not make a test certificate";
    return {};
  }
  return {Drain(cert_pem.get()), Drain(key_pem.get())};
}

void TestCertificate::WriteFiles(const std::string& cert_path, const std::string& key_path) const {
  std::ofstream(cert_path) << certificate_pem;
  std::ofstream key(key_path);
  ::chmod(key_path.c_str(), 0600);  // before the secret is written
  key << private_key_pem;
  key.close();
  if (!key) ADD_FAILURE() << "cannot write " << key_path;
}

boost::asio::ssl::context ClientTlsContext(const TestCertificate& certificate) {
  boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
  boost::system::error_code ec;
  context.add_certificate_authority(boost::asio::buffer(certificate.certificate_pem), ec);
  if (ec) ADD_FAILURE() << "the client refused the test certificate: " << ec.message();
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  return context;
}

}  // namespace runledger::testing
