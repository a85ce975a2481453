#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ledger/sha256.h"

namespace runledger::ledger {
namespace {

// ---- A naive tree, written from the RFC 9162 2.1 text, independent of merkle.cc.

std::string Bytes(const Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

Hash RfcLeaf(const std::string& data) { return Sha256(std::string(1, '\0') + data); }
Hash RfcNode(const Hash& l, const Hash& r) { return Sha256("\x01" + Bytes(l) + Bytes(r)); }

// "the largest power of two smaller than n", by counting.
std::uint64_t RfcK(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

class NaiveTree {
 public:
  explicit NaiveTree(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) leaves_.push_back(RfcLeaf("leaf-" + std::to_string(i)));
  }
  const Hash& leaf(std::uint64_t i) const { return leaves_[i]; }

  // MTH(D[a:b]), memoized (the leaves never change).
  Hash Mth(std::uint64_t a, std::uint64_t b) {
    if (b == a) return Sha256("");
    if (b - a == 1) return leaves_[a];
    auto [it, fresh] = memo_.try_emplace({a, b});
    if (fresh) {
      const std::uint64_t k = RfcK(b - a);
      it->second = RfcNode(Mth(a, a + k), Mth(a + k, b));
    }
    return it->second;
  }

  // PATH(m, D[a:b]).
  std::vector<Hash> Path(std::uint64_t m, std::uint64_t a, std::uint64_t b) {
    if (b - a == 1) return {};
    const std::uint64_t k = RfcK(b - a);
    std::vector<Hash> out;
    if (m < k) {
      out = Path(m, a, a + k);
      out.push_back(Mth(a + k, b));
    } else {
      out = Path(m - k, a + k, b);
      out.push_back(Mth(a, a + k));
    }
    return out;
  }

  // SUBPROOF(m, D[a:b], flag).
  std::vector<Hash> Subproof(std::uint64_t m, std::uint64_t a, std::uint64_t b, bool flag) {
    if (m == b - a) return flag ? std::vector<Hash>{} : std::vector<Hash>{Mth(a, b)};
    const std::uint64_t k = RfcK(b - a);
    std::vector<Hash> out;
    if (m <= k) {
      out = Subproof(m, a, a + k, flag);
      out.push_back(Mth(a + k, b));
    } else {
      out = Subproof(m - k, a + k, b, false);
      out.push_back(Mth(a, a + k));
    }
    return out;
  }

 private:
  std::vector<Hash> leaves_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Hash> memo_;
};

// A second verifier, by replaying the PATH recursion (consuming the path from
// its outer end): the root the path claims, or nullopt when its length does
// not fit (index, size).
std::optional<Hash> ReplayPath(const Hash& leaf, std::uint64_t m, std::uint64_t n,
                               const std::vector<Hash>& path, std::size_t hi) {
  if (n == 1) return hi == 0 ? std::optional<Hash>(leaf) : std::nullopt;
  if (hi == 0) return std::nullopt;
  const std::uint64_t k = RfcK(n);
  const Hash& c = path[hi - 1];
  auto inner =
      m < k ? ReplayPath(leaf, m, k, path, hi - 1) : ReplayPath(leaf, m - k, n - k, path, hi - 1);
  if (!inner) return std::nullopt;
  return m < k ? RfcNode(*inner, c) : RfcNode(c, *inner);
}

bool NaiveVerifyInclusion(const Hash& leaf, std::uint64_t m, std::uint64_t n,
                          const std::vector<Hash>& path, const Hash& root) {
  if (m >= n) return false;
  auto replayed = ReplayPath(leaf, m, n, path, path.size());
  return replayed && *replayed == root;
}

// Replays SUBPROOF: the (old, new) roots the path claims.
std::optional<std::pair<Hash, Hash>> ReplaySubproof(std::uint64_t m, std::uint64_t n, bool flag,
                                                    const Hash& old_root,
                                                    const std::vector<Hash>& path, std::size_t hi) {
  if (m == n) {
    if (flag) return hi == 0 ? std::optional(std::pair(old_root, old_root)) : std::nullopt;
    return hi == 1 ? std::optional(std::pair(path[0], path[0])) : std::nullopt;
  }
  if (hi == 0) return std::nullopt;
  const std::uint64_t k = RfcK(n);
  const Hash& c = path[hi - 1];
  if (m <= k) {
    auto inner = ReplaySubproof(m, k, flag, old_root, path, hi - 1);
    if (!inner) return std::nullopt;
    return std::pair(inner->first, RfcNode(inner->second, c));
  }
  auto inner = ReplaySubproof(m - k, n - k, false, old_root, path, hi - 1);
  if (!inner) return std::nullopt;
  return std::pair(RfcNode(c, inner->first), RfcNode(c, inner->second));
}

bool NaiveVerifyConsistency(std::uint64_t m, std::uint64_t n, const Hash& old_root,
                            const Hash& new_root, const std::vector<Hash>& path) {
  if (m == 0 || m >= n) return false;  // only the RFC's 0 < m < n
  auto replayed = ReplaySubproof(m, n, true, old_root, path, path.size());
  return replayed && replayed->first == old_root && replayed->second == new_root;
}

// ---- The store side: subtrees exist only once MerkleFrontier reported them.

class MapReader : public SubtreeReader {
 public:
  Result<Hash> Subtree(SubtreeId id) override {
    ++reads;
    if (SubtreeEnd(id) > visible_size) return Status::NotFound("subtree", "beyond visible size");
    auto it = stored.find({id.level, id.index});
    if (it == stored.end()) return Status::NotFound("subtree", "never reported");
    return it->second;
  }

  std::map<std::pair<int, std::uint64_t>, Hash> stored;
  std::uint64_t visible_size = 0;  // reads past this fail: proofs for size n use only [0, n)
  int reads = 0;
};

constexpr std::uint64_t kLeaves = 300;

class MerkleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    naive_ = new NaiveTree(kLeaves);
    reader_ = new MapReader;
    for (std::uint64_t i = 0; i < kLeaves; ++i) {
      frontier_.Append(naive_->leaf(i), [](SubtreeId id, const Hash& h) {
        ASSERT_TRUE(reader_->stored.emplace(std::pair(id.level, id.index), h).second);
      });
    }
  }
  static void TearDownTestSuite() {
    delete naive_;
    delete reader_;
  }

