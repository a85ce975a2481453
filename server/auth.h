#pragma once

// Access (SPEC section 5): tokens, roles and per-datastore grants.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/status.h"

namespace runledger::server {

enum class Role { kAdmin, kAuditor, kWorker, kMember };
enum class Grant { kNone, kViewer, kEditor };

std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct Principal {
  std::string name;
  Role role = Role::kMember;
  std::map<std::string, Grant> datastores;  // members only; "*" is every datastore

  Grant GrantOn(std::string_view datastore) const;
  bool CanView(std::string_view datastore) const;
  bool CanEdit(std::string_view datastore) const;
  bool SeesDeleted() const { return role == Role::kAdmin || role == Role::kAuditor; }
  // Datastores a member may view, or nullopt for every one.
  std::optional<std::vector<std::string>> VisibleDatastores() const;
};

// The tokens file: {"tokens":[{"name","token_sha256","role","datastores"}]}.
class TokenFile {
 public:
  // InvalidArgument-style errors (kBadRequest) name the problem: a repeated
  // name, an unknown role, a malformed hash.
  static Result<std::shared_ptr<const TokenFile>> Load(const std::string& path);
  static Result<std::shared_ptr<const TokenFile>> Parse(std::string_view json);

  // The principal whose token this is; comparison in constant time.
  const Principal* Authenticate(std::string_view token) const;
  bool HasName(std::string_view name) const;

  // Adds a token to the file at `path` (created if missing) and returns the
  // token, which is printed once and never stored.
  static Result<std::string> AddToken(const std::string& path, const std::string& name, Role role,
                                      const std::map<std::string, Grant>& datastores);

 private:
  std::unordered_map<std::string, Principal> by_hash_;  // hex SHA-256 -> principal
};

// Loopback names and addresses: localhost, 127.0.0.0/8, ::1 (with or without port).
bool IsLoopbackHost(std::string_view host_header);
// The host part of an Origin header (scheme://host[:port]); loopback check as above.
bool IsLoopbackOrigin(std::string_view origin);

}  // namespace runledger::server
