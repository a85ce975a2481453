#pragma once

// What a compliance export (ledger/export.h) needs from the domain: which
// events its `datastore` and `run_id` filters keep in full, and each run's
// operation and datastore for the CSV columns, both read from the run
// projection. Shared by GET /v1/export and `runledger export`.

#include <optional>
#include <string>

#include "ledger/export.h"
#include "ledger/uuid.h"
#include "projections/queries.h"

namespace runledger::projections {

struct ExportFilter {
  std::optional<std::string> datastore;  // keep the events of runs on this datastore id
  std::optional<Uuid> run_id;            // keep the events of this run
};

// Sets request->datastore and request->run_id (the bundle's header echoes
// them), request->matches (every filter given must hold; left null without
// filters, so that events need not be decoded), and, when request->format
// is already CSV, request->run_columns. Run facts come from `queries`, which
// must outlive the export, through one cache of at most a few thousand runs
// (a run's operation and datastore never change). The functions it sets are
// for one export on one thread. A run with events but no projection fails
// the export with Corruption.
void ApplyExportFilter(const RunQueries& queries, const ExportFilter& filter,
                       ledger::ExportRequest* request);

}  // namespace runledger::projections
