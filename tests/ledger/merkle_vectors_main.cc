// Prints Merkle roots and proofs for tests/ledger/merkle_vectors.py to check
// against its own RFC 9162 implementation. For each size 1..100, one line:
//   size TAB root TAB leaf_index TAB inclusion_path TAB old_size TAB consistency_path
// where leaf i is LeafHash("leaf-<i>"), hashes are lowercase hex and a path
// is its hashes joined by ',' (empty for an empty path).

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ledger/merkle.h"
#include "ledger/sha256.h"

namespace {

using runledger::Result;
using runledger::Status;
using runledger::ledger::Hash;
using runledger::ledger::SubtreeId;

class MapReader : public runledger::ledger::SubtreeReader {
 public:
  Result<Hash> Subtree(SubtreeId id) override {
    auto it = stored_.find({id.level, id.index});
    if (it == stored_.end()) return Status::NotFound("subtree", "missing");
    return it->second;
  }
  void Put(SubtreeId id, const Hash& hash) { stored_[{id.level, id.index}] = hash; }

 private:
  std::map<std::pair<int, std::uint64_t>, Hash> stored_;
};

std::string Join(const std::vector<Hash>& path) {
  std::string out;
  for (const Hash& hash : path) {
    if (!out.empty()) out.push_back(',');
    runledger::ledger::AppendHex(hash, &out);
  }
  return out;
}

}  // namespace

int main() {
  constexpr std::uint64_t kSizesMax = 100;
  MapReader reader;
  runledger::ledger::MerkleFrontier frontier;
  for (std::uint64_t size = 1; size <= kSizesMax; ++size) {
    frontier.Append(runledger::ledger::LeafHash("leaf-" + std::to_string(size - 1)),
                    [&](SubtreeId id, const Hash& hash) { reader.Put(id, hash); });
    // Deterministic spreads over [0, size) and [1, size].
    const std::uint64_t leaf_index = (size * 7 + 3) % size;
    const std::uint64_t old_size = (size * 5 + 2) % size + 1;
    Result<Hash> root = runledger::ledger::RootAt(reader, size);
    Result<std::vector<Hash>> inclusion =
        runledger::ledger::InclusionProof(reader, leaf_index, size);
    Result<std::vector<Hash>> consistency =
        runledger::ledger::ConsistencyProof(reader, old_size, size);
    if (!root || !inclusion || !consistency) {
      std::fprintf(stderr, "size %llu: proof generation failed\n",
                   static_cast<unsigned long long>(size));
      return 1;
    }
    std::printf("%llu\t%s\t%llu\t%s\t%llu\t%s\n", static_cast<unsigned long long>(size),
                runledger::ledger::ToHex(*root).c_str(),
                static_cast<unsigned long long>(leaf_index), Join(*inclusion).c_str(),
                static_cast<unsigned long long>(old_size), Join(*consistency).c_str());
  }
  return 0;
}
