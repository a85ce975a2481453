#include "ledger/merkle.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>

namespace runledger::ledger {
namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();

bool IsValid(SubtreeId id) {
  return id.level >= 0 && id.level <= 63 && id.index < (kMaxU64 >> id.level);
}

Status OutOfRange(std::string message) {
  return Status(Code::kUnprocessable, "out_of_range", std::move(message));
}

// RFC 9162's k for a range of n >= 2 leaves: the largest power of two < n.
std::uint64_t SplitPoint(std::uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[begin:end]) for a node of the RFC tree, begin < end. The left child
// of every node is an aligned perfect subtree (one read), and only nodes on
// the right spine are not perfect, so this costs one read for a perfect node
// and at most popcount(end - begin) reads otherwise.
Result<Hash> NodeAt(SubtreeReader& reader, std::uint64_t begin, std::uint64_t end) {
  const std::uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    const int level = std::countr_zero(n);
    return reader.Subtree({level, begin >> level});
  }
  const std::uint64_t mid = begin + SplitPoint(n);
  Result<Hash> left = NodeAt(reader, begin, mid);
  if (!left) return left.error();
  Result<Hash> right = NodeAt(reader, mid, end);
  if (!right) return right.error();
  return NodeHash(*left, *right);
}

void PutFixed64(std::uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t GetFixed64(std::string_view bytes) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = value << 8 | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

// Shifts both counters right until fn is odd or zero (RFC 9162 2.1.3.2 and
// 2.1.4.2 share this step).
void ShiftWhileEven(std::uint64_t* fn, std::uint64_t* sn) {
  while ((*fn & 1) == 0 && *fn != 0) {
    *fn >>= 1;
    *sn >>= 1;
  }
}

}  // namespace

Hash LeafHash(std::string_view canonical_event) {
  thread_local Sha256Builder builder;
  builder.Update(std::string_view("\x00", 1));
  builder.Update(canonical_event);
  return builder.Finish();
}

Hash NodeHash(const Hash& left, const Hash& right) {
  char buffer[1 + 2 * sizeof(Hash)];
  buffer[0] = '\x01';
  std::memcpy(buffer + 1, left.data(), left.size());
  std::memcpy(buffer + 1 + left.size(), right.data(), right.size());
  return Sha256(std::string_view(buffer, sizeof buffer));
}

Hash EmptyTreeRoot() {
  static const Hash root = Sha256("");
  return root;
}

std::uint64_t SubtreeBegin(SubtreeId id) { return id.index << id.level; }
std::uint64_t SubtreeEnd(SubtreeId id) { return (id.index + 1) << id.level; }

void MerkleFrontier::Append(const Hash& leaf, const OnComplete& on_complete) {
  assert(size_ < kMaxU64);
  const std::uint64_t n = size_;
  Hash hash = leaf;
  int level = 0;
  if (on_complete) on_complete({0, n}, hash);
  // Like a binary counter: each set low bit of n is a finished left sibling.
  while (((n >> level) & 1) != 0) {
    hash = NodeHash(roots_.back(), hash);
    roots_.pop_back();
    ++level;
    if (on_complete) on_complete({level, n >> level}, hash);
  }
  roots_.push_back(hash);
  size_ = n + 1;
}

bool MerkleFrontier::AppendSubtree(SubtreeId id, const Hash& hash) {
  if (!IsValid(id) || SubtreeBegin(id) != size_) return false;
  // size_ is a multiple of 2^level, so its lowest set bit (the last root) is
  // the left sibling exactly when bit `level` is set.
  const std::uint64_t n = size_;
  Hash merged = hash;
  int level = id.level;
  while (level < 64 && ((n >> level) & 1) != 0) {
    merged = NodeHash(roots_.back(), merged);
    roots_.pop_back();
    ++level;
  }
  roots_.push_back(merged);
  size_ = SubtreeEnd(id);
  return true;
}

Hash MerkleFrontier::Root() const {
  if (roots_.empty()) return EmptyTreeRoot();
  // MTH splits at the largest power of two below n, which is the first root;
  // so the tree is the roots folded from the right.
  Hash root = roots_.back();
  for (auto it = roots_.rbegin() + 1; it != roots_.rend(); ++it) root = NodeHash(*it, root);
  return root;
}

std::string MerkleFrontier::Encode() const {
  std::string out;
  out.reserve(8 + roots_.size() * sizeof(Hash));
  PutFixed64(size_, &out);
  for (const Hash& root : roots_) out.append(Sha256Builder::AsBytes(root));
  return out;
}

Result<MerkleFrontier> MerkleFrontier::Decode(std::string_view bytes) {
  if (bytes.size() < 8) return Status::Corruption("merkle frontier: shorter than its size");
  MerkleFrontier frontier;
  frontier.size_ = GetFixed64(bytes);
  const std::size_t count = static_cast<std::size_t>(std::popcount(frontier.size_));
  if (bytes.size() != 8 + count * sizeof(Hash)) {
    return Status::Corruption("merkle frontier: length does not match its size");
  }
  frontier.roots_.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::memcpy(frontier.roots_[i].data(), bytes.data() + 8 + i * sizeof(Hash), sizeof(Hash));
  }
  return frontier;
}

