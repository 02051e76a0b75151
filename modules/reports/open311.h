// Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): the JSON a city's reports and
// services are exported as, rendered with the SDK's JsonWriter. Pure functions of the stored
// records, so each field is tested against the specification's field list directly.
#ifndef CIVITAS_MODULES_REPORTS_OPEN311_H_
#define CIVITAS_MODULES_REPORTS_OPEN311_H_

#include <string>

#include "civitas/json.h"
#include "civitas/reports/v1/reports.pb.h"

namespace reports {

namespace pb = ::civitas::reports::v1;

// "open" or "closed", as Open311 knows it.
const char* Open311Status(pb::Report::Status status);

namespace open311 {

// A GeoReport v2 datetime: RFC 3339 in UTC, whole seconds ("2026-11-01T09:30:00Z").
std::string DateTime(const google::protobuf::Timestamp& t);

// One entry of services.json: service_code, service_name, description, metadata (whether the
// service has attributes), type ("realtime"), keywords (comma-separated), group.
void WriteService(const pb::Service& service, civitas::JsonWriter& out);

// services/{code}.json: service_code and attributes (variable, code, datatype, required,
// datatype_description, order, description, values of key and name).
std::string ServiceDefinition(const pb::Service& service);

// What one entry of requests.json needs besides the report.
struct RequestContext {
  std::string service_name;  // the service's display name (its code if it is gone)
  std::string media_url;     // the first photo's public URL, or empty
};

// One entry of requests.json: service_request_id, status, status_notes, service_name,
// service_code, description, agency_responsible, service_notice, requested_datetime,
// updated_datetime, expected_datetime, address, address_id, zipcode, lat, long, media_url.
// Fields the city does not know are null.
void WriteRequest(const pb::Report& report, const RequestContext& context,
                  civitas::JsonWriter& out);

}  // namespace open311
}  // namespace reports

#endif  // CIVITAS_MODULES_REPORTS_OPEN311_H_