  static MapReader& Reader(std::uint64_t visible_size) {
    reader_->visible_size = visible_size;
    reader_->reads = 0;
    return *reader_;
  }

  static NaiveTree* naive_;
  static MapReader* reader_;
  static MerkleFrontier frontier_;
};

NaiveTree* MerkleTest::naive_ = nullptr;
MapReader* MerkleTest::reader_ = nullptr;
MerkleFrontier MerkleTest::frontier_;

Hash FlipBit(Hash h, std::size_t bit) {
  h[bit / 8 % h.size()] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  return h;
}

// ---- SHA-256 and hex

TEST(Sha256Test, MatchesNistVectors) {
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(ToHex(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, BuilderMatchesOneShotAndIsReusableAfterFinish) {
  const std::string message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  Sha256Builder builder;
  for (std::size_t split = 0; split <= message.size(); ++split) {
    builder.Update(std::string_view(message).substr(0, split));
    builder.Update(std::string_view(message).substr(split));
    EXPECT_EQ(builder.Finish(), Sha256(message)) << "split at " << split;
  }
  EXPECT_EQ(builder.Finish(), Sha256(""));
  Sha256Builder moved = std::move(builder);
  moved.Update("abc");
  EXPECT_EQ(moved.Finish(), Sha256("abc"));
}

TEST(HexTest, RoundTripsAndAcceptsEitherCase) {
  const Hash h = Sha256("abc");
  const std::string hex = ToHex(h);
  EXPECT_EQ(HashFromHex(hex), h);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(HashFromHex(upper), h);
  std::string appended = "x=";
  AppendHex(h, &appended);
  EXPECT_EQ(appended, "x=" + hex);
  EXPECT_EQ(HexOf(std::string("\x00\x7f\x80\xff", 4)), "007f80ff");
  EXPECT_EQ(HexOf(""), "");
}

TEST(HexTest, RejectsWrongLengthOrNonHex) {
  const std::string hex = ToHex(Sha256("abc"));
  EXPECT_FALSE(HashFromHex(hex.substr(1)));
  EXPECT_FALSE(HashFromHex(hex + "0"));
  EXPECT_FALSE(HashFromHex(""));
  for (char bad : {'g', 'G', ' ', 'x', '\0', '-'}) {
    std::string broken = hex;
    broken[17] = bad;
    EXPECT_FALSE(HashFromHex(broken)) << "char " << static_cast<int>(bad);
  }
}

// ---- Hashing rules

TEST(MerkleHashTest, LeafAndNodeHashesUseRfcDomainPrefixes) {
  EXPECT_EQ(LeafHash("{\"a\":1}"), Sha256(std::string("\x00{\"a\":1}", 8)));
  EXPECT_EQ(LeafHash(""), Sha256(std::string(1, '\0')));
  const Hash l = Sha256("l");
  const Hash r = Sha256("r");
  EXPECT_EQ(NodeHash(l, r), Sha256("\x01" + Bytes(l) + Bytes(r)));
  EXPECT_NE(NodeHash(l, r), NodeHash(r, l));
  EXPECT_EQ(ToHex(EmptyTreeRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// ---- Roots

TEST_F(MerkleTest, RootAtMatchesNaiveForEverySize) {
  for (std::uint64_t n = 0; n <= kLeaves; ++n) {
    Result<Hash> root = RootAt(Reader(n), n);
    ASSERT_TRUE(root) << root.error().ToString();
    EXPECT_EQ(*root, naive_->Mth(0, n)) << "size " << n;
    EXPECT_EQ(reader_->reads, std::popcount(n)) << "size " << n;
  }
}

TEST_F(MerkleTest, FrontierRootMatchesNaiveAfterEveryAppend) {
  MerkleFrontier frontier;
  EXPECT_EQ(frontier.Root(), EmptyTreeRoot());
  for (std::uint64_t n = 1; n <= kLeaves; ++n) {
    frontier.Append(naive_->leaf(n - 1), nullptr);
    EXPECT_EQ(frontier.size(), n);
    EXPECT_EQ(frontier.Root(), naive_->Mth(0, n)) << "size " << n;
  }
}

TEST_F(MerkleTest, OnCompleteReportsEachPerfectSubtreeOnceLeafFirstThenUpward) {
  MerkleFrontier frontier;
  std::set<std::pair<int, std::uint64_t>> seen;
  for (std::uint64_t i = 0; i < kLeaves; ++i) {
    std::vector<SubtreeId> calls;
    frontier.Append(naive_->leaf(i), [&](SubtreeId id, const Hash& h) {
      calls.push_back(id);
      EXPECT_EQ(h, naive_->Mth(SubtreeBegin(id), SubtreeEnd(id)));
      EXPECT_TRUE(seen.insert({id.level, id.index}).second) << "reported twice";
    });
    // Exactly the subtrees ending at i+1: levels 0..countr_zero(i+1), in order.
    ASSERT_EQ(calls.size(), static_cast<std::size_t>(std::countr_zero(i + 1) + 1)) << "leaf " << i;
    for (std::size_t level = 0; level < calls.size(); ++level) {
      EXPECT_EQ(calls[level].level, static_cast<int>(level));
      EXPECT_EQ(SubtreeEnd(calls[level]), i + 1);
    }
  }
  // And so every aligned perfect subtree inside [0, n) is stored, no other.
  std::size_t expected = 0;
  for (std::uint64_t width = 1; width <= kLeaves; width *= 2) expected += kLeaves / width;
  EXPECT_EQ(seen.size(), expected);
}

// ---- Inclusion

TEST_F(MerkleTest, InclusionProofsMatchNaiveAndVerify) {
  for (std::uint64_t n = 1; n <= kLeaves; ++n) {
    const Hash root = naive_->Mth(0, n);
    for (std::uint64_t m = 0; m < n; ++m) {
      Result<std::vector<Hash>> path = InclusionProof(Reader(n), m, n);
      ASSERT_TRUE(path) << path.error().ToString() << " m=" << m << " n=" << n;
      ASSERT_EQ(*path, naive_->Path(m, 0, n)) << "m=" << m << " n=" << n;
      ASSERT_LE(reader_->reads, 2 * static_cast<int>(std::bit_width(n))) << "m=" << m << " n=" << n;
      ASSERT_TRUE(VerifyInclusion(naive_->leaf(m), m, n, *path, root)) << "m=" << m << " n=" << n;
    }
  }
}

TEST_F(MerkleTest, InclusionVerifyRejectsTamperedPathsLeavesAndRoots) {
  for (std::uint64_t n = 1; n <= kLeaves; ++n) {
    const Hash root = naive_->Mth(0, n);
    for (std::uint64_t m = 0; m < n; ++m) {
      const std::vector<Hash> path = naive_->Path(m, 0, n);
      const Hash& leaf = naive_->leaf(m);
      EXPECT_FALSE(VerifyInclusion(FlipBit(leaf, m), m, n, path, root));
      EXPECT_FALSE(VerifyInclusion(leaf, m, n, path, FlipBit(root, n)));
      for (std::size_t i = 0; i < path.size(); ++i) {
        if (n > 64 && i != m % path.size()) continue;  // every hash for small trees, one beyond
        std::vector<Hash> tampered = path;
        tampered[i] = FlipBit(tampered[i], 8 * i + m);
        EXPECT_FALSE(VerifyInclusion(leaf, m, n, tampered, root)) << "m=" << m << " n=" << n;
      }
      if (!path.empty()) {
        std::vector<Hash> shorter(path.begin(), path.end() - 1);
        EXPECT_FALSE(VerifyInclusion(leaf, m, n, shorter, root));
      }
      std::vector<Hash> longer = path;
      longer.push_back(root);
      EXPECT_FALSE(VerifyInclusion(leaf, m, n, longer, root));
    }
  }
}

TEST_F(MerkleTest, InclusionVerifyRejectsWrongIndexOrSize) {
  int wrong_index_cases = 0;
  int wrong_size_rejections = 0;
  for (std::uint64_t n = 1; n <= 130; ++n) {
    const Hash root = naive_->Mth(0, n);
    for (std::uint64_t m = 0; m < n; ++m) {
      const std::vector<Hash> path = naive_->Path(m, 0, n);
      const Hash& leaf = naive_->leaf(m);
      for (std::uint64_t other = 0; other <= n + 1; ++other) {
        if (other == m) continue;
        ++wrong_index_cases;
        EXPECT_FALSE(VerifyInclusion(leaf, other, n, path, root))
            << m << "->" << other << " n=" << n;
      }
      // A path fixes the tree's shape along it, not its size (RFC 9162 binds
      // the size in the signed tree head): a wrong size must be accepted
      // exactly when replaying the RFC's PATH recursion for it succeeds.
      for (std::uint64_t size : {n - 1, n + 1, 2 * n, n / 2, std::uint64_t{0}}) {
        if (size == n) continue;
        const bool naive = NaiveVerifyInclusion(leaf, m, size, path, root);
        EXPECT_EQ(VerifyInclusion(leaf, m, size, path, root), naive)
            << "m=" << m << " size " << n << "->" << size;
        wrong_size_rejections += naive ? 0 : 1;
      }
    }
  }
  EXPECT_GT(wrong_index_cases, 0);
  EXPECT_GT(wrong_size_rejections, 10000);
}

// ---- Consistency

std::vector<std::pair<std::uint64_t, std::uint64_t>> ConsistencyPairs() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pairs;
  for (std::uint64_t n = 0; n <= 64; ++n) {
    for (std::uint64_t m = 0; m <= n; ++m) pairs.emplace_back(m, n);
  }
  for (std::uint64_t n = 65; n <= kLeaves; ++n) {
    for (std::uint64_t m :
         {std::uint64_t{1}, n / 2, n - 1, n, (n * 37) % n + 1, std::bit_floor(n - 1),
          std::bit_floor(n - 1) + 1, std::uint64_t{63}, std::uint64_t{64}}) {
      if (m <= n) pairs.emplace_back(m, n);
    }
  }
  return pairs;
}

TEST_F(MerkleTest, ConsistencyProofsMatchNaiveAndVerify) {
  for (auto [m, n] : ConsistencyPairs()) {
    Result<std::vector<Hash>> path = ConsistencyProof(Reader(n), m, n);
    ASSERT_TRUE(path) << path.error().ToString() << " m=" << m << " n=" << n;
    const std::vector<Hash> expected =
        (m == 0 || m == n) ? std::vector<Hash>{} : naive_->Subproof(m, 0, n, true);
    ASSERT_EQ(*path, expected) << "m=" << m << " n=" << n;
    ASSERT_LE(reader_->reads, 2 * static_cast<int>(std::bit_width(n))) << "m=" << m << " n=" << n;
    const Hash old_root = naive_->Mth(0, m);
    const Hash new_root = naive_->Mth(0, n);
    ASSERT_TRUE(VerifyConsistency(m, n, old_root, new_root, *path)) << "m=" << m << " n=" << n;
    if (m > 0 && m < n) {
      ASSERT_TRUE(NaiveVerifyConsistency(m, n, old_root, new_root, *path));
    }
  }
}

TEST_F(MerkleTest, ConsistencyVerifyRejectsTampering) {
  int wrong_size_rejections = 0;
  for (auto [m, n] : ConsistencyPairs()) {
    if (m == 0 || m == n) continue;
    const std::vector<Hash> path = naive_->Subproof(m, 0, n, true);
    const Hash old_root = naive_->Mth(0, m);
    const Hash new_root = naive_->Mth(0, n);
    EXPECT_FALSE(VerifyConsistency(m, n, FlipBit(old_root, m), new_root, path)) << m << "," << n;
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, FlipBit(new_root, n), path)) << m << "," << n;
    EXPECT_FALSE(VerifyConsistency(n, m, new_root, old_root, path));
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, {}));
    for (std::size_t i = 0; i < path.size(); ++i) {
      std::vector<Hash> tampered = path;
      tampered[i] = FlipBit(tampered[i], 8 * i + n);
      EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, tampered))
          << m << "," << n << " #" << i;
    }
    std::vector<Hash> shorter(path.begin(), path.end() - 1);
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, shorter)) << m << "," << n;
    std::vector<Hash> longer = path;
    longer.push_back(new_root);
    EXPECT_FALSE(VerifyConsistency(m, n, old_root, new_root, longer)) << m << "," << n;
    // As with inclusion, sizes are bound by the signed checkpoints; a wrong
    // size is accepted exactly when replaying SUBPROOF for it succeeds.
    for (auto [wm, wn] :
         {std::pair(m - 1, n), std::pair(m + 1, n), std::pair(m, n + 1), std::pair(m, n - 1)}) {
      const bool naive = NaiveVerifyConsistency(wm, wn, old_root, new_root, path);
      EXPECT_EQ(VerifyConsistency(wm, wn, old_root, new_root, path), naive)
          << m << "," << n << " as " << wm << "," << wn;
      wrong_size_rejections += naive ? 0 : 1;
    }
  }
  EXPECT_GT(wrong_size_rejections, 1000);
}

