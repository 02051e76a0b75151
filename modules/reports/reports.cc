#include "reports.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "civitas/config.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "open311.h"

namespace reports {
namespace {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

constexpr char kServices[] = "services/";

// Reports a device may send without signing in, per day (UTC). The gateway bounds anonymous
// writes per client address as well (limits.write_rate); this bounds one app installation.
constexpr int64_t kAnonymousReportsPerDevicePerDay = 10;

// dq/<device id>: "<day since 1970> <reports that day>", for kAnonymousReportsPerDevicePerDay.
std::string DeviceQuotaKey(const std::string& device_id) { return "dq/" + device_id; }
// The secret that lets the sender of an anonymous report claim it once signed in.
std::string ClaimKey(const std::string& id) { return "cs/" + id; }

// 128 bits from the operating system's random source, as hex.
std::string NewClaimSecret() {
  std::random_device device;  // /dev/urandom (getrandom) with libstdc++ on Linux
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(device()));
    out += part;
  }
  return out;
}

// Compares without stopping at the first difference (no timing hint about the secret).
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string Hex(int64_t v) { return civitas::Hex16(static_cast<uint64_t>(v)); }

bool IsCode(const std::string& code) {
  if (code.empty() || code.size() > 40) return false;
  for (char c : code) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

Status CodeFromName(const std::string& name, std::string* code, const std::string& field = "name") {
  if (name.rfind(kServices, 0) != 0 || !IsCode(name.substr(9))) {
    return InvalidArgument(
        field + " must be 'services/{code}' (code: 1 to 40 of a-z, 0-9, '-', '_'), got '" + name +
        "'");
  }
  *code = name.substr(9);
  return OkStatus();
}

// 0.01° grid cells (about 1.1 km north-south): "<lat cell>_<lng cell>", offset to stay positive.
std::string Cell(int lat_cell, int lng_cell) {
  return std::to_string(lat_cell + 9000) + "_" + std::to_string(lng_cell + 18000);
}
int CellOf(double degrees) { return static_cast<int>(std::floor(degrees * 100)); }

}  // namespace

Status ParseConfig(const std::string& json, Config* config) {
  civitas::ConfigReader reader;
  if (Status s = civitas::ConfigReader::Parse(json, &reader); !s.ok()) return s;
  reader
      .Object("area",
              [&](civitas::ConfigReader& area) {
                area.Number("min_latitude", -90, 90, &config->min_latitude)
                    .Number("max_latitude", -90, 90, &config->max_latitude)
                    .Number("min_longitude", -180, 180, &config->min_longitude)
                    .Number("max_longitude", -180, 180, &config->max_longitude);
              })
      .String("public_url", &config->public_url, 2000)
      .Int("max_photos", 0, 10, &config->max_photos)
      .Int("max_photo_bytes", 0, 3 << 20, &config->max_photo_bytes);
  if (Status s = reader.Finish(); !s.ok()) return s;
  if (!(config->min_latitude < config->max_latitude) ||
      !(config->min_longitude < config->max_longitude)) {
    return InvalidArgument(
        "area needs min_latitude < max_latitude and min_longitude < max_longitude");
  }
  while (!config->public_url.empty() && config->public_url.back() == '/')
    config->public_url.pop_back();
  return OkStatus();
}

Status Reports::Create(civitas::City city, std::unique_ptr<Reports>* out) {
  Config config;
  if (Status s = ParseConfig(city.ConfigJson(), &config); !s.ok()) return s;
  *out = std::make_unique<Reports>(city, std::move(config));
  return OkStatus();
}

Status Reports::LoadService(const std::string& code, pb::Service* service) const {
  std::string bytes;
  Status s = city_.store().Get("s/" + code, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND) {
    return civitas::NotFound("service 'services/" + code +
                             "' does not exist; ListServices shows them");
  }
  if (!s.ok()) return s;
  if (!service->ParseFromString(bytes)) return civitas::Internal("stored service is corrupt");
  return OkStatus();
}

