// The export's run filter and CSV run columns, read from the projection.

#include "projections/export_filter.h"

#include <gtest/gtest.h>

#include "ledger/event.h"
#include "tests/testing/run_builders.h"

namespace runledger::projections {
namespace {

namespace rt = runledger::testing;

ledger::Event EventOf(const Uuid& run) {
  ledger::Event e;
  e.run_id = run;
  return e;
}

class ExportFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scan_ = t_.RunIn("scan", "running");  // on ds-1
    profile_ = t_.CreateRun(rt::CreatedJson("profile", "ds-2")).run_id();
  }

  // Whether the filter keeps an event of `run`; false on error (which fails).
  static bool Keeps(const ledger::ExportRequest& request, const Uuid& run) {
    auto kept = request.matches(EventOf(run));
    if (!kept) {
      ADD_FAILURE() << kept.error().ToString();
      return false;
    }
    return *kept;
  }

  rt::TestLedger t_;
  RunQueries queries_ = t_.queries();
  Uuid scan_;
  Uuid profile_;
};

TEST_F(ExportFilterTest, NoFilterMatchesEveryEventWithoutAMatcher) {
  ledger::ExportRequest request;
  ApplyExportFilter(queries_, {}, &request);
  EXPECT_FALSE(request.matches);      // events need not be decoded
  EXPECT_FALSE(request.run_columns);  // NDJSON has no run columns
  EXPECT_FALSE(request.datastore.has_value());
  EXPECT_FALSE(request.run_id.has_value());
}

TEST_F(ExportFilterTest, DatastoreKeepsTheEventsOfItsRuns) {
  ledger::ExportRequest request;
  ApplyExportFilter(queries_, {.datastore = "ds-2", .run_id = std::nullopt}, &request);
  EXPECT_EQ(request.datastore, "ds-2");
  EXPECT_TRUE(Keeps(request, profile_));
  EXPECT_FALSE(Keeps(request, scan_));
}

TEST_F(ExportFilterTest, RunIdAndDatastoreMustBothHold) {
  ledger::ExportRequest request;
  ApplyExportFilter(queries_, {.datastore = "ds-2", .run_id = scan_}, &request);
  EXPECT_EQ(request.run_id, ledger::FormatUuid(scan_));
  EXPECT_FALSE(Keeps(request, scan_));
  EXPECT_FALSE(Keeps(request, profile_));
  ApplyExportFilter(queries_, {.datastore = std::nullopt, .run_id = scan_}, &request);
  EXPECT_FALSE(request.datastore.has_value());
  EXPECT_TRUE(Keeps(request, scan_));
  EXPECT_FALSE(Keeps(request, profile_));
}

TEST_F(ExportFilterTest, CsvColumnsAreTheRunsOperationAndDatastore) {
  ledger::ExportRequest request;
  request.format = ledger::ExportFormat::kCsv;
  ApplyExportFilter(queries_, {}, &request);
  ASSERT_TRUE(request.run_columns);
  for (int repeat = 0; repeat < 2; ++repeat) {  // the second answer comes from the cache
    auto columns = request.run_columns(EventOf(profile_));
    ASSERT_TRUE(columns.has_value());
    EXPECT_EQ(columns->operation, "profile");
    EXPECT_EQ(columns->datastore, "ds-2");
  }
}

TEST_F(ExportFilterTest, EventOfARunWithoutProjectionIsCorruption) {
  ledger::ExportRequest request;
  ApplyExportFilter(queries_, {.datastore = "ds-1", .run_id = std::nullopt}, &request);
  const Uuid unknown = *ledger::ParseUuid("0190a5c8-0000-7000-8000-000000000099");
  auto kept = request.matches(EventOf(unknown));
  ASSERT_FALSE(kept.has_value());
  EXPECT_EQ(kept.error().code(), Code::kCorruption);
}

}  // namespace
}  // namespace runledger::projections
