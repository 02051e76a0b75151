// Polls: questions with options, one ballot per user, tallies kept as merged counters.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "civitas/text.h"
#include "participation.h"
#include "records.h"

namespace participation {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;

Status Participation::CreatePoll(civitas::Call& call, const pb::CreatePollRequest& request,
                                 pb::Poll* response) {
  pb::Poll p = request.poll();
  Status s;
  if (s = CheckText("poll.title", p.title(), 5, 200); !s.ok()) return s;
  if (s = CheckText("poll.description", p.description(), 0, 2000); !s.ok()) return s;
  if (p.questions_size() < 1 || p.questions_size() > 20) {
    return InvalidArgument("poll.questions must have 1 to 20 entries, got " +
                           std::to_string(p.questions_size()));
  }
  for (int q = 0; q < p.questions_size(); ++q) {
    pb::Question* question = p.mutable_questions(q);
    const std::string where = "poll.questions[" + std::to_string(q) + "]";
    if (s = CheckText(where + ".text", question->text(), 1, 500); !s.ok()) return s;
    if (question->options_size() < 2 || question->options_size() > 20) {
      return InvalidArgument(where + ".options must have 2 to 20 entries, got " +
                             std::to_string(question->options_size()));
    }
    for (int o = 0; o < question->options_size(); ++o) {
      question->mutable_options(o)->clear_votes();
      if (s = CheckText(where + ".options[" + std::to_string(o) + "].text",
                        question->options(o).text(), 1, 200);
          !s.ok()) {
        return s;
      }
    }
  }
  const int64_t now = city_.NowMicros();
  if (!p.has_open_time()) civitas::SetMicros(now, p.mutable_open_time());
  if (!p.has_close_time()) return InvalidArgument("poll.close_time is required");
  if (!civitas::ValidTimestamp(p.open_time()) || !civitas::ValidTimestamp(p.close_time())) {
    return InvalidArgument("poll times must lie between the years 1 and 9999");
  }
  if (civitas::ToMicros(p.close_time()) <= civitas::ToMicros(p.open_time())) {
    return InvalidArgument("poll.close_time must be after poll.open_time");
  }
  const std::string id = civitas::NewResourceId();
  p.set_name("polls/" + id);
  p.clear_ballot_count();
  p.clear_results_visible();
  civitas::SetMicros(now, p.mutable_create_time());
  s = city_.store().RunTransaction(
      [&](civitas::Transaction& txn) { return txn.Put(keys::Poll(id), p.SerializeAsString()); });
  if (!s.ok()) return s;
  pb::GetPollRequest get;
  get.set_name(p.name());
  return GetPoll(call, get, response);
}

Status Participation::Tallies(const std::string& poll_id, pb::Poll* poll) const {
  civitas::ScanOptions scan;
  scan.prefix = keys::TallyPrefix(poll_id);
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  return city_.store().Scan(scan, [&](std::string_view key, std::string_view value) {
    int q = 0, o = 0;
    if (!keys::ParseTally(key.substr(scan.prefix.size()), &q, &o)) return true;
    if (q < poll->questions_size() && o < poll->questions(q).options_size()) {
      poll->mutable_questions(q)->mutable_options(o)->set_votes(
          static_cast<int64_t>(civitas::DecodeU64(value)));
    }
    return true;
  });
}

Status Participation::GetPoll(civitas::Call& call, const pb::GetPollRequest& request,
                              pb::Poll* response) {
  std::string id;
  if (Status s = civitas::IdFromName("polls", request.name(), &id); !s.ok()) return s;
  std::string bytes;
  Status s = city_.store().Get(keys::Poll(id), &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("poll '" + request.name() + "' does not exist");
  if (!s.ok()) return s;
  response->ParseFromString(bytes);
  std::string count;
  if (city_.store().Get(keys::BallotCount(id), &count).ok()) {
    response->set_ballot_count(static_cast<int64_t>(civitas::DecodeU64(count)));
  }
  const bool closed = city_.NowMicros() >= civitas::ToMicros(response->close_time());
  const bool visible =
      !response->results_hidden_until_close() || closed || call.HasRole(civitas::Role::kEditor);
  response->set_results_visible(visible);
  if (visible) return Tallies(id, response);
  return OkStatus();
}

namespace {

// The position of a poll in ListPolls, newest first: 16 hex digits of INT64_MAX - create micros,
// then its id. Also the page token.
std::string PollPosition(const pb::Poll& poll) {
  return civitas::Hex16(static_cast<uint64_t>(INT64_MAX - civitas::ToMicros(poll.create_time()))) +
         poll.name().substr(6);
}

}  // namespace

Status Participation::ListPolls(civitas::Call&, const pb::ListPollsRequest& request,
                                pb::ListPollsResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 100); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued for this query");
  }
  const size_t size = request.page_size() == 0 ? 20 : request.page_size();
  // A city has tens of polls, not thousands: all are read and put in order. A page token is a
  // position in that order, so polls created while a client pages never make it see one twice.
  std::vector<std::pair<std::string, pb::Poll>> polls;
  bool corrupt = false;
  Status s =
      city_.store().ScanAll(keys::kPollPrefix, [&](std::string_view, std::string_view value) {
        pb::Poll p;
        if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          corrupt = true;
          return false;
        }
        std::string position = PollPosition(p);
        if (token.empty() || position > token)
          polls.emplace_back(std::move(position), std::move(p));
        return true;
      });
  if (!s.ok()) return s;
  if (corrupt) return civitas::Internal("a stored poll is corrupt");
  std::sort(polls.begin(), polls.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < polls.size() && i < size; ++i) {
    pb::Poll* out = response->add_polls();
    *out = std::move(polls[i].second);
    const std::string id = out->name().substr(6);
    std::string count;
    if (city_.store().Get(keys::BallotCount(id), &count).ok()) {
      out->set_ballot_count(static_cast<int64_t>(civitas::DecodeU64(count)));
    }
    out->set_results_visible(false);  // the votes are GetPoll's
  }
  if (polls.size() > size) response->set_next_page_token(polls[size - 1].first);
  return OkStatus();
}