Status Reports::LoadReport(const std::string& id, pb::Report* report, civitas::Transaction* txn,
                           bool for_update) const {
  std::string bytes;
  Status s = txn ? txn->Get("r/" + id, &bytes, for_update) : city_.store().Get("r/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("report 'reports/" + id + "' does not exist");
  if (!s.ok()) return s;
  if (!report->ParseFromString(bytes)) return civitas::Internal("stored report is corrupt");
  return OkStatus();
}

pb::Report Reports::View(const pb::Report& stored, civitas::Call& call) const {
  pb::Report out = stored;
  const bool mine = !stored.reporter().empty() && stored.reporter() == call.subject();
  out.set_reported_by_caller(mine);
  if (!mine && !call.HasRole(civitas::Role::kEditor)) {
    out.clear_contact();
    out.clear_device_id();
    out.clear_reporter();
  }
  return out;
}

Status Reports::ListServices(civitas::Call&, const pb::ListServicesRequest&,
                             pb::ListServicesResponse* response) {
  civitas::ScanOptions scan;
  scan.prefix = "s/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<pb::Service> all;
  Status s = city_.store().Scan(scan, [&](std::string_view, std::string_view value) {
    all.emplace_back();
    all.back().ParseFromArray(value.data(), static_cast<int>(value.size()));
    return true;
  });
  if (!s.ok()) return s;
  std::sort(all.begin(), all.end(), [](const pb::Service& a, const pb::Service& b) {
    return std::tie(a.group(), a.display_name()) < std::tie(b.group(), b.display_name());
  });
  for (auto& svc : all) *response->add_services() = std::move(svc);
  return OkStatus();
}

Status Reports::GetService(civitas::Call&, const pb::GetServiceRequest& request,
                           pb::Service* response) {
  std::string code;
  if (Status s = CodeFromName(request.name(), &code); !s.ok()) return s;
  return LoadService(code, response);
}

Status Reports::PutService(civitas::Call&, const pb::PutServiceRequest& request,
                           pb::Service* response) {
  pb::Service svc = request.service();
  std::string code;
  Status s;
  if (s = CodeFromName(svc.name(), &code, "service.name"); !s.ok()) return s;
  if (s = CheckText("service.display_name", svc.display_name(), 1, 100); !s.ok()) return s;
  if (s = CheckText("service.description", svc.description(), 0, 1000); !s.ok()) return s;
  if (s = CheckText("service.group", svc.group(), 0, 100); !s.ok()) return s;
  if (s = CheckText("service.department", svc.department(), 0, 100); !s.ok()) return s;
  if (svc.keywords_size() > 20) return InvalidArgument("service.keywords has at most 20 entries");
  for (const std::string& k : svc.keywords()) {
    if (s = CheckText("service.keywords", k, 1, 40); !s.ok()) return s;
  }
  if (svc.attributes_size() > 30)
    return InvalidArgument("service.attributes has at most 30 entries");
  std::set<std::string> codes;
  for (int i = 0; i < svc.attributes_size(); ++i) {
    const pb::Attribute& a = svc.attributes(i);
    const std::string where = "service.attributes[" + std::to_string(i) + "]";
    if (!IsCode(a.code())) {
      return InvalidArgument(where + ".code must be 1 to 40 of a-z, 0-9, '-', '_', got '" +
                             a.code() + "'");
    }
    if (!codes.insert(a.code()).second)
      return InvalidArgument(where + ".code '" + a.code() + "' appears twice");
    if (s = CheckText(where + ".description", a.description(), 1, 500); !s.ok()) return s;
    if (a.datatype() == pb::Attribute::DATATYPE_UNSPECIFIED ||
        !pb::Attribute::Datatype_IsValid(a.datatype())) {
      return InvalidArgument(where +
                             ".datatype must be STRING, NUMBER, DATETIME, TEXT, "
                             "SINGLE_VALUE_LIST or MULTI_VALUE_LIST");
    }
    const bool list = a.datatype() == pb::Attribute::SINGLE_VALUE_LIST ||
                      a.datatype() == pb::Attribute::MULTI_VALUE_LIST;
    if (list != (a.values_size() > 0)) {
      return InvalidArgument(where + (list ? ".values are required for list attributes"
                                           : ".values are only for list attributes"));
    }
    std::set<std::string> keys;
    for (const auto& v : a.values()) {
      if (v.key().empty() || !keys.insert(v.key()).second) {
        return InvalidArgument(where + ".values need distinct, non-empty keys");
      }
      if (s = CheckText(where + ".values.name", v.name(), 1, 200); !s.ok()) return s;
    }
  }
  std::sort(svc.mutable_attributes()->begin(), svc.mutable_attributes()->end(),
            [](const pb::Attribute& a, const pb::Attribute& b) { return a.order() < b.order(); });
  s = city_.store().RunTransaction(
      [&](civitas::Transaction& txn) { return txn.Put("s/" + code, svc.SerializeAsString()); });
  if (!s.ok()) return s;
  *response = svc;
  return OkStatus();
}

Status Reports::DeleteService(civitas::Call&, const pb::DeleteServiceRequest& request,
                              google::protobuf::Empty*) {
  std::string code;
  if (Status s = CodeFromName(request.name(), &code); !s.ok()) return s;
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string unused;
    Status g = txn.Get("s/" + code, &unused, true);
    if (g.code() == CIVITAS_NOT_FOUND)
      return civitas::NotFound("service '" + request.name() + "' does not exist");
    if (!g.ok()) return g;
    return txn.Delete("s/" + code);
  });
}

