// A citizen's own data: what they contributed (ListMyContributions and the gateway's export), and
// erasure, which anonymizes their ideas and comments and detaches their supports, ballots and
// flags so they keep counting without pointing to the person.
#include <string>
#include <vector>

#include "civitas/json.h"
#include "participation.h"
#include "records.h"

namespace participation {

using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

Status Participation::ListMyContributions(civitas::Call& call,
                                          const pb::ListMyContributionsRequest&,
                                          pb::ListMyContributionsResponse* response) {
  return Contributions(std::string(call.subject()), &call, response);
}

Status Participation::Contributions(const std::string& subject, civitas::Call* call,
                                    pb::ListMyContributionsResponse* response) {
  if (subject.empty() || subject.find('\0') != std::string::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  civitas::ScanOptions scan;
  scan.prefix = keys::ContributionPrefix(subject);
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> entries;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    entries.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& e : entries) {
    ContributionKind kind;
    std::string name, key, bytes;
    if (!keys::ParseContribution(e, &kind, &name)) continue;
    switch (kind) {
      case ContributionKind::kIdea: {
        pb::Idea idea;
        if (LoadIdea(name.substr(6), &idea).ok()) {
          *response->add_ideas() = call ? IdeaView(idea, *call) : idea;
        }
        break;
      }
      case ContributionKind::kComment:
        if (ItemKey(name, &key).ok() && city_.store().Get(key, &bytes).ok()) {
          // The author sees their own text, even if hidden.
          response->add_comments()->ParseFromString(bytes);
        }
        break;
      case ContributionKind::kSupport:
        response->add_supported_ideas(name);
        break;
      case ContributionKind::kBallot:
        if (city_.store().Get(keys::Ballot(name.substr(6), subject), &bytes).ok()) {
          (*response->mutable_ballots())[name].ParseFromString(bytes);
        }
        break;
      case ContributionKind::kFlag:
        response->add_flagged_items(name);
        break;
    }
  }
  return OkStatus();
}

Status Participation::ErasePersonalData(civitas::Call& call,
                                        const pb::ErasePersonalDataRequest& request,
                                        pb::ErasePersonalDataResponse* response) {
  if (request.confirm() != "ERASE") {
    return InvalidArgument("confirm must be \"ERASE\": this cannot be undone");
  }
  const std::string subject(call.subject());
  if (subject.empty()) return civitas::PermissionDenied("sign in to erase your data");
  return Erase(subject, response);
}

Status Participation::EraseSubject(std::string_view subject) {
  if (subject.empty() || subject.find('\0') != std::string_view::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  pb::ErasePersonalDataResponse unused;
  return Erase(std::string(subject), &unused);
}

Status Participation::ExportPersonalData(std::string_view subject, std::string* json) {
  pb::ListMyContributionsResponse mine;
  if (Status s = Contributions(std::string(subject), nullptr, &mine); !s.ok()) return s;
  civitas::JsonWriter w;
  w.BeginObject().Key("ideas").BeginArray();
  for (const pb::Idea& idea : mine.ideas()) {
    w.BeginObject()
        .Member("name", idea.name())
        .Member("title", idea.title())
        .Member("body", idea.body())
        .Member("author_display_name", idea.author_display_name())
        .EndObject();
  }
  w.EndArray().Key("comments").BeginArray();
  for (const pb::Comment& c : mine.comments()) {
    w.BeginObject()
        .Member("name", c.name())
        .Member("body", c.body())
        .Member("author_display_name", c.author_display_name())
        .EndObject();
  }
  w.EndArray().Key("supported_ideas").BeginArray();
  for (const std::string& name : mine.supported_ideas()) w.String(name);
  w.EndArray().Key("flagged_items").BeginArray();
  for (const std::string& name : mine.flagged_items()) w.String(name);
  w.EndArray().Key("ballots").BeginArray();
  for (const auto& [poll, ballot] : mine.ballots())
    w.BeginObject().Member("poll", poll).EndObject();
  w.EndArray().EndObject();
  *json = w.text();
  return OkStatus();
}

Status Participation::Erase(const std::string& subject, pb::ErasePersonalDataResponse* response) {
  civitas::ScanOptions scan;
  scan.prefix = keys::ContributionPrefix(subject);
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> entries;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    entries.emplace_back(key);
    return true;
  });
  if (!s.ok()) return s;
  const int64_t now = city_.NowMicros();
  // One transaction: either every record is anonymized and detached, or none is.
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    response->Clear();
    for (const std::string& entry : entries) {
      ContributionKind kind;
      std::string name;
      if (!keys::ParseContribution(std::string_view(entry).substr(scan.prefix.size()), &kind,
                                   &name)) {
        continue;
      }
      const std::string anonymous = "~" + civitas::NewResourceId();
      std::string key, bytes;
      Status w;
      // Ideas and comments name the person in the record: anonymize it in place. Supports,
      // ballots and flags name the person in their key: move them to an anonymous one.
      std::string from, to;
      switch (kind) {
        case ContributionKind::kIdea:
        case ContributionKind::kComment:
          break;
        case ContributionKind::kSupport:
          from = keys::Support(name.substr(6), subject);
          to = keys::Support(name.substr(6), anonymous);
          break;
        case ContributionKind::kBallot:
          from = keys::Ballot(name.substr(6), subject);
          to = keys::Ballot(name.substr(6), anonymous);
          break;
        case ContributionKind::kFlag:
          from = keys::Flag(name, subject);
          to = keys::Flag(name, anonymous);
          break;
      }
      if (from.empty()) {
        if (!ItemKey(name, &key).ok()) continue;
        Status g = txn.Get(key, &bytes, true);
        if (g.code() == CIVITAS_NOT_FOUND) continue;
        if (!g.ok()) return g;
        if (kind == ContributionKind::kIdea) {
          pb::Idea idea;
          idea.ParseFromString(bytes);
          idea.clear_author();
          idea.set_author_display_name(config_.erased_name);
          civitas::SetMicros(now, idea.mutable_update_time());
          w = txn.Put(key, idea.SerializeAsString());
        } else {
          pb::Comment c;
          c.ParseFromString(bytes);
          c.clear_author();
          c.set_author_display_name(config_.erased_name);
          w = txn.Put(key, c.SerializeAsString());
        }
        response->set_anonymized_items(response->anonymized_items() + 1);
      } else {
        Status g = txn.Get(from, &bytes, true);
        if (g.ok()) {
          w = txn.Delete(from);
          if (w.ok()) w = txn.Put(to, bytes);
          response->set_detached_records(response->detached_records() + 1);
        } else if (g.code() != CIVITAS_NOT_FOUND) {
          return g;
        }
      }
      if (w.ok()) w = txn.Delete(entry);
      if (!w.ok()) return w;
    }
    return txn.Delete(keys::WriteWindow(subject));
  });
}

}  // namespace participation
