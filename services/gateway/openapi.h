// An OpenAPI 3.1 description of one city's JSON/HTTP API, made at run time from what the gateway
// serves there: the google.api.http bindings of the city's modules and of the gateway's own
// services, their request and response messages (protobuf's JSON mapping: lowerCamelCase names,
// 64-bit integers as strings, enums by name, well-known types as their JSON forms), the role each
// method requires, and the errors every method may answer. Served at /openapi.json (and
// /cities/{city}/openapi.json) by the transcoder, anonymous and cacheable.
#ifndef CIVITAS_GATEWAY_OPENAPI_H_
#define CIVITAS_GATEWAY_OPENAPI_H_

#include <string>
#include <vector>

#include "services/gateway/http_rule.h"

namespace civitas::gateway {

// The document for `city`, whose bindings are `bindings` (in declaration order), reached under
// `base_path` (e.g. "/cities/demo").
std::string OpenApiDocument(const std::string& city, const std::string& base_path,
                            const std::vector<const HttpBinding*>& bindings);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_OPENAPI_H_
