// A report's status change told to its reporter as a push notification (ABI 1.3): the module's
// one topic, "status" ("civitas.reports.status" in ListTopics), which a signed-in citizen's own
// devices opt into; the notification is queued in the status change's own transaction and goes
// only to the reporter's devices. Reports sent anonymously have nobody to tell.
#include <string>
#include <vector>

#include "civitas/text.h"
#include "reports.h"

namespace reports {

using civitas::OkStatus;
using civitas::Status;

namespace {

constexpr char kStatusTopic[] = "status";
constexpr size_t kMaxPushBodyChars = 300;

struct Words {
  const char* de;
  const char* en;
};

Words TitleOf(pb::Report::Status status) {
  switch (status) {
    case pb::Report::ACKNOWLEDGED:
      return {"Ihre Meldung ist angekommen", "Your report was received"};
    case pb::Report::IN_PROGRESS:
      return {"Ihre Meldung wird bearbeitet", "Your report is being worked on"};
    case pb::Report::RESOLVED:
      return {"Ihre Meldung ist erledigt", "Your report was resolved"};
    case pb::Report::REJECTED:
      return {"Ihre Meldung wurde abgelehnt", "Your report was declined"};
    case pb::Report::DUPLICATE:
      return {"Ihre Meldung ist schon bekannt", "Your report was already known"};
    default:
      return {"Neuer Stand Ihrer Meldung", "Your report has news"};
  }
}

}  // namespace

Status Reports::PushTopics(std::vector<civitas::PushTopic>* topics) {
  topics->push_back({kStatusTopic, {{"de", "Meine Meldungen"}, {"en", "My reports"}}});
  return OkStatus();
}

Status Reports::QueueStatusPush(civitas::Transaction& txn, const pb::Report& report) const {
  if (report.reporter().empty()) return OkStatus();
  const Words title = TitleOf(report.status());
  const std::string body = civitas::TruncateUtf8(
      report.status_note().empty() ? report.description() : report.status_note(),
      kMaxPushBodyChars);
  civitas::PushMessage m;
  m.topic = kStatusTopic;
  m.subject = report.reporter();
  m.texts = {{"de", title.de, body}, {"en", title.en, body}};
  m.deep_link = "civitas://" + report.name();
  Status s = txn.Push(m);
  // A gateway older than ABI 1.3 has no push notifications: the status change still counts.
  return s.code() == CIVITAS_UNIMPLEMENTED ? OkStatus() : s;
}

}  // namespace reports
