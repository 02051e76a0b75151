// The participation module's storage keys: every key is built by exactly one function here, and
// every reader of a key's parts (page tokens, tallies, a user's contributions) parses it here, so
// a layout change cannot leave export or erasure behind.
//
// Keys (inside the module's namespace; ids are 16 hex digits):
//   i/<id>                        Idea (support_count lives in the counter)
//   il/<inverted create><id>      ideas, newest first
//   ic/<id>                       support counter (merged: supports by different users never
//                                 conflict)
//   is/<id>/<subject>             one user's support (locked while it is written: one per user)
//   c/<idea>/<comment id>         Comment; comment ids are creation micros, so oldest first
//   p/<id>                        Poll
//   pb/<poll>/<subject>           Ballot;  pt/<poll>/<q>/<o> tallies;  pn/<poll> ballot count
//   f/<item>\0<subject>           one user's flag; fc/<item> flag count; q/<item> open flags
//   a/<inverted time><random>     AuditEntry
//   u/<subject>\0<kind>:<name>    what a user contributed (for export and erasure)
//   r/<subject>                   the user's write-rate window
// An erased user's supports, ballots and flags are re-keyed under "~<random>": they keep
// counting, but nothing points to the person any more.
#ifndef CIVITAS_MODULES_PARTICIPATION_RECORDS_H_
#define CIVITAS_MODULES_PARTICIPATION_RECORDS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace participation {

// What a user contributed, as recorded under u/<subject>\0<kind>:<name>. Erasure and export go
// through this list; a new kind of record that holds the subject must be one of these.
enum class ContributionKind { kIdea, kComment, kSupport, kBallot, kFlag };
inline constexpr ContributionKind kContributionKinds[] = {
    ContributionKind::kIdea, ContributionKind::kComment, ContributionKind::kSupport,
    ContributionKind::kBallot, ContributionKind::kFlag};
// "idea", "comment", "support", "ballot", "flag".
std::string_view KindName(ContributionKind kind);

// "ideas/<id>" or "ideas/<id>/comments/<cid>" into its ids (`comment` empty for an idea);
// false for anything else.
bool SplitItem(const std::string& item, std::string* idea, std::string* comment);

namespace keys {

inline constexpr char kIdeaIndexPrefix[] = "il/";
inline constexpr char kOpenFlagsPrefix[] = "q/";
inline constexpr char kAuditPrefix[] = "a/";
inline constexpr char kPollPrefix[] = "p/";  // every Poll(id) begins with it

std::string Idea(std::string_view id);
std::string SupportCount(std::string_view idea);
std::string Support(std::string_view idea, std::string_view subject);
// The index entry of an idea created at `create_micros`: newest first.
std::string IdeaIndex(int64_t create_micros, std::string_view id);
// A ListIdeas page token is the index key after its prefix (inverted time and id, 32 hex).
bool IsIdeaPageToken(std::string_view token);
std::string IdeaIndexToken(std::string_view index_key);
std::string IdeaIdOfIndex(std::string_view index_key);
// Where the page after `token` starts.
std::string IdeaIndexAfter(std::string_view token);

std::string CommentPrefix(std::string_view idea);
std::string Comment(std::string_view idea, std::string_view comment);
// Comment ids are their creation micros in hex, so a comment's page token is its id.
std::string CommentId(int64_t create_micros);
bool IsCommentPageToken(std::string_view token);
bool IsCommentKey(std::string_view key);

std::string Poll(std::string_view id);
std::string BallotCount(std::string_view poll);
std::string Ballot(std::string_view poll, std::string_view subject);
std::string TallyPrefix(std::string_view poll);
// The tally of option `option` of question `question` (both below 256).
std::string Tally(std::string_view poll, int question, int option);
// The question and option of a tally key after TallyPrefix(); false for anything else.
bool ParseTally(std::string_view tail, int* question, int* option);

std::string Flag(std::string_view item, std::string_view subject);
std::string FlagCount(std::string_view item);
std::string OpenFlags(std::string_view item);

// An audit entry written at `micros`, newest first; `random` keeps entries of one micro apart.
std::string Audit(int64_t micros, std::string_view random);
// An audit page token is the key after its prefix (20 hex).
bool IsAuditPageToken(std::string_view token);

std::string WriteWindow(std::string_view subject);

std::string ContributionPrefix(std::string_view subject);
std::string Contribution(std::string_view subject, ContributionKind kind, std::string_view name);
// The kind and name of a contribution key after ContributionPrefix(); false for a kind this
// version does not know.
bool ParseContribution(std::string_view tail, ContributionKind* kind, std::string* name);

}  // namespace keys
}  // namespace participation

#endif  // CIVITAS_MODULES_PARTICIPATION_RECORDS_H_
