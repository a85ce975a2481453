// The `runledger` command line: thin wrappers over the libraries.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ledger/event_store.h"
#include "projections/run_ledger.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "tools/bench_cmd.h"
#include "tools/compliance.h"
#include "tools/serve.h"

namespace runledger::tools {
namespace {

int Fail(const Status& status) {
  std::cerr << "runledger: " << status.message() << "\n";
  return status.reason() == "data_dir_in_use" ? 3 : 1;
}

int Rebuild(const std::string& data_dir) {
  ledger::StoreOptions options;
  options.data_dir = data_dir;
  options.start_committer = false;
  auto ledger = projections::RunLedger::Open(options);
  if (!ledger) return Fail(ledger.error());
  const auto started = std::chrono::steady_clock::now();
  if (Status s = (*ledger)->store().RebuildProjections(); !s.ok()) return Fail(s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto events = (*ledger)->store().size();
  std::printf("rebuilt projections from %llu events in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long long>(events), seconds, seconds > 0 ? events / seconds : 0.0);
  return 0;
}

int Verify(const std::string& data_dir, const std::string& trusted_path) {
  std::optional<ledger::Checkpoint> trusted;
  if (!trusted_path.empty()) {
    std::ifstream in(trusted_path);
    std::stringstream text;
    text << in.rdbuf();
    auto cp = ledger::Checkpoint::FromJson(text.str());
    if (!in || !cp) {
      std::cerr << "runledger: cannot read a checkpoint from " << trusted_path << "\n";
      return 2;
    }
    trusted = std::move(*cp);
  }
  ledger::StoreOptions options;
  options.data_dir = data_dir;
  options.start_committer = false;
  options.compactions = false;
  auto store = ledger::EventStore::Open(options, nullptr);
  if (!store) return Fail(store.error());
  ledger::VerifyReport report;
  const auto started = std::chrono::steady_clock::now();
  if (Status s = ledger::VerifyStore(**store, trusted, &report); !s.ok()) {
    std::cerr << "runledger verify: FAILED: " << s.message() << "\n";
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("ok: %llu events, every leaf recomputed; root %s; latest checkpoint covers %llu%s (%.0f events/s)\n",
              static_cast<unsigned long long>(report.events), ledger::ToHex(report.root).c_str(),
              static_cast<unsigned long long>(report.checkpoint_size),
              trusted ? "; the store extends the trusted checkpoint" : "",
              seconds > 0 ? report.events / seconds : 0.0);
  return 0;
}

int TokenAdd(const std::string& path, const std::string& name, const std::string& role_name,
             const std::vector<std::string>& grants) {
  const auto role = server::ParseRole(role_name);
  if (!role) {
    std::cerr << "runledger: role must be admin, auditor, worker or member\n";
    return 2;
  }
  std::map<std::string, server::Grant> datastores;
  for (const auto& grant : grants) {
    const size_t eq = grant.rfind('=');
    const std::string level = eq == std::string::npos ? "" : grant.substr(eq + 1);
    if (eq == std::string::npos || (level != "viewer" && level != "editor")) {
      std::cerr << "runledger: --datastore takes ID=viewer or ID=editor\n";
      return 2;
    }
    datastores[grant.substr(0, eq)] = level == "editor" ? server::Grant::kEditor : server::Grant::kViewer;
  }
  auto token = server::TokenFile::AddToken(path, name, *role, datastores);
  if (!token) return Fail(token.error());
  std::cout << *token << "\n";
  std::cerr << "token for " << name << " written to " << path << " (as its SHA-256); it is shown only now\n";
  return 0;
}

}  // namespace
}  // namespace runledger::tools

int main(int argc, char** argv) {
  using namespace runledger::tools;
  CLI::App app{"runledger: the audit ledger for data-quality operation runs"};
  app.require_subcommand(1);

  ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP service");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory")->capture_default_str();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on")->capture_default_str();
  serve_cmd->add_option("--tokens", serve.tokens_path, "Tokens file (without it: local admin, loopback only)");
  serve_cmd->add_option("--signing-key", serve.signing_key, "Ed25519 checkpoint key (PEM; created if missing)");
  serve_cmd->add_option("--stale-after", serve.stale_after,
                        "Abort runs with no event for this long (e.g. 30m); default off");
  serve_cmd->add_option("--io-threads", serve.io_threads, "I/O threads")->capture_default_str();
  serve_cmd->add_option("--read-workers", serve.read_workers,
                        "Threads for long reads (history, time travel, counts, the event query, "
                        "proofs), beside the I/O threads (0: every read runs on them)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  serve_cmd->add_option("--cache-mb", serve.cache_mb, "RocksDB block cache (MiB)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{8}, size_t{1} << 20));
  serve_cmd->add_option("--tls-cert", serve.tls_cert,
                        "Serve HTTPS with this certificate chain (PEM; needs --tls-key)");
  serve_cmd->add_option("--tls-key", serve.tls_key,
                        "Private key of --tls-cert (PEM, unencrypted, mode 600)");

