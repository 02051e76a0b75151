// Sample data for a new city: JSON lines, each one call that runs through the module exactly as a
// client's call would (same handler, same validation, same storage), e.g.
//   {"method": "/civitas.noticeboard.v1.NoticeboardService/CreateNotice",
//    "subject": "stadtverwaltung", "roles": ["editor"], "request": {"notice": {"title": "…"}}}
#ifndef CIVITAS_GATEWAY_SEED_H_
#define CIVITAS_GATEWAY_SEED_H_

#include <string>

#include "absl/status/status.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway {

// Runs every line against `city`. Stops at the first failure, naming the line.
absl::Status RunSeed(const CityRoutes& city, const std::string& jsonl, const std::string& source);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_SEED_H_