Status Reports::CheckAttributes(const pb::Service& service, const pb::Report& report) const {
  std::map<std::string, const pb::AttributeValue*> given;
  for (const pb::AttributeValue& v : report.attributes()) {
    if (!given.emplace(v.code(), &v).second) {
      return InvalidArgument("report.attributes: '" + v.code() + "' is answered twice");
    }
  }
  for (const pb::Attribute& a : service.attributes()) {
    const std::string where = "report.attributes '" + a.code() + "'";
    auto it = given.find(a.code());
    if (it == given.end() || it->second->values_size() == 0) {
      if (a.required()) return InvalidArgument(where + " is required: " + a.description());
      continue;
    }
    const auto& values = it->second->values();
    const bool multi = a.datatype() == pb::Attribute::MULTI_VALUE_LIST;
    if (!multi && values.size() > 1) return InvalidArgument(where + " takes one value");
    for (const std::string& v : values) {
      Status s;
      switch (a.datatype()) {
        case pb::Attribute::STRING:
          s = CheckText(where, v, 1, 200);
          break;
        case pb::Attribute::TEXT:
          s = CheckText(where, v, 1, 2000);
          break;
        case pb::Attribute::NUMBER: {
          double d;
          if (!absl::SimpleAtod(v, &d) || !std::isfinite(d))
            s = InvalidArgument(where + ": '" + v + "' is not a number");
          break;
        }
        case pb::Attribute::DATETIME: {
          absl::Time t;
          std::string err;
          if (!absl::ParseTime(absl::RFC3339_full, v, &t, &err)) {
            s = InvalidArgument(where + ": '" + v +
                                "' is not an RFC 3339 time like 2026-11-27T08:00:00+01:00");
          }
          break;
        }
        default: {
          bool known = false;
          for (const auto& choice : a.values()) known = known || choice.key() == v;
          if (!known) s = InvalidArgument(where + ": '" + v + "' is not one of its values");
        }
      }
      if (!s.ok()) return s;
    }
    given.erase(it);
  }
  if (!given.empty()) {
    return InvalidArgument("report.attributes: '" + given.begin()->first +
                           "' is not an attribute of " + service.name());
  }
  return OkStatus();
}

