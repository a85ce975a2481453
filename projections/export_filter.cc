#include "projections/export_filter.h"

#include <memory>
#include <unordered_map>
#include <utility>

namespace runledger::projections {
namespace {

// Runs whose facts one export remembers at once.
constexpr size_t kRunCacheMax = 4096;

// A run's operation and datastore id, from its projection's summary.
class RunFacts {
 public:
  explicit RunFacts(const RunQueries& queries) : queries_(queries) {}

  Result<ledger::RunColumns> Of(const ledger::Event& e) {
    if (auto it = cache_.find(e.run_id); it != cache_.end()) return it->second;
    auto run = queries_.GetRunSummary(e.run_id);
    if (!run) return run.error();
    if (!run->has_value()) {
      return Status::Corruption("run " + ledger::FormatUuid(e.run_id) +
                                " has events but no projection (run `runledger rebuild`)");
    }
    if (cache_.size() >= kRunCacheMax) cache_.clear();
    ledger::RunColumns columns{(*run)->operation, (*run)->datastore_id};
    cache_.emplace(e.run_id, columns);
    return columns;
  }

 private:
  const RunQueries& queries_;
  std::unordered_map<Uuid, ledger::RunColumns, ledger::UuidHash> cache_;
};

}  // namespace

void ApplyExportFilter(const RunQueries& queries, const ExportFilter& filter,
                       ledger::ExportRequest* request) {
  request->datastore = filter.datastore;
  request->run_id.reset();
  if (filter.run_id) request->run_id = ledger::FormatUuid(*filter.run_id);
  auto facts = std::make_shared<RunFacts>(queries);
  if (filter.datastore || filter.run_id) {
    request->matches = [facts, filter](const ledger::Event& e) -> Result<bool> {
      if (filter.run_id && e.run_id != *filter.run_id) return false;
      if (!filter.datastore) return true;
      auto columns = facts->Of(e);
      if (!columns) return columns.error();
      return columns->datastore == *filter.datastore;
    };
  }
  if (request->format == ledger::ExportFormat::kCsv) {
    request->run_columns = [facts](const ledger::Event& e) { return facts->Of(e); };
  }
}

}  // namespace runledger::projections
