// The defect reports module ("Mängelmelder"), Open311 GeoReport v2 compatible.
//
// Keys (inside the module's namespace; <id> is 16 hex digits):
//   s/<code>                           Service
//   r/<id>                             Report (without photo bytes)
//   rt/<inverted create><id>           reports, newest first
//   rg/<cell>/<id>                     reports by 0.01° grid cell, for nearby queries
//   rm/<subject>\0<inverted create><id> a signed-in reporter's reports
//   ph/<id>/<n>                        Photo (bytes and checked content type)
//   dq/<device id>                     anonymous reports of one device today: "<day> <count>"
// A report and its photos are one transaction.
#ifndef CIVITAS_MODULES_REPORTS_REPORTS_H_
#define CIVITAS_MODULES_REPORTS_REPORTS_H_

#include <memory>
#include <string>
#include <vector>

#include "civitas/content.h"
#include "civitas/module.h"
#include "civitas/reports/v1/reports.pb.h"
#include "open311.h"
#include "photo.h"

namespace reports {

namespace pb = ::civitas::reports::v1;

struct Config {
  // The city's area; locations outside are refused.
  double min_latitude = -90, max_latitude = 90, min_longitude = -180, max_longitude = 180;
  std::string public_url;  // base of media_url in Open311 exports, e.g. https://api.city.example
  size_t max_photo_bytes = 1 << 20;
  int max_photos = 3;
};

civitas::Status ParseConfig(const std::string& json, Config* config);

class Reports {
 public:
  static civitas::Status Create(civitas::City city, std::unique_ptr<Reports>* out);
  Reports(civitas::City city, Config config) : city_(city), config_(std::move(config)) {}

  civitas::Status ListServices(civitas::Call&, const pb::ListServicesRequest&,
                               pb::ListServicesResponse*);
  civitas::Status GetService(civitas::Call&, const pb::GetServiceRequest&, pb::Service*);
  civitas::Status PutService(civitas::Call&, const pb::PutServiceRequest&, pb::Service*);
  civitas::Status DeleteService(civitas::Call&, const pb::DeleteServiceRequest&,
                                google::protobuf::Empty*);
  civitas::Status CreateReport(civitas::Call&, const pb::CreateReportRequest&, pb::Report*);
  civitas::Status GetReport(civitas::Call&, const pb::GetReportRequest&, pb::Report*);
  civitas::Status ListReports(civitas::Call&, const pb::ListReportsRequest&,
                              pb::ListReportsResponse*);
  civitas::Status ClaimReport(civitas::Call&, const pb::ClaimReportRequest&, pb::Report*);
  civitas::Status ListMyReports(civitas::Call&, const pb::ListMyReportsRequest&,
                                pb::ListReportsResponse*);
  civitas::Status WatchReport(civitas::Call&, const pb::WatchReportRequest&,
                              civitas::ServerWriter<pb::Report>&);
  civitas::Status UpdateReportStatus(civitas::Call&, const pb::UpdateReportStatusRequest&,
                                     pb::Report*);
  civitas::Status GetReportPhoto(civitas::Call&, const pb::GetReportPhotoRequest&,
                                 google::api::HttpBody*);
  civitas::Status GetOpen311(civitas::Call&, const pb::GetOpen311Request&, google::api::HttpBody*);

  // The push topics (ABI 1.3, push.cc): "status", a signed-in reporter's own reports.
  civitas::Status PushTopics(std::vector<civitas::PushTopic>* topics);

  // A citizen's data (ABI 1.2): the reports they filed while signed in, with their contact.
  civitas::Status ExportPersonalData(std::string_view subject, std::string* json);
  // Removes the reporter's subject, name, e-mail, phone and device id from their reports and
  // drops their index; the description, place, photos and workflow stay for the city's work.
  civitas::Status ErasePersonalData(std::string_view subject);

 private:
  // Tells the reporter of `report` (signed in when they sent it) its new status, in the status
  // change's transaction (push.cc).
  civitas::Status QueueStatusPush(civitas::Transaction& txn, const pb::Report& report) const;
  civitas::Status LoadService(const std::string& code, pb::Service* service) const;
  civitas::Status LoadReport(const std::string& id, pb::Report* report,
                             civitas::Transaction* txn = nullptr, bool for_update = false) const;
  // Attribute answers against the service's definitions; INVALID_ARGUMENT naming the attribute.
  civitas::Status CheckAttributes(const pb::Service& service, const pb::Report& report) const;
  // What `call` may see of `stored`: contact and device id only for editors and the reporter.
  pb::Report View(const pb::Report& stored, civitas::Call& call) const;
  // The service name and media URL of `r`'s Open311 entry.
  open311::RequestContext Open311Context(const pb::Report& r) const;
  // Keys of rm/<subject>\0… (the subject's reports, newest first).
  civitas::Status ReportKeysOf(std::string_view subject, std::vector<std::string>* keys) const;

  civitas::City city_;
  Config config_;
};

}  // namespace reports

#endif  // CIVITAS_MODULES_REPORTS_REPORTS_H_
