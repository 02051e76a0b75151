#include "open311.h"

#include "absl/time/time.h"

namespace reports {

const char* Open311Status(pb::Report::Status status) {
  const bool closed = status == pb::Report::RESOLVED || status == pb::Report::REJECTED ||
                      status == pb::Report::DUPLICATE;
  return closed ? "closed" : "open";
}

namespace open311 {

std::string DateTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

void WriteService(const pb::Service& s, civitas::JsonWriter& out) {
  std::string keywords;
  for (const std::string& k : s.keywords()) keywords += (keywords.empty() ? "" : ",") + k;
  out.BeginObject()
      .Member("service_code", s.name().substr(9))
      .Member("service_name", s.display_name())
      .Member("description", s.description())
      .Member("metadata", s.attributes_size() > 0)
      .Member("type", "realtime")
      .Member("keywords", keywords)
      .Member("group", s.group())
      .EndObject();
}

std::string ServiceDefinition(const pb::Service& s) {
  static const char* kTypes[] = {"string", "string",          "number",        "datetime",
                                 "text",   "singlevaluelist", "multivaluelist"};
  civitas::JsonWriter out;
  out.BeginObject().Member("service_code", s.name().substr(9)).Key("attributes").BeginArray();
  for (const pb::Attribute& a : s.attributes()) {
    out.BeginObject()
        .Member("variable", true)
        .Member("code", a.code())
        .Member("datatype", kTypes[a.datatype()])
        .Member("required", a.required())
        .Member("datatype_description", a.datatype_description())
        .Member("order", a.order())
        .Member("description", a.description())
        .Key("values")
        .BeginArray();
    for (const pb::AttributeChoice& v : a.values()) {
      out.BeginObject().Member("key", v.key()).Member("name", v.name()).EndObject();
    }
    out.EndArray().EndObject();
  }
  out.EndArray().EndObject();
  return out.text();
}

void WriteRequest(const pb::Report& r, const RequestContext& context, civitas::JsonWriter& out) {
  out.BeginObject()
      .Member("service_request_id", r.name().substr(8))
      .Member("status", Open311Status(r.status()))
      .Key("status_notes")
      .StringOrNull(r.status_note())
      .Member("service_name", context.service_name)
      .Member("service_code", r.service().substr(9))
      .Member("description", r.description())
      .Key("agency_responsible")
      .StringOrNull(r.department())
      .Key("service_notice")
      .Null()
      .Member("requested_datetime", DateTime(r.create_time()))
      .Member("updated_datetime", DateTime(r.update_time()))
      .Key("expected_datetime")
      .Null()
      .Key("address")
      .StringOrNull(r.address())
      .Key("address_id")
      .Null()
      .Key("zipcode")
      .Null();
  if (r.has_location()) {
    out.Key("lat").Fixed(r.location().latitude(), 6).Key("long").Fixed(r.location().longitude(), 6);
  } else {
    out.Key("lat").Null().Key("long").Null();
  }
  out.Key("media_url").StringOrNull(context.media_url).EndObject();
}

}  // namespace open311
}  // namespace reports
