// google.api.http path templates (AIP-127): "/v1/{name=articles/*}:publish" parsed once and
// matched against request paths, with the variables they bind.
#ifndef CIVITAS_GATEWAY_PATH_TEMPLATE_H_
#define CIVITAS_GATEWAY_PATH_TEMPLATE_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace civitas::gateway {

// A parsed path template: "/v1/{name=articles/*}:publish".
class PathTemplate {
 public:
  static absl::StatusOr<PathTemplate> Parse(const std::string& text);
  // Matches a path (no query, not yet percent-decoded); fills field path -> value.
  bool Match(const std::string& path, std::map<std::string, std::string>* variables) const;
  const std::string& text() const { return text_; }
  // The literal segments the template starts with, at most `max` of them ("/v1/{name=articles/*}"
  // -> "v1", "articles"): a path it matches starts with the same segments (HttpBindingIndex).
  std::vector<std::string> LeadingLiterals(size_t max) const;

  // The template as an OpenAPI path, whose parameters cannot hold '/': each wildcard of a
  // variable becomes a parameter of its own, named after the literal before it as Google's API
  // descriptions do ("/v1/{name=events/*}:register" -> "/v1/events/{eventsId}:register"), or
  // after the field for a lone wildcard ("{article_id}"). `parameters` gets, per parameter, its
  // name and the field it is part of.
  struct Parameter {
    std::string name;
    std::string field_path;
  };
  std::string OpenApiPath(std::vector<Parameter>* parameters) const;

 private:
  struct Segment {
    enum Kind { kLiteral, kStar, kDoubleStar } kind;
    std::string literal;
  };
  struct Variable {
    std::string field_path;
    size_t begin, end;  // segment range
  };
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
};

// Decodes %XX escapes (and '+' as a space if `plus_is_space`, as in query strings); false for a
// broken escape.
bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_PATH_TEMPLATE_H_