  std::string data_dir = "./data";
  auto* rebuild_cmd = app.add_subcommand("rebuild", "Drop every projection and replay all events");
  rebuild_cmd->add_option("--data", data_dir, "Data directory")->capture_default_str();

  std::string trusted;
  auto* verify_cmd = app.add_subcommand("verify", "Recompute every leaf and the root, check checkpoints");
  verify_cmd->add_option("--data", data_dir, "Data directory")->capture_default_str();
  verify_cmd->add_option("--trusted-checkpoint", trusted, "A checkpoint (JSON) the auditor kept");

  ExportOptions export_options;
  std::uint64_t since_size = 0;
  auto* export_cmd =
      app.add_subcommand("export", "Write a compliance export (SPEC section 6), offline");
  export_cmd->add_option("--data", export_options.data_dir, "Data directory")
      ->capture_default_str();
  export_cmd->add_option("--signing-key", export_options.signing_key,
                         "Checkpoint key, if not <data>/signing-key.pem");
  export_cmd->add_option("--from", export_options.from, "First recorded_at (RFC 3339, inclusive)")
      ->required();
  export_cmd->add_option("--to", export_options.to, "End of the range (RFC 3339, exclusive)")
      ->required();
  export_cmd->add_option("--datastore", export_options.datastore,
                         "Only this datastore's events in full");
  export_cmd->add_option("--run-id", export_options.run_id, "Only this run's events in full");
  auto* since_opt =
      export_cmd->add_option("--since-size", since_size, "Add a consistency proof from this size");
  export_cmd->add_option("--format", export_options.format, "ndjson or csv")->capture_default_str();
  export_cmd->add_option("--out", export_options.out, "Output file (default: standard output)");

  std::string bundle_path, key_path;
  auto* verify_export_cmd = app.add_subcommand("verify-export", "Check an export bundle offline");
  verify_export_cmd->add_option("file", bundle_path, "The NDJSON bundle")->required();
  verify_export_cmd->add_option("--key", key_path, "The checkpoint public key (PEM)")->required();
  verify_export_cmd->add_option("--trusted-checkpoint", trusted,
                                "A checkpoint (JSON) the auditor kept");

  auto* token_cmd = app.add_subcommand("token", "Manage API tokens");
  token_cmd->require_subcommand(1);
  std::string tokens_path, name, role;
  std::vector<std::string> grants;
  auto* token_add = token_cmd->add_subcommand("add", "Create a token, print it once, store its hash");
  token_add->add_option("--tokens", tokens_path, "Tokens file")->required();
  token_add->add_option("--name", name, "Token name (the events' principal)")->required();
  token_add->add_option("--role", role, "admin, auditor, worker or member")->required();
  token_add->add_option("--datastore", grants, "ID=viewer or ID=editor (members)");

  BenchOptions bench;
  auto* bench_cmd = AddBenchCommand(app, &bench);

  CLI11_PARSE(app, argc, argv);
  if (*serve_cmd) return Serve(serve);
  if (*rebuild_cmd) return Rebuild(data_dir);
  if (*verify_cmd) return Verify(data_dir, trusted);
  if (*export_cmd) {
    if (since_opt->count() > 0) export_options.since_size = since_size;
    return Export(export_options);
  }
  if (*verify_export_cmd) return VerifyExportFile(bundle_path, key_path, trusted);
  if (*token_add) return TokenAdd(tokens_path, name, role, grants);
  if (*bench_cmd) return Bench(bench);
  return 2;
}
