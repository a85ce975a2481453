#pragma once

#include <string>

#include "ledger/event_store.h"

namespace runledger::tools {

struct ServeOptions {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  std::string tokens_path;
  std::string signing_key;
  std::string stale_after;  // "" = off; seconds, or a number with s, m or h
  int io_threads = 1;
  int read_workers = 1;
  size_t cache_mb = ledger::StoreOptions{}.block_cache_bytes >> 20;
  // Both set: HTTPS on the listener; both empty: plain HTTP.
  std::string tls_cert;
  std::string tls_key;
};

// Runs the service until SIGTERM/SIGINT; SIGHUP reloads the tokens file.
int Serve(const ServeOptions& options);

// "90", "90s", "15m", "2h" -> seconds; -1 when malformed.
long long ParseDurationSeconds(const std::string& text);

}  // namespace runledger::tools
