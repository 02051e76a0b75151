// The HTTP side of a module method: its google.api.http rules (and additional_bindings) as
// HttpBindings, the protobuf request built from an HTTP request for one of them, and the index
// of a city's bindings that the route table carries (CityRoutes::http), so that a request is
// matched against the few bindings its path can match instead of every binding of every module.
#ifndef CIVITAS_GATEWAY_HTTP_RULE_H_
#define CIVITAS_GATEWAY_HTTP_RULE_H_

#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/gateway/module_loader.h"
#include "services/gateway/path_template.h"

namespace civitas::gateway {

struct HttpBinding {
  std::string verb;  // GET, POST, PATCH, PUT, DELETE or a custom one
  PathTemplate path;
  std::string body;           // "", "*" or a field name
  std::string response_body;  // "" or a field name
  const MethodInfo* method;   // owned by the LoadedModule the bindings were made from
  const google::protobuf::MethodDescriptor* descriptor;
};

// The bindings of one method's google.api.http option (and its additional_bindings).
absl::Status RulesOf(const google::protobuf::MethodDescriptor* descriptor, const MethodInfo* method,
                     std::vector<HttpBinding>* out);

// The bindings a module declares; INVALID_ARGUMENT naming the method for a bad annotation.
absl::StatusOr<std::vector<HttpBinding>> BindingsOf(const LoadedModule& module);

// The binary request for `binding` from the path variables, the query string (not decoded) and
// the JSON body. INVALID_ARGUMENT with a message for the client if they do not fit the message.
absl::StatusOr<std::string> BuildRequest(const HttpBinding& binding,
                                         const std::map<std::string, std::string>& variables,
                                         const std::string& query, const std::string& body);

// The language an Accept-Language header (RFC 9110 §12.5.4) prefers most: the tag with the
// highest q (the first of equals), "*" and q=0 skipped; "" if none is a plausible language tag.
std::string PreferredLanguage(absl::string_view accept_language);

// For a method whose request has a `language_code` string field and no request body: the query
// with `language_code=<preferred language>` added when the client sent Accept-Language but no
// language_code (or languageCode) parameter. Otherwise the query as it is.
std::string QueryWithAcceptLanguage(const HttpBinding& binding, const std::string& query,
                                    absl::string_view accept_language);

// True if the binding's answer depends on Accept-Language (see QueryWithAcceptLanguage).
bool UsesAcceptLanguage(const HttpBinding& binding);

// One city's bindings, bucketed by the literal segments their templates start with. Immutable;
// built with the city's routes (CityRoutes::Index), so it lives exactly as long as the modules
// whose MethodInfo it points to.
class HttpBindingIndex {
 public:
  // The bindings of `modules`, in their order. A module with a bad annotation adds none (its
  // gRPC methods still serve).
  explicit HttpBindingIndex(const std::vector<const LoadedModule*>& modules);

  // Every binding whose template could match `path` (no query string), in declaration order:
  // the others cannot. The caller still runs PathTemplate::Match on each.
  std::vector<const HttpBinding*> Candidates(absl::string_view path) const;
  size_t size() const { return bindings_.size(); }
  const std::vector<HttpBinding>& bindings() const { return bindings_; }

 private:
  // How many leading literal segments key a bucket.
  static constexpr size_t kDepth = 2;

  std::vector<HttpBinding> bindings_;
  // "" / "v1" / "v1/articles" -> positions in bindings_, ascending.
  absl::flat_hash_map<std::string, std::vector<size_t>> buckets_;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_RULE_H_
