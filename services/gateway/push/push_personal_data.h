// A signed-in subject's push devices in PrivacyService's export and erasure: push addresses are
// personal data.
#ifndef CIVITAS_GATEWAY_PUSH_PUSH_PERSONAL_DATA_H_
#define CIVITAS_GATEWAY_PUSH_PUSH_PERSONAL_DATA_H_

#include <string>

#include "absl/status/status.h"
#include "services/gateway/push/push_cities.h"

namespace civitas::gateway::push {

// {"devices": [Device as protobuf JSON, push address included], ...} for the devices `subject`
// registered while signed in. Anonymous registrations belong to no subject and are not found.
absl::Status ExportPushData(const PushCities& cities, const std::string& city,
                            const std::string& subject, std::string* json);
// Deletes those devices (their pending deliveries end as removed), and removes the subject as
// the sender of the messages it sent.
absl::Status ErasePushData(const PushCities& cities, const std::string& city,
                           const std::string& subject);

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_PUSH_PERSONAL_DATA_H_