TEST_F(MerkleTest, ConsistencyEdgeCasesFollowTheDocumentedChoices) {
  const Hash a = naive_->Mth(0, 5);
  const Hash b = naive_->Mth(0, 6);
  EXPECT_TRUE(VerifyConsistency(5, 5, a, a, {}));
  EXPECT_FALSE(VerifyConsistency(5, 5, a, b, {}));
  EXPECT_FALSE(VerifyConsistency(5, 5, a, a, {a}));
  EXPECT_TRUE(VerifyConsistency(0, 6, EmptyTreeRoot(), b, {}));
  EXPECT_FALSE(VerifyConsistency(0, 6, a, b, {}));
  EXPECT_FALSE(VerifyConsistency(0, 6, EmptyTreeRoot(), b, {b}));
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyTreeRoot(), EmptyTreeRoot(), {}));
}

// ---- Arguments and reader failures

TEST_F(MerkleTest, ImpossibleProofRequestsAreOutOfRangeWithoutReads) {
  for (auto result : {InclusionProof(Reader(10), 10, 10), InclusionProof(Reader(10), 0, 0),
                      ConsistencyProof(Reader(10), 6, 5)}) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code(), Code::kUnprocessable);
    EXPECT_EQ(result.error().reason(), "out_of_range");
  }
  EXPECT_EQ(reader_->reads, 0);
}

