#include "ledger/checkpoint.h"

#include "ledger/json.h"
#include "ledger/json_writer.h"
#include "ledger/signing.h"

namespace runledger::ledger {

std::string Checkpoint::SignedMessage() const {
  return "runledger-checkpoint\n" + std::to_string(size) + "\n" + ToHex(root) + "\n" +
         recorded_at + "\n";
}

std::string Checkpoint::ToJson() const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("size").Uint(size)
      .Key("root").String(ToHex(root))
      .Key("recorded_at").String(recorded_at)
      .Key("key_id").String(key_id)
      .Key("signature").String(signature)
      .EndObject();
  return out;
}

Result<Checkpoint> Checkpoint::FromJson(std::string_view json) {
  auto parsed = ParseJson(json);
  if (!parsed) return Status::Corruption("checkpoint is not JSON: " + parsed.error().message());
  const Json* size = parsed->Find("size");
  const Json* root = parsed->Find("root");
  const Json* recorded_at = parsed->Find("recorded_at");
  const Json* key_id = parsed->Find("key_id");
  const Json* signature = parsed->Find("signature");
  if (!size || !root || !recorded_at || !key_id || !signature || !root->is_string() ||
      !recorded_at->is_string() || !key_id->is_string() || !signature->is_string()) {
    return Status::Corruption("checkpoint lacks a member");
  }
  const auto size_value = size->AsSafeInteger();
  const auto root_hash = HashFromHex(root->string());
  if (!size_value || *size_value < 0 || !root_hash) {
    return Status::Corruption("checkpoint has a malformed size or root");
  }
  Checkpoint cp;
  cp.size = static_cast<std::uint64_t>(*size_value);
  cp.root = *root_hash;
  cp.recorded_at = recorded_at->string();
  cp.key_id = key_id->string();
  cp.signature = signature->string();
  return cp;
}

bool Checkpoint::VerifyWith(std::string_view public_key_pem) const {
  const auto expected_key_id = KeyIdOfPublicPem(public_key_pem);
  const auto raw = Base64Decode(signature);
  return expected_key_id && *expected_key_id == key_id && raw &&
         VerifySignature(public_key_pem, SignedMessage(), *raw);
}

}  // namespace runledger::ledger
