#include "server/access_log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace runledger::server {
namespace {

TEST(AccessLogTest, EveryLineIsWrittenWholeAndOnceByTheTimeTheLogCloses) {
  std::ostringstream sink;
  constexpr int kThreads = 4;
  constexpr int kLines = 5000;  // ~25 chunks of kChunkBytes in all: flushes mid-way too
  {
    AccessLog log(sink);
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&log, t] {
        for (int i = 0; i < kLines; ++i) {
          log.Write("{\"thread\":" + std::to_string(t) + ",\"line\":" + std::to_string(i) + "," +
                    std::string(300, 'x') + "}\n");
        }
      });
    }
    for (auto& writer : writers) writer.join();
  }
  std::istringstream written(sink.str());
  std::set<std::pair<int, int>> seen;
  std::vector<int> last(kThreads, -1);
  for (std::string line; std::getline(written, line);) {
    int thread = -1;
    int number = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "{\"thread\":%d,\"line\":%d,", &thread, &number), 2) << line;
    ASSERT_EQ(line.size(), line.find(',', line.find("line")) + 1 + 300 + 1) << "a line was cut or mixed";
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, kThreads);
    EXPECT_GT(number, last[static_cast<size_t>(thread)]) << "one writer's lines kept their order";
    last[static_cast<size_t>(thread)] = number;
    EXPECT_TRUE(seen.emplace(thread, number).second) << line;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kLines));
}

TEST(AccessLogTest, ALogWithNothingWrittenWritesNothing) {
  std::ostringstream sink;
  { AccessLog log(sink); }
  EXPECT_EQ(sink.str(), "");
}

}  // namespace
}  // namespace runledger::server