Status Reports::CreateReport(civitas::Call& call, const pb::CreateReportRequest& request,
                             pb::Report* response) {
  pb::Report r = request.report();
  Status s;
  std::string code;
  if (s = CodeFromName(r.service(), &code, "report.service"); !s.ok()) return s;
  pb::Service service;
  if (s = LoadService(code, &service); !s.ok()) {
    return s.code() == CIVITAS_NOT_FOUND ? InvalidArgument("report.service: " + s.message()) : s;
  }
  r.set_description(civitas::StripHtml(r.description()));
  if (s = CheckText("report.description", r.description(), 10, 4000); !s.ok()) return s;
  if (s = CheckText("report.address", r.address(), 0, 300); !s.ok()) return s;
  if (!r.has_location() && r.address().empty()) {
    return InvalidArgument("report needs a location or an address");
  }
  if (r.has_location()) {
    const double lat = r.location().latitude(), lng = r.location().longitude();
    if (s = civitas::CheckCoordinates("report.location", lat, lng); !s.ok()) return s;
    if (lat < config_.min_latitude || lat > config_.max_latitude || lng < config_.min_longitude ||
        lng > config_.max_longitude) {
      return InvalidArgument("report.location lies outside the city's area");
    }
  }
  if (s = CheckAttributes(service, r); !s.ok()) return s;
  if (s = CheckText("report.contact.name", r.contact().name(), 0, 100); !s.ok()) return s;
  if (s = CheckText("report.contact.phone", r.contact().phone(), 0, 40); !s.ok()) return s;
  if (s = CheckText("report.contact.email", r.contact().email(), 0, 254); !s.ok()) return s;
  if (!r.contact().email().empty() && r.contact().email().find('@') == std::string::npos) {
    return InvalidArgument("report.contact.email is not an e-mail address");
  }
  if (s = CheckText("report.device_id", r.device_id(), 0, 100); !s.ok()) return s;
  if (!call.signed_in() && r.device_id().empty()) {
    return InvalidArgument("report.device_id is required when reporting without signing in");
  }
  if (r.photos_size() > config_.max_photos) {
    return InvalidArgument("report.photos has at most " + std::to_string(config_.max_photos) +
                           " entries, got " + std::to_string(r.photos_size()))
        .WithReason("TOO_MANY_PHOTOS");
  }
  std::vector<std::pair<std::string, std::string>> photos;  // content type, bytes
  for (int i = 0; i < r.photos_size(); ++i) {
    const std::string& data = r.photos(i).data();
    const std::string where = "report.photos[" + std::to_string(i) + "]";
    if (data.size() > config_.max_photo_bytes) {
      return InvalidArgument(where + " has " + std::to_string(data.size()) + " bytes; at most " +
                             std::to_string(config_.max_photo_bytes) + " are allowed")
          .WithReason("PHOTO_TOO_LARGE");
    }
    ImageInfo image;
    const std::string problem = CheckImage(data, kMaxPhotoSide, kMaxPhotoPixels, &image);
    if (!problem.empty()) return InvalidArgument(where + " " + problem).WithReason("PHOTO_INVALID");
    photos.emplace_back(image.content_type, data);
  }
  r.clear_photos();
  const int64_t now = city_.NowMicros();
  const std::string id = civitas::NewResourceId();
  r.set_name("reports/" + id);
  r.set_reporter(std::string(call.subject()));
  r.set_status(pb::Report::SUBMITTED);
  r.clear_status_note();
  r.clear_duplicate_of();
  r.clear_history();
  r.clear_distance_meters();
  r.clear_reported_by_caller();
  r.clear_photo_names();
  r.set_department(service.department());
  for (size_t i = 0; i < photos.size(); ++i)
    r.add_photo_names(r.name() + "/photos/" + std::to_string(i));
  civitas::SetMicros(now, r.mutable_create_time());
  civitas::SetMicros(now, r.mutable_update_time());
  pb::StatusChange* first = r.add_history();
  first->set_status(pb::Report::SUBMITTED);
  first->set_department(r.department());
  civitas::SetMicros(now, first->mutable_time());
  const std::string inv = Hex(INT64_MAX - now);
  const int64_t today = now / (86'400LL * 1'000'000);
  const std::string claim_secret = call.signed_in() ? "" : NewClaimSecret();
  s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    Status w;
    if (!call.signed_in()) {
      if (w = txn.Put(ClaimKey(id), claim_secret); !w.ok()) return w;
      // The device's count of anonymous reports today (UTC), in the same commit as the report.
      std::string quota;
      w = txn.Get(DeviceQuotaKey(r.device_id()), &quota, /*for_update=*/true);
      if (!w.ok() && w.code() != CIVITAS_NOT_FOUND) return w;
      int64_t day = 0, count = 0;
      if (w.ok() && std::sscanf(quota.c_str(), "%" SCNd64 " %" SCNd64, &day, &count) != 2) day = 0;
      if (day != today) count = 0;
      if (count >= kAnonymousReportsPerDevicePerDay) {
        return Status(CIVITAS_RESOURCE_EXHAUSTED,
                      "this device has sent " + std::to_string(kAnonymousReportsPerDevicePerDay) +
                          " reports without signing in today; sign in to send more, or try "
                          "again tomorrow")
            .WithReason("DEVICE_DAILY_LIMIT");
      }
      w = txn.Put(DeviceQuotaKey(r.device_id()),
                  std::to_string(today) + " " + std::to_string(count + 1));
      if (!w.ok()) return w;
    }
    w = txn.Put("r/" + id, r.SerializeAsString());
    if (w.ok()) w = txn.Put("rt/" + inv + id, "");
    if (w.ok() && r.has_location()) {
      w = txn.Put("rg/" + Cell(CellOf(r.location().latitude()), CellOf(r.location().longitude())) +
                      "/" + id,
                  "");
    }
    if (w.ok() && call.signed_in()) w = txn.Put("rm/" + r.reporter() + '\0' + inv + id, "");
    for (size_t i = 0; w.ok() && i < photos.size(); ++i) {
      pb::Photo p;
      p.set_content_type(photos[i].first);
      p.set_data(photos[i].second);
      w = txn.Put("ph/" + id + "/" + std::to_string(i), p.SerializeAsString());
    }
    return w;
  });
  if (!s.ok()) return s;
  *response = View(r, call);
  response->set_claim_secret(claim_secret);
  return OkStatus();
}

Status Reports::ClaimReport(civitas::Call& call, const pb::ClaimReportRequest& request,
                            pb::Report* response) {
  std::string id;
  if (Status s = civitas::IdFromName("reports", request.name(), &id); !s.ok()) return s;
  if (request.claim_secret().empty() || request.claim_secret().size() > 64) {
    return InvalidArgument("claim_secret is required: the one CreateReport answered with");
  }
  const std::string subject(call.subject());
  const int64_t now = city_.NowMicros();
  pb::Report r;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status l = LoadReport(id, &r, &txn, /*for_update=*/true); !l.ok()) return l;
    if (r.reporter() == subject) return OkStatus();  // claimed before: the same answer again
    std::string secret;
    Status g = txn.Get(ClaimKey(id), &secret, /*for_update=*/true);
    if (!g.ok() && g.code() != CIVITAS_NOT_FOUND) return g;
    // One refusal for every reason (claimed by someone else, signed-in report, wrong secret):
    // the answer says nothing about the report's sender.
    if (!g.ok() || !r.reporter().empty() || !SameSecret(secret, request.claim_secret())) {
      return civitas::PermissionDenied("this claim_secret does not claim report '" +
                                       request.name() +
                                       "' (only the secret of its CreateReport answer does, once)")
          .WithReason("CLAIM_SECRET_INVALID");
    }
    r.set_reporter(subject);
    civitas::SetMicros(now, r.mutable_update_time());
    Status w = txn.Put("r/" + id, r.SerializeAsString());
    const int64_t created = civitas::ToMicros(r.create_time());
    if (w.ok()) w = txn.Put("rm/" + subject + '\0' + Hex(INT64_MAX - created) + id, "");
    if (w.ok()) w = txn.Delete(ClaimKey(id));
    return w;
  });
  if (!s.ok()) return s;
  *response = View(r, call);
  return OkStatus();
}