TEST_F(MerkleTest, ReaderErrorsArePassedThrough) {
  MapReader empty;
  empty.visible_size = 100;
  for (auto status : {RootAt(empty, 7).status(), InclusionProof(empty, 3, 7).status(),
                      ConsistencyProof(empty, 3, 7).status(), FrontierAt(empty, 7).status()}) {
    EXPECT_EQ(status.code(), Code::kNotFound);
    EXPECT_EQ(status.message(), "never reported");
  }
}

// ---- Frontier encoding and recovery

TEST_F(MerkleTest, FrontierEncodeDecodeRoundTrips) {
  MerkleFrontier frontier;
  for (std::uint64_t n = 0; n <= 70; ++n) {
    const std::string bytes = frontier.Encode();
    EXPECT_EQ(bytes.size(), 8 + 32 * static_cast<std::size_t>(std::popcount(n)));
    Result<MerkleFrontier> decoded = MerkleFrontier::Decode(bytes);
    ASSERT_TRUE(decoded) << decoded.error().ToString();
    EXPECT_EQ(decoded->size(), n);
    EXPECT_EQ(decoded->Root(), naive_->Mth(0, n));
    EXPECT_EQ(decoded->Encode(), bytes);
    // A decoded frontier keeps growing like the original.
    decoded->Append(naive_->leaf(n), nullptr);
    EXPECT_EQ(decoded->Root(), naive_->Mth(0, n + 1));
    frontier.Append(naive_->leaf(n), nullptr);
  }
  EXPECT_EQ(MerkleFrontier().Encode(), std::string(8, '\0'));
}

