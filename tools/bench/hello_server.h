#pragma once

// The HTTP ceiling: a trivial Beast server (one I/O thread, like
// `runledger serve`'s default) that reads each request whole and answers
// 200 {"hello":"world"} with keep-alive. Driven by the same client with the
// same requests, it shows how much of the loopback + Beast budget runledger
// uses on this machine.

#include <sys/types.h>

#include <cstdint>
#include <memory>

#include "ledger/status.h"

namespace runledger::tools::bench {

class HelloServer {
 public:
  // Listens on 127.0.0.1 on a free port and serves on its own thread.
  static Result<std::unique_ptr<HelloServer>> Start();
  ~HelloServer();  // stops and joins

  std::uint16_t port() const;
  // The serving thread's Linux thread id, for its CPU time.
  pid_t thread_id() const;

  class Impl;

 private:
  explicit HelloServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runledger::tools::bench