Status Reports::GetReport(civitas::Call& call, const pb::GetReportRequest& request,
                          pb::Report* response) {
  std::string id;
  if (Status s = civitas::IdFromName("reports", request.name(), &id); !s.ok()) return s;
  pb::Report r;
  if (Status s = LoadReport(id, &r); !s.ok()) return s;
  *response = View(r, call);
  return OkStatus();
}

Status Reports::ListReports(civitas::Call& call, const pb::ListReportsRequest& request,
                            pb::ListReportsResponse* response) {
  Status s;
  if (s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  if (!pb::Report::Status_IsValid(request.status())) return InvalidArgument("status is unknown");
  if (!request.service().empty()) {
    std::string code;
    if (s = CodeFromName(request.service(), &code, "service"); !s.ok()) return s;
  }
  if ((request.has_start_time() && !civitas::ValidTimestamp(request.start_time())) ||
      (request.has_end_time() && !civitas::ValidTimestamp(request.end_time()))) {
    return InvalidArgument("start_time and end_time must lie between the years 1 and 9999");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  const int64_t from =
      request.has_start_time() ? civitas::ToMicros(request.start_time()) : INT64_MIN;
  const int64_t to = request.has_end_time() ? civitas::ToMicros(request.end_time()) : INT64_MAX;
  auto matches = [&](const pb::Report& r) {
    const int64_t created = civitas::ToMicros(r.create_time());
    return (request.service().empty() || r.service() == request.service()) &&
           (request.status() == pb::Report::STATUS_UNSPECIFIED || r.status() == request.status()) &&
           created >= from && created < to;
  };
  if (request.has_near()) {
    const double lat = request.near().latitude(), lng = request.near().longitude();
    if (s = civitas::CheckCoordinates("near", lat, lng); !s.ok()) return s;
    if (!(request.radius_meters() >= 1 && request.radius_meters() <= 5000)) {
      return InvalidArgument("radius_meters must be between 1 and 5000 with near");
    }
    if (!request.page_token().empty()) {
      return InvalidArgument("nearby lists have one page; narrow the radius instead");
    }
    // The grid cells the circle can touch: 0.01° of latitude is ~1.1 km everywhere.
    const double dlat = request.radius_meters() / 111000.0;
    const double dlng = dlat / std::max(0.01, std::cos(lat * 3.14159265358979323846 / 180));
    std::vector<std::pair<double, pb::Report>> found;
    for (int a = CellOf(lat - dlat); a <= CellOf(lat + dlat); ++a) {
      for (int b = CellOf(lng - dlng); b <= CellOf(lng + dlng); ++b) {
        civitas::ScanOptions scan;
        scan.prefix = "rg/" + Cell(a, b) + "/";
        scan.limit = CIVITAS_SCAN_MAX_LIMIT;
        std::vector<std::string> ids;
        s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
          ids.emplace_back(key.substr(scan.prefix.size()));
          return true;
        });
        if (!s.ok()) return s;
        for (const std::string& id : ids) {
          pb::Report r;
          if (!LoadReport(id, &r).ok() || !matches(r)) continue;
          const double d =
              civitas::DistanceMeters(lat, lng, r.location().latitude(), r.location().longitude());
          if (d <= request.radius_meters()) found.emplace_back(d, std::move(r));
        }
      }
    }
    std::sort(found.begin(), found.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (size_t i = 0; i < found.size() && static_cast<int>(i) < size; ++i) {
      pb::Report* out = response->add_reports();
      *out = View(found[i].second, call);
      out->set_distance_meters(found[i].first);
    }
    return OkStatus();
  }
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  if (to <= 0 || to <= from) return OkStatus();  // reports are filed after 1970
  civitas::ScanOptions scan;
  scan.prefix = "rt/";
  scan.start = !token.empty()    ? "rt/" + token + '\x01'
               : to != INT64_MAX ? "rt/" + Hex(INT64_MAX - (to - 1))
                                 : "";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::string last;
  bool more = false;
  Status failure;
  s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    const int64_t created = INT64_MAX - static_cast<int64_t>(civitas::ParseHex(key.substr(3, 16)));
    if (created < from) return false;
    pb::Report r;
    Status l = LoadReport(std::string(key.substr(3 + 16)), &r);
    if (!l.ok()) {
      if (l.code() != CIVITAS_NOT_FOUND) failure = l;
      return l.code() == CIVITAS_NOT_FOUND;
    }
    if (!matches(r)) return true;
    if (response->reports_size() == size) {
      more = true;
      return false;
    }
    *response->add_reports() = View(r, call);
    last = std::string(key.substr(3));
    return true;
  });
  if (!failure.ok()) return failure;
  if (!s.ok()) return s;
  if (more) response->set_next_page_token(last);
  return OkStatus();
}