TEST_F(MerkleTest, FrontierDecodeRejectsCorruption) {
  const std::string good = frontier_.Encode();  // size 300: four hashes
  ASSERT_EQ(good.size(), 8u + 4 * 32);
  EXPECT_FALSE(MerkleFrontier::Decode(""));
  EXPECT_FALSE(MerkleFrontier::Decode(good.substr(0, 7)));
  EXPECT_FALSE(MerkleFrontier::Decode(good.substr(0, good.size() - 1)));
  EXPECT_FALSE(MerkleFrontier::Decode(good + "x"));
  std::string wrong_size = good;
  wrong_size[0] = 1;  // 257: popcount 2, but four hashes follow
  Result<MerkleFrontier> decoded = MerkleFrontier::Decode(wrong_size);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code(), Code::kCorruption);
}

TEST_F(MerkleTest, FrontierAtRebuildsTheLiveFrontier) {
  MerkleFrontier live;
  for (std::uint64_t n = 0; n <= kLeaves; ++n) {
    Result<MerkleFrontier> rebuilt = FrontierAt(Reader(n), n);
    ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
    EXPECT_EQ(rebuilt->Encode(), live.Encode()) << "size " << n;
    if (n < kLeaves) live.Append(naive_->leaf(n), nullptr);
  }
}

