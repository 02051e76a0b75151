// What a client may write of an event, and the checks every written event passes
// (Calendar::Normalize, in validation.cc).
#ifndef CIVITAS_MODULES_EVENTS_VALIDATION_H_
#define CIVITAS_MODULES_EVENTS_VALIDATION_H_

#include <set>
#include <string>

#include "civitas/events/v1/events.pb.h"

namespace events {

namespace pb = ::civitas::events::v1;

// The field mask paths UpdateEvent accepts.
const std::set<std::string>& WritablePaths();
// Copies the field at `path` (one of WritablePaths()) from `from` to `to`.
void CopyField(const std::string& path, const pb::Event& from, pb::Event* to);

}  // namespace events

#endif  // CIVITAS_MODULES_EVENTS_VALIDATION_H_