Status Participation::ClosePoll(civitas::Call& call, const pb::ClosePollRequest& request,
                                pb::Poll* response) {
  std::string id;
  if (Status s = civitas::IdFromName("polls", request.name(), &id); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    Status g = txn.Get(keys::Poll(id), &bytes, /*for_update=*/true);
    if (g.code() == CIVITAS_NOT_FOUND) {
      return civitas::NotFound("poll '" + request.name() + "' does not exist");
    }
    if (!g.ok()) return g;
    pb::Poll poll;
    if (!poll.ParseFromString(bytes)) return civitas::Internal("stored poll is corrupt");
    if (civitas::ToMicros(poll.close_time()) <= now) {
      return civitas::FailedPrecondition("poll '" + request.name() + "' is closed already");
    }
    // A poll closed before it opened never opened.
    if (civitas::ToMicros(poll.open_time()) > now)
      civitas::SetMicros(now, poll.mutable_open_time());
    civitas::SetMicros(now, poll.mutable_close_time());
    return txn.Put(keys::Poll(id), poll.SerializeAsString());
  });
  if (!s.ok()) return s;
  pb::GetPollRequest get;
  get.set_name(request.name());
  return GetPoll(call, get, response);
}

Status Participation::CastBallot(civitas::Call& call, const pb::CastBallotRequest& request,
                                 pb::Ballot* response) {
  std::string id;
  if (Status s = civitas::IdFromName("polls", request.poll(), &id, "poll"); !s.ok()) return s;
  std::string bytes;
  Status s = city_.store().Get(keys::Poll(id), &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("poll '" + request.poll() + "' does not exist");
  if (!s.ok()) return s;
  pb::Poll poll;
  poll.ParseFromString(bytes);
  const int64_t now = city_.NowMicros();
  if (now < civitas::ToMicros(poll.open_time())) {
    return civitas::FailedPrecondition("the poll opens at " +
                                       std::to_string(poll.open_time().seconds()) + " (unix time)")
        .WithReason("POLL_NOT_OPEN");
  }
  if (now >= civitas::ToMicros(poll.close_time())) {
    return civitas::FailedPrecondition("the poll is closed").WithReason("POLL_CLOSED");
  }
  if (request.answers_size() != poll.questions_size()) {
    return InvalidArgument(
        "answers must have one entry per question: " + std::to_string(poll.questions_size()) +
        " expected, got " + std::to_string(request.answers_size()));
  }
  for (int q = 0; q < request.answers_size(); ++q) {
    const auto& chosen = request.answers(q).options();
    const pb::Question& question = poll.questions(q);
    const std::string where = "answers[" + std::to_string(q) + "]";
    if (chosen.empty()) return InvalidArgument(where + " chooses no option");
    if (!question.multiple_choice() && chosen.size() > 1) {
      return InvalidArgument(where + ": question " + std::to_string(q) + " allows one option");
    }
    std::set<int> unique;
    for (int o : chosen) {
      if (o < 0 || o >= question.options_size()) {
        return InvalidArgument(where + ": option " + std::to_string(o) + " does not exist (0 to " +
                               std::to_string(question.options_size() - 1) + ")");
      }
      if (!unique.insert(o).second)
        return InvalidArgument(where + " chooses option " + std::to_string(o) + " twice");
    }
  }
  const std::string subject(call.subject());
  const std::string ballot_key = keys::Ballot(id, subject);
  auto tally_key = [&](int q, int o) { return keys::Tally(id, q, o); };
  pb::Ballot ballot;
  ballot.set_name(request.poll() + "/ballots/mine");
  *ballot.mutable_answers() = request.answers();
  civitas::SetMicros(now, ballot.mutable_update_time());
  s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string previous_bytes;
    Status held = txn.Get(ballot_key, &previous_bytes, /*for_update=*/true);
    if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
    if (held.ok()) {
      if (!poll.ballots_changeable()) {
        return civitas::AlreadyExists("you have voted; this poll does not allow changing ballots")
            .WithReason("ALREADY_VOTED");
      }
      pb::Ballot previous;
      previous.ParseFromString(previous_bytes);
      for (int q = 0; q < previous.answers_size(); ++q) {
        for (int o : previous.answers(q).options()) {
          if (Status w = txn.AddU64(tally_key(q, o), -1); !w.ok()) return w;
        }
      }
    } else {
      if (Status w = txn.AddU64(keys::BallotCount(id), 1); !w.ok()) return w;
      if (Status w =
              txn.Put(keys::Contribution(subject, ContributionKind::kBallot, request.poll()), "");
          !w.ok()) {
        return w;
      }
    }
    for (int q = 0; q < request.answers_size(); ++q) {
      for (int o : request.answers(q).options()) {
        if (Status w = txn.AddU64(tally_key(q, o), 1); !w.ok()) return w;
      }
    }
    return txn.Put(ballot_key, ballot.SerializeAsString());
  });
  if (!s.ok()) return s;
  *response = ballot;
  return OkStatus();
}

}  // namespace participation