// ---- Range covers (export bundles)

TEST(MerkleRangeCoverTest, IsTheGreedyAlignedTiling) {
  EXPECT_TRUE(RangeCover(5, 5).empty());
  EXPECT_TRUE(RangeCover(6, 5).empty());
  EXPECT_EQ(RangeCover(0, 13), (std::vector<SubtreeId>{{3, 0}, {2, 2}, {0, 12}}));
  EXPECT_EQ(RangeCover(3, 13), (std::vector<SubtreeId>{{0, 3}, {2, 1}, {2, 2}, {0, 12}}));
  for (std::uint64_t begin = 0; begin <= 70; ++begin) {
    for (std::uint64_t end = begin + 1; end <= 140; ++end) {
      std::uint64_t at = begin;
      for (SubtreeId id : RangeCover(begin, end)) {
        ASSERT_EQ(SubtreeBegin(id), at);
        const std::uint64_t width = SubtreeEnd(id) - at;
        ASSERT_LE(SubtreeEnd(id), end);
        // Greedy: twice as wide would be misaligned or too long.
        EXPECT_TRUE(at % (2 * width) != 0 || at + 2 * width > end) << begin << "," << end;
        at = SubtreeEnd(id);
      }
      ASSERT_EQ(at, end);
    }
  }
  const std::uint64_t max = ~std::uint64_t{0};
  EXPECT_EQ(RangeCover(max - 1, max), (std::vector<SubtreeId>{{0, max - 1}}));
  EXPECT_EQ(RangeCover(0, max).size(), 64u);
}

