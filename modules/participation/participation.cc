// The participation module's configuration and its declaration; the handlers live in ideas.cc,
// comments.cc, polls.cc, moderation.cc and privacy.cc, the keys and shared loads in records.cc.
#include "participation.h"

#include <utility>
#include <vector>

#include "civitas/config.h"
#include "civitas/text.h"

namespace participation {

civitas::Status CheckDisplayName(const std::string& field, const std::string& name) {
  if (civitas::Status s = civitas::CheckText(field, name, 2, 60); !s.ok()) return s;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20)
      return civitas::InvalidArgument(field + " has control characters");
  }
  return civitas::OkStatus();
}

namespace {

using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

std::vector<civitas::Categories::Category> DefaultCategories() {
  return {{"verkehr", {{"de", "Verkehr"}, {"en", "Traffic"}}},
          {"gruen", {{"de", "Grün & Umwelt"}, {"en", "Green spaces & environment"}}},
          {"spielen", {{"de", "Spielen & Sport"}, {"en", "Play & sports"}}},
          {"sauberkeit", {{"de", "Sauberkeit"}, {"en", "Cleanliness"}}},
          {"kultur", {{"de", "Kultur"}, {"en", "Culture"}}},
          {"digitales", {{"de", "Digitales"}, {"en", "Digital services"}}},
          {"sonstiges", {{"de", "Sonstiges"}, {"en", "Other"}}}};
}

}  // namespace

Status ParseConfig(const std::string& json, Config* config) {
  civitas::ConfigReader reader;
  if (Status s = civitas::ConfigReader::Parse(json, &reader); !s.ok()) return s;
  reader.String("default_language", &config->default_language, 35)
      .Int("flag_threshold", 1, 1000, &config->flag_threshold)
      .Int("writes_per_minute", 1, 10000, &config->writes_per_minute)
      .Int("comment_edit_minutes", 0, 10080, &config->comment_edit_minutes)
      .String("erased_name", &config->erased_name, 200);
  config->default_language = civitas::PrimaryLanguage(config->default_language);
  if (Status s = civitas::Categories::Parse(reader, config->default_language, DefaultCategories(),
                                            &config->categories);
      !s.ok()) {
    return s;
  }
  return reader.Finish();
}

Status Participation::Create(civitas::City city, std::unique_ptr<Participation>* out) {
  Config config;
  if (Status s = ParseConfig(city.ConfigJson(), &config); !s.ok()) return s;
  *out = std::make_unique<Participation>(city, std::move(config));
  return OkStatus();
}

}  // namespace participation

CIVITAS_MODULE(
    civitas::ModuleBuilder<participation::Participation>("civitas.participation", "1.0.0",
                                                         &participation::Participation::Create)
        .Service("civitas.participation.v1.ParticipationService")
        .Unary("CreateIdea", civitas::Role::kCitizen, &participation::Participation::CreateIdea)
        .Unary("GetIdea", civitas::Role::kAnonymous, &participation::Participation::GetIdea)
        .Unary("ListIdeas", civitas::Role::kAnonymous, &participation::Participation::ListIdeas)
        .Unary("AnswerIdea", civitas::Role::kEditor, &participation::Participation::AnswerIdea)
        .Unary("SupportIdea", civitas::Role::kCitizen, &participation::Participation::SupportIdea)
        .Unary("WithdrawSupport", civitas::Role::kCitizen,
               &participation::Participation::WithdrawSupport)
        .Unary("CreateComment", civitas::Role::kCitizen,
               &participation::Participation::CreateComment)
        .Unary("ListComments", civitas::Role::kAnonymous,
               &participation::Participation::ListComments)
        .Unary("UpdateComment", civitas::Role::kCitizen,
               &participation::Participation::UpdateComment)
        .Unary("DeleteComment", civitas::Role::kCitizen,
               &participation::Participation::DeleteComment)
        .Unary("CreatePoll", civitas::Role::kEditor, &participation::Participation::CreatePoll)
        .Unary("GetPoll", civitas::Role::kAnonymous, &participation::Participation::GetPoll)
        .Unary("ListPolls", civitas::Role::kAnonymous, &participation::Participation::ListPolls)
        .Unary("ClosePoll", civitas::Role::kEditor, &participation::Participation::ClosePoll)
        .Unary("CastBallot", civitas::Role::kCitizen, &participation::Participation::CastBallot)
        .Unary("FlagContent", civitas::Role::kCitizen, &participation::Participation::FlagContent)
        .Unary("ListFlaggedContent", civitas::Role::kModerator,
               &participation::Participation::ListFlaggedContent)
        .Unary("ModerateContent", civitas::Role::kModerator,
               &participation::Participation::ModerateContent)
        .Unary("ListAuditEntries", civitas::Role::kModerator,
               &participation::Participation::ListAuditEntries)
        .Unary("ListMyContributions", civitas::Role::kCitizen,
               &participation::Participation::ListMyContributions)
        .Unary("ErasePersonalData", civitas::Role::kCitizen,
               &participation::Participation::ErasePersonalData)
        .PersonalData(&participation::Participation::ExportPersonalData,
                      &participation::Participation::EraseSubject))