Status Reports::ListMyReports(civitas::Call& call, const pb::ListMyReportsRequest& request,
                              pb::ListReportsResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  const uint32_t size = request.page_size() == 0 ? 20 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = "rm/" + std::string(call.subject()) + '\0';
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  scan.limit = size + 1;
  std::vector<std::string> tails;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    tails.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < tails.size() && i < size; ++i) {
    pb::Report r;
    if (LoadReport(tails[i].substr(16), &r).ok()) *response->add_reports() = View(r, call);
  }
  if (tails.size() > size) response->set_next_page_token(tails[size - 1]);
  return OkStatus();
}

Status Reports::WatchReport(civitas::Call& call, const pb::WatchReportRequest& request,
                            civitas::ServerWriter<pb::Report>& writer) {
  std::string id;
  if (Status s = civitas::IdFromName("reports", request.name(), &id); !s.ok()) return s;
  pb::Report r;
  if (Status s = LoadReport(id, &r); !s.ok()) return s;
  // Follow first, then send the current state: no change in between is missed.
  if (Status s = writer.Follow("report/" + id); !s.ok()) return s;
  writer.Write(View(r, call));
  return OkStatus();
}

Status Reports::UpdateReportStatus(civitas::Call& call,
                                   const pb::UpdateReportStatusRequest& request,
                                   pb::Report* response) {
  std::string id;
  Status s;
  if (s = civitas::IdFromName("reports", request.name(), &id); !s.ok()) return s;
  if (request.status() == pb::Report::STATUS_UNSPECIFIED ||
      request.status() == pb::Report::SUBMITTED || !pb::Report::Status_IsValid(request.status())) {
    return InvalidArgument(
        "status must be ACKNOWLEDGED, IN_PROGRESS, RESOLVED, REJECTED or DUPLICATE");
  }
  if (s = CheckText("note", request.note(), 0, 2000); !s.ok()) return s;
  if (s = CheckText("department", request.department(), 0, 100); !s.ok()) return s;
  if (request.status() == pb::Report::REJECTED && request.note().empty()) {
    return InvalidArgument("note is required when rejecting: tell the reporter why");
  }
  std::string original;
  if (request.status() == pb::Report::DUPLICATE) {
    if (s = civitas::IdFromName("reports", request.duplicate_of(), &original, "duplicate_of");
        !s.ok()) {
      return s;
    }
    if (original == id) return InvalidArgument("duplicate_of must name another report");
  } else if (!request.duplicate_of().empty()) {
    return InvalidArgument("duplicate_of is only for status DUPLICATE");
  }
  const int64_t now = city_.NowMicros();
  pb::Report r;
  s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status l = LoadReport(id, &r, &txn, true); !l.ok()) return l;
    if (!original.empty()) {
      pb::Report o;
      if (Status l = LoadReport(original, &o, &txn); !l.ok()) {
        return l.code() == CIVITAS_NOT_FOUND ? InvalidArgument("duplicate_of: " + l.message()) : l;
      }
    }
    r.set_status(request.status());
    r.set_status_note(civitas::StripHtml(request.note()));
    if (!request.department().empty()) r.set_department(request.department());
    r.set_duplicate_of(request.duplicate_of());
    pb::StatusChange* change = r.add_history();
    change->set_status(request.status());
    change->set_note(r.status_note());
    change->set_department(r.department());
    civitas::SetMicros(now, change->mutable_time());
    civitas::SetMicros(now, r.mutable_update_time());
    if (Status p = QueueStatusPush(txn, r); !p.ok()) return p;
    return txn.Put("r/" + id, r.SerializeAsString());
  });
  if (!s.ok()) return s;
  // Followers see what any citizen sees.
  pb::Report shared = r;
  shared.clear_contact();
  shared.clear_device_id();
  shared.clear_reporter();
  (void)city_.Publish("report/" + id, shared);
  *response = View(r, call);
  return OkStatus();
}