TEST(MerkleRangeCoverTest, RootFromCoverRecomputesEveryExportShape) {
  NaiveTree naive(40);
  int checked = 0;
  for (std::uint64_t size = 1; size <= 40; ++size) {
    for (std::uint64_t first = 0; first < size; ++first) {
      for (std::uint64_t last = first + 1; last <= size; ++last) {
        // left = cover before the range, the range's leaves, right = cover after.
        std::vector<std::pair<SubtreeId, Hash>> cover;
        for (SubtreeId id : RangeCover(0, first))
          cover.emplace_back(id, naive.Mth(SubtreeBegin(id), SubtreeEnd(id)));
        for (std::uint64_t i = first; i < last; ++i)
          cover.emplace_back(SubtreeId{0, i}, naive.leaf(i));
        for (SubtreeId id : RangeCover(last, size))
          cover.emplace_back(id, naive.Mth(SubtreeBegin(id), SubtreeEnd(id)));
        ASSERT_EQ(RootFromCover(cover, size), naive.Mth(0, size))
            << first << "," << last << "," << size;
        // Any single changed hash changes the root.
        cover[(first + last) % cover.size()].second[3] ^= 0x40;
        ASSERT_NE(RootFromCover(cover, size), naive.Mth(0, size));
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 11480);
}

TEST(MerkleRangeCoverTest, RootFromCoverRejectsWhatDoesNotTile) {
  NaiveTree naive(16);
  auto piece = [&](int level, std::uint64_t index) {
    SubtreeId id{level, index};
    return std::pair(id, naive.Mth(SubtreeBegin(id), SubtreeEnd(id)));
  };
  using Cover = std::vector<std::pair<SubtreeId, Hash>>;
  EXPECT_EQ(RootFromCover({}, 0), EmptyTreeRoot());
  EXPECT_EQ(RootFromCover(Cover{piece(3, 0), piece(1, 4), piece(0, 10)}, 11), naive.Mth(0, 11));
  EXPECT_EQ(
      RootFromCover(Cover{piece(0, 0), piece(0, 1), piece(1, 1), piece(2, 1), piece(0, 8)}, 9),
      naive.Mth(0, 9));
  EXPECT_FALSE(RootFromCover({}, 3));                                            // nothing
  EXPECT_FALSE(RootFromCover(Cover{piece(1, 0)}, 3));                            // short
  EXPECT_FALSE(RootFromCover(Cover{piece(1, 0), piece(1, 1)}, 3));               // past size
  EXPECT_FALSE(RootFromCover(Cover{piece(1, 0), piece(0, 3)}, 4));               // gap
  EXPECT_FALSE(RootFromCover(Cover{piece(1, 0), piece(0, 1), piece(0, 2)}, 3));  // overlap
  EXPECT_FALSE(RootFromCover(Cover{piece(0, 2), piece(1, 0)}, 3));               // order
  EXPECT_FALSE(
      RootFromCover(Cover{piece(0, 0), piece(1, 0), piece(0, 3)}, 4));  // starts before size
  EXPECT_FALSE(RootFromCover(Cover{piece(0, 0), {SubtreeId{-1, 1}, Hash{}}}, 2));
  EXPECT_FALSE(RootFromCover(Cover{{SubtreeId{64, 0}, Hash{}}}, 1));
  EXPECT_FALSE(RootFromCover(Cover{{SubtreeId{63, 1}, Hash{}}}, 1));
}

TEST(MerkleRangeCoverTest, FrontierAppendSubtreeStreamsACover) {
  NaiveTree naive(21);
  MerkleFrontier frontier;
  EXPECT_FALSE(frontier.AppendSubtree({1, 1}, naive.Mth(2, 4)));  // not at size 0
  for (SubtreeId id : RangeCover(0, 5))
    ASSERT_TRUE(frontier.AppendSubtree(id, naive.Mth(SubtreeBegin(id), SubtreeEnd(id))));
  for (std::uint64_t i = 5; i < 9; ++i) ASSERT_TRUE(frontier.AppendSubtree({0, i}, naive.leaf(i)));
  for (SubtreeId id : RangeCover(9, 21))
    ASSERT_TRUE(frontier.AppendSubtree(id, naive.Mth(SubtreeBegin(id), SubtreeEnd(id))));
  EXPECT_EQ(frontier.size(), 21u);
  EXPECT_EQ(frontier.Root(), naive.Mth(0, 21));
  EXPECT_FALSE(frontier.AppendSubtree({1, 11}, Hash{}));  // 22 is not a multiple of 2
  EXPECT_EQ(frontier.size(), 21u);
}

}  // namespace
}  // namespace runledger::ledger
