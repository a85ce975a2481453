#pragma once

// The ledger's Merkle tree: RFC 9162 section 2.1 over the events' leaf hashes
// in position order (event position N is leaf index N-1).
//
// Storage model: every perfect subtree that is complete is stored once, keyed
// by SubtreeId (level 0 = the leaves), as MerkleFrontier::Append reports it.
// Every aligned perfect subtree inside [0, n) is a node of the RFC tree of
// size n, so roots and proofs for any past size are computed from O(log n)
// stored subtrees.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/sha256.h"
#include "ledger/status.h"

namespace runledger::ledger {

// SHA-256(0x00 || canonical_event).
Hash LeafHash(std::string_view canonical_event);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);
// SHA-256("") = e3b0c442...b855, the RFC 9162 root of the empty tree.
Hash EmptyTreeRoot();

// A perfect subtree: level L, index i covers leaves [i*2^L, (i+1)*2^L).
// Valid ids have level in [0, 63] and (index+1)*2^level < 2^64.
struct SubtreeId {
  int level;
  std::uint64_t index;
  friend bool operator==(const SubtreeId&, const SubtreeId&) = default;
};
// First leaf index covered by a valid `id`, and one past the last.
std::uint64_t SubtreeBegin(SubtreeId id);
std::uint64_t SubtreeEnd(SubtreeId id);

// Incremental tree: the roots of the perfect subtrees of the binary
// decomposition of size() (at most 64 hashes, largest first). O(log n) per
// append. Not thread-safe; copyable.
class MerkleFrontier {
 public:
  using OnComplete = std::function<void(SubtreeId, const Hash&)>;

  std::uint64_t size() const { return size_; }

  // Appends a leaf hash and calls `on_complete` (may be empty) for every
  // perfect subtree this append completes: the leaf itself (level 0) first,
  // then upward. Over a frontier's life each subtree is reported exactly once.
  // Precondition: size() < 2^64 - 1.
  void Append(const Hash& leaf, const OnComplete& on_complete);

  // Appends a whole aligned perfect subtree that starts at size(), e.g. a
  // piece of a range cover. false (frontier unchanged) when `id` is invalid
  // or does not start at size(). Calls no callback.
  [[nodiscard]] bool AppendSubtree(SubtreeId id, const Hash& hash);

  // MTH of the leaves appended so far; EmptyTreeRoot() when size()==0.
  Hash Root() const;

  // Binary encoding:
  //   frontier := size:fixed64-little-endian hash[popcount(size)]
  //   hash     := 32 bytes, largest subtree (leftmost) first
  std::string Encode() const;
  // Corruption when `bytes` is not exactly such an encoding.
  static Result<MerkleFrontier> Decode(std::string_view bytes);

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> roots_;  // one per set bit of size_, highest bit first
};

// Source of stored perfect-subtree hashes (the event store implements it
// over RocksDB). Implementations need not be thread-safe for the callers here.
class SubtreeReader {
 public:
  virtual ~SubtreeReader() = default;
  // Must succeed for every completed perfect subtree; an error is passed
  // through unchanged by the functions below.
  virtual Result<Hash> Subtree(SubtreeId id) = 0;
};

// Errors below: kUnprocessable with reason "out_of_range" when the sizes or
// index are impossible (checked before any read); otherwise only reader errors.

// MTH of the first `size` leaves; EmptyTreeRoot() for 0. popcount(size) reads.
Result<Hash> RootAt(SubtreeReader& reader, std::uint64_t size);
// The frontier of the first `size` leaves (e.g. to recover one); popcount(size) reads.
Result<MerkleFrontier> FrontierAt(SubtreeReader& reader, std::uint64_t size);
// RFC 9162 2.1.3 PATH(leaf_index, D[0:tree_size]), leaf-adjacent hash first.
// Requires leaf_index < tree_size. O(log n) reads.
Result<std::vector<Hash>> InclusionProof(SubtreeReader& reader, std::uint64_t leaf_index,
                                         std::uint64_t tree_size);
// RFC 9162 2.1.4 PROOF(old_size, D[0:new_size]). Requires old_size <= new_size.
// old_size == new_size and old_size == 0 give an empty proof (a tree is
// consistent with itself, and every tree extends the empty one).
// O(log n) reads.
Result<std::vector<Hash>> ConsistencyProof(SubtreeReader& reader, std::uint64_t old_size,
                                           std::uint64_t new_size);

// RFC 9162 2.1.3.2. false unless leaf_index < tree_size and the path leads
// from `leaf` to `root`. Note (as in the RFC) a path may also verify for a
// different tree_size with the same tree shape along it; the size is bound
// by the signed checkpoint, not by the path.
bool VerifyInclusion(const Hash& leaf, std::uint64_t leaf_index, std::uint64_t tree_size,
                     const std::vector<Hash>& path, const Hash& root);
// RFC 9162 2.1.4.2, plus the cases the RFC leaves out: old_size == new_size
// holds iff the path is empty and the roots are equal; old_size == 0 holds iff
// the path is empty and old_root == EmptyTreeRoot(). false when old_size > new_size.
bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, const std::vector<Hash>& path);

// Aligned cover of leaves [begin, end): greedily, at position a take the
// largest 2^L with a % 2^L == 0 and a + 2^L <= end; left to right. Empty when
// begin >= end. RangeCover(0, n) is the binary decomposition of n.
std::vector<SubtreeId> RangeCover(std::uint64_t begin, std::uint64_t end);

// MTH(D[0:size]) from hashes of aligned perfect subtrees that tile [0, size)
// exactly, left to right. nullopt when they don't (gap, overlap, wrong
// order, misaligned, past `size`). Any such tiling fits the RFC tree. For
// constant memory over a long stream, feed a MerkleFrontier with
// AppendSubtree instead and compare size() before taking Root().
std::optional<Hash> RootFromCover(const std::vector<std::pair<SubtreeId, Hash>>& cover,
                                  std::uint64_t size);

}  // namespace runledger::ledger
