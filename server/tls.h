#pragma once

// TLS for the HTTP transport: the server context that `runledger serve
// --tls-cert FILE --tls-key FILE` gives HttpServer (ServerOptions::tls).
//
// Protocols: TLS 1.2 and 1.3 only; OpenSSL picks 1.3 whenever the client
// offers it. TLS 1.2 is limited to ECDHE key exchange with AEAD ciphers
// (forward secrecy, no CBC); compression and renegotiation are off.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "ledger/status.h"

namespace runledger::server {

// Loads `cert_file` (PEM: the certificate, then any intermediates) and
// `key_file` (PEM, unencrypted) into a new server context. The key file is
// checked before it is read: refused if group or others may read or write
// it, as SSH refuses such keys. Errors: kIOError for a file that cannot be
// read; kBadRequest for an accessible key, contents that are not PEM, an
// encrypted key, or a key that does not match the certificate. Each message
// names the file.
Result<std::shared_ptr<boost::asio::ssl::context>> LoadTlsContext(const std::string& cert_file,
                                                                  const std::string& key_file);

}  // namespace runledger::server
