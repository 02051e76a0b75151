// The participation module: ideas with comments and supports, polls, moderation and privacy.
//
// One file per resource (ideas.cc, comments.cc, polls.cc, moderation.cc, privacy.cc); the storage
// keys, each built by one function, and the loads and views they share are in records.{h,cc}.
#ifndef CIVITAS_MODULES_PARTICIPATION_PARTICIPATION_H_
#define CIVITAS_MODULES_PARTICIPATION_PARTICIPATION_H_

#include <memory>
#include <optional>
#include <string>

#include "civitas/content.h"
#include "civitas/module.h"
#include "civitas/participation/v1/participation.pb.h"

namespace participation {

namespace pb = ::civitas::participation::v1;

struct Config {
  std::string default_language = "de";
  civitas::Categories categories;
  int flag_threshold = 3;         // flags that hide an item automatically
  int writes_per_minute = 10;     // ideas, comments, edits and flags per user
  int comment_edit_minutes = 15;  // authors may edit comments this long
  std::string erased_name = "Gelöschtes Konto";
};

// Reads the module's config block; INVALID_ARGUMENT naming the key for a typo, a wrong type or
// a value out of range.
civitas::Status ParseConfig(const std::string& json, Config* config);

// A name shown with a contribution: 2 to 60 characters, no control characters.
civitas::Status CheckDisplayName(const std::string& field, const std::string& name);

inline constexpr int64_t kMinute = 60'000'000;

class Participation {
 public:
  static civitas::Status Create(civitas::City city, std::unique_ptr<Participation>* out);
  Participation(civitas::City city, Config config) : city_(city), config_(std::move(config)) {}

  civitas::Status CreateIdea(civitas::Call&, const pb::CreateIdeaRequest&, pb::Idea*);
  civitas::Status GetIdea(civitas::Call&, const pb::GetIdeaRequest&, pb::Idea*);
  civitas::Status ListIdeas(civitas::Call&, const pb::ListIdeasRequest&, pb::ListIdeasResponse*);
  civitas::Status AnswerIdea(civitas::Call&, const pb::AnswerIdeaRequest&, pb::Idea*);
  civitas::Status SupportIdea(civitas::Call&, const pb::SupportIdeaRequest&, pb::Idea*);
  civitas::Status WithdrawSupport(civitas::Call&, const pb::WithdrawSupportRequest&, pb::Idea*);
  civitas::Status CreateComment(civitas::Call&, const pb::CreateCommentRequest&, pb::Comment*);
  civitas::Status ListComments(civitas::Call&, const pb::ListCommentsRequest&,
                               pb::ListCommentsResponse*);
  civitas::Status UpdateComment(civitas::Call&, const pb::UpdateCommentRequest&, pb::Comment*);
  civitas::Status DeleteComment(civitas::Call&, const pb::DeleteCommentRequest&,
                                google::protobuf::Empty*);
  civitas::Status CreatePoll(civitas::Call&, const pb::CreatePollRequest&, pb::Poll*);
  civitas::Status GetPoll(civitas::Call&, const pb::GetPollRequest&, pb::Poll*);
  civitas::Status ListPolls(civitas::Call&, const pb::ListPollsRequest&, pb::ListPollsResponse*);
  civitas::Status ClosePoll(civitas::Call&, const pb::ClosePollRequest&, pb::Poll*);
  civitas::Status CastBallot(civitas::Call&, const pb::CastBallotRequest&, pb::Ballot*);
  civitas::Status FlagContent(civitas::Call&, const pb::FlagContentRequest&,
                              google::protobuf::Empty*);
  civitas::Status ListFlaggedContent(civitas::Call&, const pb::ListFlaggedContentRequest&,
                                     pb::ListFlaggedContentResponse*);
  civitas::Status ModerateContent(civitas::Call&, const pb::ModerateContentRequest&,
                                  pb::AuditEntry*);
  civitas::Status ListAuditEntries(civitas::Call&, const pb::ListAuditEntriesRequest&,
                                   pb::ListAuditEntriesResponse*);
  civitas::Status ListMyContributions(civitas::Call&, const pb::ListMyContributionsRequest&,
                                      pb::ListMyContributionsResponse*);
  civitas::Status ErasePersonalData(civitas::Call&, const pb::ErasePersonalDataRequest&,
                                    pb::ErasePersonalDataResponse*);
  // The gateway's export and erasure across modules (ABI 1.2): what ListMyContributions and
  // ErasePersonalData do for the signed-in caller, for `subject`.
  civitas::Status ExportPersonalData(std::string_view subject, std::string* json);
  civitas::Status EraseSubject(std::string_view subject);

 private:
  civitas::Status Erase(const std::string& subject, pb::ErasePersonalDataResponse* response);
  civitas::Status Contributions(const std::string& subject, civitas::Call* call,
                                pb::ListMyContributionsResponse* response);
  // The storage key of an idea or comment name; INVALID_ARGUMENT for anything else.
  civitas::Status ItemKey(const std::string& item, std::string* key) const;
  // Counts one write against the caller's per-minute budget, inside the write's transaction.
  civitas::Status ChargeWrite(civitas::Transaction& txn, const std::string& subject,
                              int64_t now) const;
  // The stored idea with its support count; LoadIdeaRecord without it (the count is kept apart,
  // under "ic/", and ReadSupportCount adds it).
  civitas::Status LoadIdea(const std::string& id, pb::Idea* idea,
                           civitas::Transaction* txn = nullptr, bool for_update = false) const;
  civitas::Status LoadIdeaRecord(const std::string& id, pb::Idea* idea,
                                 civitas::Transaction* txn = nullptr,
                                 bool for_update = false) const;
  void ReadSupportCount(const std::string& id, pb::Idea* idea,
                        civitas::Transaction* txn = nullptr) const;
  // What `call`'s caller may see of an idea. `supported_by_caller` is looked up unless given.
  pb::Idea IdeaView(const pb::Idea& stored, civitas::Call& call,
                    std::optional<bool> supported_by_caller = std::nullopt) const;
  pb::Comment CommentView(const pb::Comment& stored, civitas::Call& call) const;
  civitas::Status Audit(civitas::Transaction& txn, pb::AuditEntry::Action action,
                        const std::string& item, const std::string& moderator,
                        const std::string& reason, int64_t now, pb::AuditEntry* out) const;
  // Sets `hidden` on the stored idea or comment at `key`.
  civitas::Status SetHidden(civitas::Transaction& txn, const std::string& key, bool hidden) const;
  civitas::Status Tallies(const std::string& poll_id, pb::Poll* poll) const;

  civitas::City city_;
  Config config_;
};

}  // namespace participation

#endif  // CIVITAS_MODULES_PARTICIPATION_PARTICIPATION_H_
