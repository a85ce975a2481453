// VerifyExport: checks a bundle (grammar in ledger/export.h) line by line,
// keeping O(log n) hashes: the leaves of the range are folded into the
// aligned pieces of RangeCover(first - 1, last) as they stream by, and the
// pieces are joined with the trailer's left and right covers at the end.

#include <cstring>
#include <vector>

#include "ledger/canonical_json.h"
#include "ledger/export.h"
#include "ledger/merkle.h"
#include "ledger/signing.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

constexpr size_t kReadBufferBytes = 64 << 10;

// Splits a stream into lines ("\n"-terminated; the last may lack it), each
// at most kExportLineMaxBytes, with a fixed buffer.
class LineReader {
 public:
  explicit LineReader(std::istream& in) : in_(in), buffer_(kReadBufferBytes) {}

  // true with the next line in *line; false at the end.
  Result<bool> Next(std::string* line) {
    line->clear();
    bool any = false;
    for (;;) {
      if (begin_ == end_) {
        in_.read(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        begin_ = 0;
        end_ = static_cast<size_t>(in_.gcount());
        bytes_ += end_;
        if (end_ == 0) {
          if (in_.bad()) return Status::IOError("reading the bundle failed");
          if (any) ++number_;
          return any;
        }
      }
      any = true;
      const char* start = buffer_.data() + begin_;
      const void* newline = std::memchr(start, '\n', end_ - begin_);
      const size_t n =
          newline ? static_cast<size_t>(static_cast<const char*>(newline) - start) : end_ - begin_;
      if (line->size() + n > kExportLineMaxBytes) {
        return Status::Corruption("line " + std::to_string(number_ + 1) + ": longer than " +
                                  std::to_string(kExportLineMaxBytes) + " bytes");
      }
      line->append(start, n);
      begin_ += n;
      if (newline) {
        ++begin_;
        ++number_;
        return true;
      }
    }
  }
  std::uint64_t number() const { return number_; }  // of the line last returned
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::istream& in_;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  std::uint64_t number_ = 0;
  std::uint64_t bytes_ = 0;
};

Status Bad(std::uint64_t line, const std::string& why) {
  return Status::Corruption("line " + std::to_string(line) + ": " + why);
}

// 64 lowercase hex characters, as the ledger writes them (no other spelling
// is accepted, so a changed letter case is caught too).
std::optional<Hash> LowerHex(const Json* value) {
  if (value == nullptr || !value->is_string() || value->string().size() != 64) return std::nullopt;
  for (char c : value->string()) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return HashFromHex(value->string());
}

struct Header {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::optional<std::string> run_id;
};

Result<Header> ParseHeader(const Json& line) {
  const Json* e = line.Find("export");
  if (!line.is_object() || line.object().size() != 1 || !e || !e->is_object() ||
      e->object().size() != 7) {
    return Bad(1, "not an export header {\"export\":{...}}");
  }
  const Json* first = e->Find("first");
  const Json* last = e->Find("last");
  const Json* from = e->Find("from");
  const Json* to = e->Find("to");
  const Json* created_at = e->Find("created_at");
  const Json* datastore = e->Find("datastore");
  const Json* run_id = e->Find("run_id");
  // 0 stands for absent or malformed: positions start at 1.
  const std::int64_t first_value = first ? first->AsSafeInteger().value_or(0) : 0;
  const std::int64_t last_value = last ? last->AsSafeInteger().value_or(0) : 0;
  const auto from_ms = from ? ParseRfc3339Ms(from->string()) : std::nullopt;
  const auto to_ms = to ? ParseRfc3339Ms(to->string()) : std::nullopt;
  if (first_value < 1 || last_value < first_value || !from_ms || !to_ms || !created_at ||
      !created_at->is_string() || !datastore || !(datastore->is_null() || datastore->is_string()) ||
      !run_id || !(run_id->is_null() || run_id->is_string())) {
    return Bad(1, "the export header has a missing or malformed member");
  }
  Header h{static_cast<std::uint64_t>(first_value), static_cast<std::uint64_t>(last_value),
           *from_ms, *to_ms, std::nullopt};
  if (run_id->is_string()) h.run_id = run_id->string();
  return h;
}

// Folds leaves of [begin, end) into the hashes of RangeCover(begin, end).
class RangeHasher {
 public:
  RangeHasher(std::uint64_t begin, std::uint64_t end) : cover_(RangeCover(begin, end)) {}
  void Append(const Hash& leaf) {
    piece_.Append(leaf, {});
    if (done_.size() < cover_.size() &&
        piece_.size() == SubtreeEnd(cover_[done_.size()]) - SubtreeBegin(cover_[done_.size()])) {
      done_.emplace_back(cover_[done_.size()], piece_.Root());
      piece_ = MerkleFrontier();
    }
  }
  const std::vector<std::pair<SubtreeId, Hash>>& pieces() const { return done_; }

