#pragma once

// TLS material made at test time, so no key is ever checked in: a
// self-signed certificate for 127.0.0.1 (EC P-256, valid from an hour ago
// for a day) and contexts to serve and to verify it.

#include <string>

#include <boost/asio/ssl/context.hpp>

namespace runledger::testing {

struct TestCertificate {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8, unencrypted

  // Writes the certificate to `cert_path` and the key to `key_path` (mode
  // 0600, as `runledger serve` requires). A failure fails the test.
  void WriteFiles(const std::string& cert_path, const std::string& key_path) const;
};

// A new key and certificate; a failure fails the test and yields empty PEMs.
TestCertificate MakeTestCertificate();

// A client context that trusts `certificate` alone and refuses a server
// that does not present it (HttpClient and SseReader also check that it
// names 127.0.0.1).
boost::asio::ssl::context ClientTlsContext(const TestCertificate& certificate);

}  // namespace runledger::testing