Status Reports::GetReportPhoto(civitas::Call&, const pb::GetReportPhotoRequest& request,
                               google::api::HttpBody* response) {
  const std::string& name = request.name();
  std::string id;
  const size_t photos = name.find("/photos/");
  if (photos == std::string::npos ||
      !civitas::IdFromName("reports", name.substr(0, photos), &id).ok()) {
    return InvalidArgument("name must be 'reports/{id}/photos/{n}', got '" + name + "'");
  }
  const std::string n = name.substr(photos + 8);
  int index;
  if (!absl::SimpleAtoi(n, &index) || index < 0 || index > 9 || std::to_string(index) != n) {
    return InvalidArgument("name must be 'reports/{id}/photos/{n}', got '" + name + "'");
  }
  std::string bytes;
  Status s = city_.store().Get("ph/" + id + "/" + n, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("photo '" + name + "' does not exist");
  if (!s.ok()) return s;
  pb::Photo p;
  p.ParseFromString(bytes);
  response->set_content_type(p.content_type());
  response->set_data(p.data());
  return OkStatus();
}

open311::RequestContext Reports::Open311Context(const pb::Report& r) const {
  open311::RequestContext context;
  pb::Service service;
  const std::string code = r.service().substr(9);
  context.service_name = LoadService(code, &service).ok() ? service.display_name() : code;
  if (r.photo_names_size() > 0 && !config_.public_url.empty()) {
    context.media_url =
        config_.public_url + "/cities/" + std::string(city_.id()) + "/v1/" + r.photo_names(0);
  }
  return context;
}

Status Reports::GetOpen311(civitas::Call&, const pb::GetOpen311Request& request,
                           google::api::HttpBody* response) {
  if (!request.jurisdiction_id().empty() && request.jurisdiction_id() != city_.id()) {
    return civitas::NotFound("jurisdiction_id '" + request.jurisdiction_id() +
                             "' is not served here; this endpoint is '" + std::string(city_.id()) +
                             "'");
  }
  const std::string& path = request.path();
  response->set_content_type("application/json; charset=utf-8");
  if (path == "services.json") {
    civitas::ScanOptions scan;
    scan.prefix = "s/";
    scan.limit = CIVITAS_SCAN_MAX_LIMIT;
    civitas::JsonWriter out;
    out.BeginArray();
    Status s = city_.store().Scan(scan, [&](std::string_view, std::string_view value) {
      pb::Service svc;
      svc.ParseFromArray(value.data(), static_cast<int>(value.size()));
      open311::WriteService(svc, out);
      return true;
    });
    if (!s.ok()) return s;
    response->set_data(out.EndArray().text());
    return OkStatus();
  }
  auto ends = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return path.size() > n && path.compare(path.size() - n, n, suffix) == 0;
  };
  if (path.rfind("services/", 0) == 0 && ends(".json")) {
    const std::string code = path.substr(9, path.size() - 9 - 5);
    if (!IsCode(code)) return InvalidArgument("'" + code + "' is not a service code");
    pb::Service svc;
    if (Status s = LoadService(code, &svc); !s.ok()) return s;
    response->set_data(open311::ServiceDefinition(svc));
    return OkStatus();
  }
  if (path.rfind("requests/", 0) == 0 && ends(".json")) {
    const std::string id = path.substr(9, path.size() - 9 - 5);
    if (id.size() != 16 || !civitas::IsLowerHex(id)) {
      return InvalidArgument("'" + id + "' is not a service_request_id");
    }
    pb::Report r;
    if (Status s = LoadReport(id, &r); !s.ok()) return s;
    civitas::JsonWriter out;
    out.BeginArray();
    open311::WriteRequest(r, Open311Context(r), out);
    response->set_data(out.EndArray().text());
    return OkStatus();
  }
  if (path == "requests.json") {
    std::set<std::string> codes;
    for (absl::string_view c : absl::StrSplit(request.service_code(), ',', absl::SkipEmpty())) {
      codes.insert(std::string(c));
    }
    if (!request.status().empty() && request.status() != "open" && request.status() != "closed") {
      return InvalidArgument("status must be 'open' or 'closed', got '" + request.status() + "'");
    }
    absl::Time start = absl::InfinitePast(), end = absl::InfiniteFuture();
    std::string err;
    if (!request.start_date().empty() &&
        !absl::ParseTime(absl::RFC3339_full, request.start_date(), &start, &err)) {
      return InvalidArgument("start_date must be a W3C date-time like 2026-11-01T00:00:00Z");
    }
    if (!request.end_date().empty() &&
        !absl::ParseTime(absl::RFC3339_full, request.end_date(), &end, &err)) {
      return InvalidArgument("end_date must be a W3C date-time like 2026-12-01T00:00:00Z");
    }
    // GeoReport v2: without dates, the last 90 days; at most 1000 requests.
    if (request.start_date().empty() && request.end_date().empty()) {
      start = absl::FromUnixMicros(city_.NowMicros()) - absl::Hours(24 * 90);
    }
    civitas::ScanOptions scan;
    scan.prefix = "rt/";
    scan.limit = CIVITAS_SCAN_MAX_LIMIT;
    civitas::JsonWriter out;
    out.BeginArray();
    int count = 0;
    Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
      const absl::Time created = absl::FromUnixMicros(
          INT64_MAX - static_cast<int64_t>(civitas::ParseHex(key.substr(3, 16))));
      if (created < start) return false;
      if (created >= end) return true;
      pb::Report r;
      if (!LoadReport(std::string(key.substr(19)), &r).ok()) return true;
      if (!codes.empty() && !codes.count(r.service().substr(9))) return true;
      if (!request.status().empty() && request.status() != Open311Status(r.status())) return true;
      open311::WriteRequest(r, Open311Context(r), out);
      return ++count < 1000;
    });
    if (!s.ok()) return s;
    response->set_data(out.EndArray().text());
    return OkStatus();
  }
  return civitas::NotFound("unknown Open311 resource '" + path +
                           "'; try services.json, services/{code}.json, requests.json or "
                           "requests/{id}.json");
}

