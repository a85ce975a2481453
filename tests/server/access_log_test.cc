#include "server/access_log.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
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

// A sink that takes nothing until opened, like stderr into a full pipe.
class GatedBuffer : public std::streambuf {
 public:
  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return open_; });
    text_.append(s, static_cast<size_t>(n));
    return n;
  }
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = static_cast<char>(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  std::string text_;
};

TEST(AccessLogTest, LinesBeyondTheBoundAreDroppedAndCountedWhileTheSinkIsStuck) {
  GatedBuffer buffer;
  std::ostream sink(&buffer);
  constexpr size_t kBound = 1000;
  constexpr int kLines = 300;  // 10 bytes each: 3x the bound
  {
    AccessLog log(sink, kBound);
    for (int i = 0; i < kLines; ++i) {
      char line[16];
      std::snprintf(line, sizeof line, "line %04d\n", i);
      log.Write(line);  // never blocks
    }
    buffer.Open();
  }
  std::istringstream written(buffer.text());
  int kept = 0;
  long dropped = 0;
  for (std::string line; std::getline(written, line);) {
    if (line.rfind("{\"access_log_dropped_lines\":", 0) == 0) {
      dropped += std::stol(line.substr(line.find(':') + 1));
    } else {
      ++kept;
    }
  }
  // At most one bound's worth is held by the stuck writer and one pending.
  EXPECT_LE(kept, 2 * static_cast<int>(kBound) / 10);
  EXPECT_GE(dropped, kLines - 2 * static_cast<long>(kBound) / 10);
  EXPECT_EQ(kept + dropped, kLines);
}

TEST(AccessLogTest, ALogWithNothingWrittenWritesNothing) {
  std::ostringstream sink;
  { AccessLog log(sink); }
  EXPECT_EQ(sink.str(), "");
}

}  // namespace
}  // namespace runledger::server
