#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "ledger/json.h"
#include "ledger/json_writer.h"
#include "ledger/sha256.h"

namespace runledger::server {
namespace {

using ledger::Json;

std::string_view GrantName(Grant grant) { return grant == Grant::kEditor ? "editor" : "viewer"; }

Result<Principal> ParseEntry(const Json& entry, std::string* hash) {
  const Json* name = entry.Find("name");
  const Json* token_hash = entry.Find("token_sha256");
  const Json* role = entry.Find("role");
  if (!name || !name->is_string() || name->string().empty() || !token_hash ||
      !token_hash->is_string() || !role || !role->is_string()) {
    return Status::BadRequest("each token needs a name, token_sha256 and role");
  }
  const auto parsed_role = ParseRole(role->string());
  if (!parsed_role) return Status::BadRequest("unknown role " + role->string());
  if (!ledger::HashFromHex(token_hash->string())) {
    return Status::BadRequest("token_sha256 of " + name->string() + " is not 64 hex characters");
  }
  Principal p;
  p.name = name->string();
  p.role = *parsed_role;
  if (const Json* grants = entry.Find("datastores"); grants && grants->is_object()) {
    for (const auto& [ds, grant] : grants->object()) {
      if (!grant.is_string() || (grant.string() != "viewer" && grant.string() != "editor")) {
        return Status::BadRequest("datastore grants are viewer or editor");
      }
      p.datastores[ds] = grant.string() == "editor" ? Grant::kEditor : Grant::kViewer;
    }
  }
  *hash = token_hash->string();
  for (char& c : *hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return p;
}

std::string_view HostPart(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    return host.substr(0, colon);
  }
  return host;
}

bool IsLoopbackName(std::string_view host) {
  if (host == "localhost" || host == "::1" || host.ends_with(".localhost")) return true;
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin: return "admin";
    case Role::kAuditor: return "auditor";
    case Role::kWorker: return "worker";
    case Role::kMember: return "member";
  }
  return "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "auditor") return Role::kAuditor;
  if (name == "worker") return Role::kWorker;
  if (name == "member") return Role::kMember;
  return std::nullopt;
}

Grant Principal::GrantOn(std::string_view datastore) const {
  if (role != Role::kMember) return role == Role::kAdmin ? Grant::kEditor : Grant::kViewer;
  Grant best = Grant::kNone;
  for (const auto& key : {std::string(datastore), std::string("*")}) {
    if (auto it = datastores.find(key); it != datastores.end() && it->second > best) best = it->second;
  }
  return best;
}

bool Principal::CanView(std::string_view datastore) const { return GrantOn(datastore) >= Grant::kViewer; }
bool Principal::CanEdit(std::string_view datastore) const {
  return role == Role::kAdmin || (role == Role::kMember && GrantOn(datastore) == Grant::kEditor);
}

std::optional<std::vector<std::string>> Principal::VisibleDatastores() const {
  if (role != Role::kMember || datastores.count("*")) return std::nullopt;
  std::vector<std::string> visible;
  for (const auto& [ds, grant] : datastores) visible.push_back(ds);
  return visible;
}

Result<std::shared_ptr<const TokenFile>> TokenFile::Parse(std::string_view json) {
  auto parsed = ledger::ParseJson(json);
  if (!parsed) return Status::BadRequest("tokens file is not valid JSON: " + parsed.error().message());
  const Json* tokens = parsed->Find("tokens");
  if (!tokens || !tokens->is_array()) return Status::BadRequest("tokens file needs a \"tokens\" array");
  auto file = std::make_shared<TokenFile>();
  std::map<std::string, bool> names;
  for (const Json& entry : tokens->array()) {
    std::string hash;
    auto principal = ParseEntry(entry, &hash);
    if (!principal) return principal.error();
    if (names[principal->name]) return Status::BadRequest("token name " + principal->name + " is repeated");
    names[principal->name] = true;
    file->by_hash_[hash] = std::move(*principal);
  }
  return std::shared_ptr<const TokenFile>(std::move(file));
}

Result<std::shared_ptr<const TokenFile>> TokenFile::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read tokens file " + path);
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::BadRequest("tokens file " + path + " is writable by group or others; chmod 600 it");
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

const Principal* TokenFile::Authenticate(std::string_view token) const {
  const std::string hash = ledger::ToHex(ledger::Sha256(token));
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return nullptr;
  // The map lookup only reveals timing about the hash; confirm in constant time.
  return CRYPTO_memcmp(it->first.data(), hash.data(), hash.size()) == 0 ? &it->second : nullptr;
}

bool TokenFile::HasName(std::string_view name) const {
  for (const auto& [hash, p] : by_hash_) {
    if (p.name == name) return true;
  }
  return false;
}

Result<std::string> TokenFile::AddToken(const std::string& path, const std::string& name, Role role,
                                        const std::map<std::string, Grant>& datastores) {
  Json root = Json::MakeObject();
  root.Set("tokens", Json::MakeArray());
  if (std::ifstream in(path); in) {
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = ledger::ParseJson(text.str());
    if (!parsed || !parsed->Find("tokens") || !parsed->Find("tokens")->is_array()) {
      return Status::BadRequest("tokens file " + path + " is not a tokens file");
    }
    root = std::move(*parsed);
  }
  for (const Json& entry : root.Find("tokens")->array()) {
    const Json* existing = entry.Find("name");
    if (existing && existing->is_string() && existing->string() == name) {
      return Status::BadRequest("a token named " + name + " already exists");
    }
  }
  unsigned char random[32];
  if (RAND_bytes(random, sizeof random) != 1) return Status::Internal("no randomness");
  const std::string token = "rl_" + ledger::HexOf(std::string_view(reinterpret_cast<char*>(random), sizeof random));
  Json entry = Json::MakeObject();
  entry.Set("name", Json::String(name));
  entry.Set("token_sha256", Json::String(ledger::ToHex(ledger::Sha256(token))));
  entry.Set("role", Json::String(std::string(RoleName(role))));
  if (!datastores.empty()) {
    Json grants = Json::MakeObject();
    for (const auto& [ds, grant] : datastores) grants.Set(ds, Json::String(std::string(GrantName(grant))));
    entry.Set("datastores", std::move(grants));
  }
  root.Find("tokens")->array().push_back(std::move(entry));
  std::string out;
  ledger::JsonWriter(&out).Value(root);
  const std::string temp = path + ".tmp";
  {
    std::ofstream file(temp, std::ios::trunc);
    if (!file) return Status::IOError("cannot write " + temp);
    file << out << "\n";
  }
  ::chmod(temp.c_str(), 0600);
  if (std::rename(temp.c_str(), path.c_str()) != 0) return Status::IOError("cannot replace " + path);
  return token;
}

bool IsLoopbackHost(std::string_view host_header) { return IsLoopbackName(HostPart(host_header)); }

bool IsLoopbackOrigin(std::string_view origin) {
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view rest = origin.substr(scheme + 3);
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  return IsLoopbackName(HostPart(rest));
}

}  // namespace runledger::server