Result<MerkleFrontier> FrontierAt(SubtreeReader& reader, std::uint64_t size) {
  MerkleFrontier frontier;
  for (SubtreeId id : RangeCover(0, size)) {
    Result<Hash> hash = reader.Subtree(id);
    if (!hash) return hash.error();
    [[maybe_unused]] const bool appended = frontier.AppendSubtree(id, *hash);
    assert(appended);
  }
  return frontier;
}

Result<Hash> RootAt(SubtreeReader& reader, std::uint64_t size) {
  Result<MerkleFrontier> frontier = FrontierAt(reader, size);
  if (!frontier) return frontier.error();
  return frontier->Root();
}

Result<std::vector<Hash>> InclusionProof(SubtreeReader& reader, std::uint64_t leaf_index,
                                         std::uint64_t tree_size) {
  if (leaf_index >= tree_size) {
    return OutOfRange("leaf index " + std::to_string(leaf_index) + " is not below tree size " +
                      std::to_string(tree_size));
  }
  // Walk PATH's recursion from the root down; the RFC lists the siblings from
  // the leaf up, so reverse at the end.
  std::vector<Hash> path;
  std::uint64_t begin = 0;
  std::uint64_t end = tree_size;
  while (end - begin > 1) {
    const std::uint64_t mid = begin + SplitPoint(end - begin);
    const bool go_left = leaf_index < mid;
    Result<Hash> sibling = go_left ? NodeAt(reader, mid, end) : NodeAt(reader, begin, mid);
    if (!sibling) return sibling.error();
    path.push_back(*sibling);
    (go_left ? end : begin) = mid;
  }
  std::reverse(path.begin(), path.end());
  return path;
}

Result<std::vector<Hash>> ConsistencyProof(SubtreeReader& reader, std::uint64_t old_size,
                                           std::uint64_t new_size) {
  if (old_size > new_size) {
    return OutOfRange("old size " + std::to_string(old_size) + " exceeds new size " +
                      std::to_string(new_size));
  }
  std::vector<Hash> path;
  if (old_size == 0 || old_size == new_size) return path;
  // SUBPROOF(m, D[begin:end], whole_old_tree) from the root down; invariant:
  // begin < old_size <= end.
  std::uint64_t begin = 0;
  std::uint64_t end = new_size;
  bool whole_old_tree = true;
  while (old_size != end) {
    const std::uint64_t mid = begin + SplitPoint(end - begin);
    const bool go_left = old_size <= mid;
    Result<Hash> sibling = go_left ? NodeAt(reader, mid, end) : NodeAt(reader, begin, mid);
    if (!sibling) return sibling.error();
    path.push_back(*sibling);
    if (go_left) {
      end = mid;
    } else {
      begin = mid;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) {
    Result<Hash> node = NodeAt(reader, begin, end);
    if (!node) return node.error();
    path.push_back(*node);
  }
  std::reverse(path.begin(), path.end());
  return path;
}

bool VerifyInclusion(const Hash& leaf, std::uint64_t leaf_index, std::uint64_t tree_size,
                     const std::vector<Hash>& path, const Hash& root) {
  if (leaf_index >= tree_size) return false;
  std::uint64_t fn = leaf_index;
  std::uint64_t sn = tree_size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      ShiftWhileEven(&fn, &sn);
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                       const Hash& new_root, const std::vector<Hash>& path) {
  if (old_size > new_size) return false;
  if (old_size == new_size) return path.empty() && old_root == new_root;
  if (old_size == 0) return path.empty() && old_root == EmptyTreeRoot();
  if (path.empty()) return false;
  // The RFC prepends old_root when old_size is a power of two; instead, start
  // from it and consume the path from its first element or its second.
  const bool prepend = std::has_single_bit(old_size);
  std::size_t next = prepend ? 0 : 1;
  Hash fr = prepend ? old_root : path[0];
  Hash sr = fr;
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  for (; next < path.size(); ++next) {
    const Hash& c = path[next];
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      ShiftWhileEven(&fn, &sn);
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

std::vector<SubtreeId> RangeCover(std::uint64_t begin, std::uint64_t end) {
  std::vector<SubtreeId> cover;
  std::uint64_t a = begin;
  while (a < end) {
    const std::uint64_t fits = std::bit_floor(end - a);
    const std::uint64_t aligned = a == 0 ? fits : (a & (~a + 1));
    const std::uint64_t width = std::min(fits, aligned);
    const int level = std::countr_zero(width);
    cover.push_back({level, a >> level});
    a += width;
  }
  return cover;
}

std::optional<Hash> RootFromCover(const std::vector<std::pair<SubtreeId, Hash>>& cover,
                                  std::uint64_t size) {
  MerkleFrontier frontier;
  for (const auto& [id, hash] : cover) {
    if (!frontier.AppendSubtree(id, hash) || frontier.size() > size) return std::nullopt;
  }
  if (frontier.size() != size) return std::nullopt;
  return frontier.Root();
}

}  // namespace runledger::ledger