Status Reports::ReportKeysOf(std::string_view subject, std::vector<std::string>* keys) const {
  if (subject.empty() || subject.find('\0') != std::string_view::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  return city_.store().ScanAll("rm/" + std::string(subject) + '\0',
                               [&](std::string_view key, std::string_view) {
                                 keys->emplace_back(key);
                                 return true;
                               });
}

Status Reports::ExportPersonalData(std::string_view subject, std::string* json) {
  std::vector<std::string> keys;
  if (Status s = ReportKeysOf(subject, &keys); !s.ok()) return s;
  *json = "{\"reports\":[";
  bool first = true;
  for (const std::string& key : keys) {
    pb::Report r;
    const std::string id = key.substr(key.size() - 16);
    Status s = LoadReport(id, &r);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    if (!first) *json += ",";
    first = false;
    *json += "{\"name\":" + civitas::JsonQuote(r.name()) +
             ",\"service\":" + civitas::JsonQuote(r.service()) +
             ",\"description\":" + civitas::JsonQuote(r.description()) +
             ",\"address\":" + civitas::JsonQuote(r.address()) +
             ",\"contact\":{\"name\":" + civitas::JsonQuote(r.contact().name()) +
             ",\"email\":" + civitas::JsonQuote(r.contact().email()) +
             ",\"phone\":" + civitas::JsonQuote(r.contact().phone()) +
             "},\"device_id\":" + civitas::JsonQuote(r.device_id()) +
             ",\"status\":" + civitas::JsonQuote(pb::Report::Status_Name(r.status())) +
             ",\"create_time_unix\":" + std::to_string(r.create_time().seconds()) + "}";
  }
  *json += "]}";
  return OkStatus();
}

Status Reports::ErasePersonalData(std::string_view subject) {
  std::vector<std::string> keys;
  if (Status s = ReportKeysOf(subject, &keys); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  // One transaction: the reporter is removed from every report, or from none.
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (const std::string& key : keys) {
      const std::string id = key.substr(key.size() - 16);
      pb::Report r;
      Status l = LoadReport(id, &r, &txn, /*for_update=*/true);
      if (l.ok() && r.reporter() == subject) {
        r.clear_reporter();
        r.clear_contact();
        r.clear_device_id();
        civitas::SetMicros(now, r.mutable_update_time());
        if (Status w = txn.Put("r/" + id, r.SerializeAsString()); !w.ok()) return w;
      } else if (!l.ok() && l.code() != CIVITAS_NOT_FOUND) {
        return l;
      }
      if (Status d = txn.Delete(key); !d.ok()) return d;
    }
    return OkStatus();
  });
}

}  // namespace reports

CIVITAS_MODULE(
    civitas::ModuleBuilder<reports::Reports>("civitas.reports", "1.0.0", &reports::Reports::Create)
        .Service("civitas.reports.v1.ReportsService")
        .Unary("ListServices", civitas::Role::kAnonymous, &reports::Reports::ListServices)
        .Unary("GetService", civitas::Role::kAnonymous, &reports::Reports::GetService)
        .Unary("PutService", civitas::Role::kAdmin, &reports::Reports::PutService)
        .Unary("DeleteService", civitas::Role::kAdmin, &reports::Reports::DeleteService)
        .Unary("CreateReport", civitas::Role::kAnonymous, &reports::Reports::CreateReport)
        .Unary("GetReport", civitas::Role::kAnonymous, &reports::Reports::GetReport)
        .Unary("ListReports", civitas::Role::kAnonymous, &reports::Reports::ListReports)
        .Unary("ListMyReports", civitas::Role::kCitizen, &reports::Reports::ListMyReports)
        .Unary("ClaimReport", civitas::Role::kCitizen, &reports::Reports::ClaimReport)
        .ServerStream("WatchReport", civitas::Role::kAnonymous, &reports::Reports::WatchReport)
        .Unary("UpdateReportStatus", civitas::Role::kEditor, &reports::Reports::UpdateReportStatus)
        .Unary("GetReportPhoto", civitas::Role::kAnonymous, &reports::Reports::GetReportPhoto)
        .Unary("GetOpen311", civitas::Role::kAnonymous, &reports::Reports::GetOpen311)
        .PersonalData(&reports::Reports::ExportPersonalData, &reports::Reports::ErasePersonalData)
        .PushTopics(&reports::Reports::PushTopics))