 private:
  std::vector<SubtreeId> cover_;
  std::vector<std::pair<SubtreeId, Hash>> done_;
  MerkleFrontier piece_;
};

// One event line: the leaf it contributes, after checking what can be.
Status CheckEventLine(Json& line, std::uint64_t n, std::uint64_t expected, const Header& h,
                      Hash* leaf, bool* full) {
  if (!line.is_object()) return Bad(n, "not a JSON object");
  if (line.Find("checkpoint")) {
    return Bad(n, "the trailer comes where position " + std::to_string(expected) +
                      " was expected: positions up to " + std::to_string(h.last) + " are missing");
  }
  const Json* position = line.Find("position");
  const auto value = position ? position->AsSafeInteger() : std::nullopt;
  if (!value) return Bad(n, "no position");
  if (*value != static_cast<std::int64_t>(expected)) {
    return Bad(n, "position " + std::to_string(*value) + " where " + std::to_string(expected) +
                      " was expected (a line is missing, added or out of order)");
  }
  if (const Json* claimed_json = line.Find("hash")) {
    const auto claimed = LowerHex(claimed_json);
    if (!claimed) return Bad(n, "the event's hash is not 64 lowercase hex characters");
    line.Erase("hash");
    *leaf = LeafHash(Canonical(line));
    if (*leaf != *claimed) return Bad(n, "the event's content does not match its hash");
    const Json* recorded_at = line.Find("recorded_at");
    const auto ms = recorded_at ? ParseRfc3339Ms(recorded_at->string()) : std::nullopt;
    if (!ms || *ms < h.from_ms || *ms >= h.to_ms) {
      return Bad(n, "the event's recorded_at is outside the export's [from, to)");
    }
    const Json* run_id = line.Find("run_id");
    if (h.run_id && (!run_id || run_id->string() != *h.run_id)) {
      return Bad(n, "the event belongs to another run than the export's run_id");
    }
    *full = true;
    return Status::Ok();
  }
  const auto hash = LowerHex(line.Find("leaf_hash"));
  if (line.object().size() != 2 || !hash) {
    return Bad(n, "neither a stored event nor a {\"position\",\"leaf_hash\"} line");
  }
  *leaf = *hash;
  *full = false;
  return Status::Ok();
}

// Hashes of a trailer array; nullopt unless `count` lowercase hex strings.
std::optional<std::vector<Hash>> HashArray(const Json* array, size_t count) {
  if (array == nullptr || !array->is_array() || array->array().size() != count) return std::nullopt;
  std::vector<Hash> hashes;
  for (const Json& item : array->array()) {
    const auto hash = LowerHex(&item);
    if (!hash) return std::nullopt;
    hashes.push_back(*hash);
  }
  return hashes;
}

// Joins left + the range's pieces + right into the root of the first `size` leaves.
std::optional<Hash> JoinedRoot(const Header& h, const std::vector<Hash>& left,
                               const std::vector<std::pair<SubtreeId, Hash>>& pieces,
                               const std::vector<Hash>& right, std::uint64_t size) {
  MerkleFrontier frontier;
  const auto left_ids = RangeCover(0, h.first - 1);
  for (size_t i = 0; i < left_ids.size(); ++i) {
    if (!frontier.AppendSubtree(left_ids[i], left[i])) return std::nullopt;
  }
  for (const auto& [id, hash] : pieces) {
    if (!frontier.AppendSubtree(id, hash)) return std::nullopt;
  }
  const auto right_ids = RangeCover(h.last, size);
  for (size_t i = 0; i < right_ids.size(); ++i) {
    if (!frontier.AppendSubtree(right_ids[i], right[i])) return std::nullopt;
  }
  if (frontier.size() != size) return std::nullopt;
  return frontier.Root();
}

Status CheckTrailer(const Json& line, std::uint64_t n, const Header& h, const RangeHasher& range,
                    std::string_view key_pem, const std::optional<Checkpoint>& trusted,
                    VerifyExportReport* report) {
  const Json* cp_json = line.Find("checkpoint");
  if (!line.is_object() || !cp_json || !cp_json->is_object()) {
    return Bad(
        n, "expected the trailer {\"checkpoint\",...} after position " + std::to_string(h.last));
  }
  for (const auto& [name, value] : line.object()) {
    if (name != "checkpoint" && name != "left" && name != "right" && name != "since_size" &&
        name != "consistency") {
      return Bad(n, "the trailer has an unknown member \"" + name + "\"");
    }
  }
  auto cp = Checkpoint::FromJson(Canonical(*cp_json));
  if (!cp) return Bad(n, "the checkpoint is malformed");
  if (cp->key_id != KeyIdOfPublicPem(key_pem)) {
    return Bad(n, "the checkpoint names key " + cp->key_id + ", not the given key");
  }
  if (!cp->VerifyWith(key_pem)) return Bad(n, "the checkpoint's signature does not verify");
  if (cp->size < h.last) return Bad(n, "the checkpoint does not cover the export's last position");
  const auto left = HashArray(line.Find("left"), RangeCover(0, h.first - 1).size());
  const auto right = HashArray(line.Find("right"), RangeCover(h.last, cp->size).size());
  if (!left || !right) return Bad(n, "left or right is not the subtree cover the range needs");
  const auto root = JoinedRoot(h, *left, range.pieces(), *right, cp->size);
  if (!root || *root != cp->root) {
    return Bad(n,
               "left, the lines' leaf hashes and right do not hash to the checkpoint's root "
               "(a leaf_hash line or the trailer was changed)");
  }
  const Json* since = line.Find("since_size");
  const Json* consistency = line.Find("consistency");
  const std::int64_t since_size =
      since ? since->AsSafeInteger().value_or(-1) : -1;  // -1: absent or bad
  if ((since == nullptr) != (consistency == nullptr) || (since && since_size < 0) ||
      (consistency && !consistency->is_array())) {
    return Bad(n, "since_size and consistency must come together");
  }
  if (trusted) {
    if (trusted->size > cp->size) {
      return Bad(n, "the bundle's checkpoint (size " + std::to_string(cp->size) +
                        ") is older than the trusted one (size " + std::to_string(trusted->size) +
                        ")");
    }
    if (!since || static_cast<std::uint64_t>(since_size) != trusted->size) {
      return Bad(n, "the trailer carries no consistency proof from size " +
                        std::to_string(trusted->size) +
                        " (export with since_size=" + std::to_string(trusted->size) + ")");
    }
    const auto path = HashArray(consistency, consistency->array().size());
    if (!path || !VerifyConsistency(trusted->size, cp->size, trusted->root, cp->root, *path)) {
      return Bad(n, "the checkpoint does not extend the trusted checkpoint");
    }
  }
  if (report) {
    report->checkpoint = std::move(*cp);
    report->extends_trusted = trusted.has_value();
  }
  return Status::Ok();
}

Result<Json> ParseLine(const std::string& text, std::uint64_t n) {
  JsonParseOptions options;
  options.allow_large_integer_literals = true;  // canonical JSON writes 1e20 in full
  auto parsed = ParseJson(std::string_view(text), options);
  if (!parsed) return Bad(n, "not JSON (" + parsed.error().message() + ")");
  return parsed;
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

Status VerifyExport(std::istream& in, std::string_view public_key_pem,
                    const std::optional<Checkpoint>& trusted, VerifyExportReport* report) {
  if (!KeyIdOfPublicPem(public_key_pem)) {
    return Status::BadRequest("the public key is not an Ed25519 public key PEM");
  }
  if (trusted && !trusted->VerifyWith(public_key_pem)) {
    return Status::BadRequest("the trusted checkpoint is not signed by the given key");
  }
  LineReader lines(in);
  std::string text;
  auto more = lines.Next(&text);
  if (!more) return more.error();
  if (!*more) return Bad(1, "the bundle is empty");
  auto header_json = ParseLine(text, 1);
  if (!header_json) return header_json.error();
  auto header = ParseHeader(*header_json);
  if (!header) return header.error();
  const Header& h = *header;
  RangeHasher range(h.first - 1, h.last);
  VerifyExportReport counts;
  for (std::uint64_t expected = h.first; expected <= h.last; ++expected) {
    more = lines.Next(&text);
    if (!more) return more.error();
    if (!*more) {
      return Bad(lines.number() + 1, "the bundle ends before position " + std::to_string(expected) +
                                         " and its trailer: it was truncated");
    }
    auto line = ParseLine(text, lines.number());
    if (!line) return line.error();
    Hash leaf;
    bool full = false;
    RUNLEDGER_RETURN_IF_ERROR(CheckEventLine(*line, lines.number(), expected, h, &leaf, &full));
    ++(full ? counts.events : counts.leaf_hashes);
    range.Append(leaf);
  }
  more = lines.Next(&text);
  if (!more) return more.error();
  if (!*more)
    return Bad(lines.number() + 1, "the bundle ends before its trailer: it was truncated");
  auto trailer = ParseLine(text, lines.number());
  if (!trailer) return trailer.error();
  RUNLEDGER_RETURN_IF_ERROR(
      CheckTrailer(*trailer, lines.number(), h, range, public_key_pem, trusted, &counts));
  for (;;) {
    more = lines.Next(&text);
    if (!more) return more.error();
    if (!*more) break;
    if (!IsBlank(text)) return Bad(lines.number(), "content after the trailer");
  }
  counts.first = h.first;
  counts.last = h.last;
  counts.bytes = lines.bytes();
  if (report) *report = std::move(counts);
  return Status::Ok();
}

}  // namespace runledger::ledger
