// Prints the canonical form and leaf hash of each JSON text in a file, for
// tests/ledger/jcs_vectors.py to compare with its own implementation.
//
// Usage: jcs_vectors INPUTS.jsonl
// For each non-blank line: "<canonical JSON>\t<hex sha256(0x00 || canonical)>",
// or "error\t<status>" when the line does not parse. Exits 2 on a usage or
// I/O error, else 0 (mismatches are for the script to judge).

#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "ledger/canonical_json.h"
#include "ledger/json.h"

namespace {

// Hex SHA-256 of the byte 0x00 followed by `canonical`: an event's leaf hash.
std::string LeafHashHex(const std::string& canonical) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  const unsigned char leaf_prefix = 0x00;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (context == nullptr || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), &leaf_prefix, 1) != 1 ||
      EVP_DigestUpdate(context.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest, &digest_size) != 1) {
    return "sha256-failed";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < digest_size; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: jcs_vectors INPUTS.jsonl\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << argv[1] << "\n";
    return 2;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    runledger::Result<runledger::ledger::Json> json = runledger::ledger::ParseJson(line);
    if (!json) {
      std::cout << "error\t" << json.error().ToString() << "\n";
      continue;
    }
    const std::string canonical = runledger::ledger::Canonical(*json);
    std::cout << canonical << "\t" << LeafHashHex(canonical) << "\n";
  }
  return in.bad() ? 2 : 0;
}
