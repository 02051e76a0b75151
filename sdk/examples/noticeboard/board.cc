#include "board.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "civitas/json.h"
#include "civitas/text.h"

namespace noticeboard {
namespace {

constexpr char kTopic[] = "notices";
constexpr size_t kMaxTitle = 120;
constexpr size_t kMaxBody = 2000;
constexpr size_t kMaxDisplayName = 60;
constexpr size_t kIdLength = 20;

// Newest first: 16 hex digits of (max - microseconds) and 4 random hex digits.
std::string NewId(int64_t now_micros) {
  thread_local std::mt19937 rng(std::random_device{}());
  char buf[kIdLength + 1];
  std::snprintf(buf, sizeof(buf), "%016llx%04x",
                static_cast<unsigned long long>(INT64_MAX - now_micros),
                static_cast<unsigned>(rng() & 0xffff));
  return buf;
}

bool IsId(const std::string& id) {
  if (id.size() != kIdLength) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

civitas::Status IdFromName(const std::string& name, std::string* id) {
  const std::string prefix = "notices/";
  if (name.compare(0, prefix.size(), prefix) != 0 || !IsId(name.substr(prefix.size()))) {
    return civitas::InvalidArgument("name must look like 'notices/{id}', got '" + name + "'");
  }
  *id = name.substr(prefix.size());
  return civitas::OkStatus();
}

}  // namespace

pb::Notice View(pb::Notice notice, std::string_view subject) {
  const bool mine = !subject.empty() && notice.author() == subject;
  notice.set_authored_by_caller(mine);
  if (!mine) notice.clear_author();
  return notice;
}

civitas::Status Board::Create(civitas::City city, std::unique_ptr<Board>* out) {
  *out = std::make_unique<Board>(city);
  return civitas::OkStatus();
}

civitas::Status Board::Load(const std::string& id, pb::Notice* notice, civitas::Transaction* txn) {
  std::string bytes;
  civitas::Status s = city_.store().Get("n/" + id, &bytes, txn);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("notice 'notices/" + id + "' does not exist");
  if (!s.ok()) return s;
  if (!notice->ParseFromString(bytes)) return civitas::Internal("stored notice is corrupt");
  std::string count;
  s = city_.store().Get("t/" + id, &count, txn);
  if (s.ok()) notice->set_thanks_count(static_cast<int64_t>(civitas::DecodeU64(count)));
  return civitas::OkStatus();
}

civitas::Status Board::ListNotices(civitas::Call& call, const pb::ListNoticesRequest& request,
                                   pb::ListNoticesResponse* response) {
  civitas::Status s = ListPage(request, response);
  for (pb::Notice& n : *response->mutable_notices()) n = View(std::move(n), call.subject());
  return s;
}

civitas::Status Board::ListPage(const pb::ListNoticesRequest& request,
                                pb::ListNoticesResponse* response) {
  if (request.page_size() < 0 || request.page_size() > 100) {
    return civitas::InvalidArgument("page_size must be between 0 and 100, got " +
                                    std::to_string(request.page_size()));
  }
  const uint32_t size = request.page_size() == 0 ? 20 : request.page_size();
  civitas::ScanOptions scan;
  scan.prefix = "n/";
  if (!request.page_token().empty()) {
    if (!IsId(request.page_token())) {
      return civitas::InvalidArgument("page_token is not one this server issued");
    }
    scan.start = "n/" + request.page_token() + '\x01';  // just after the last one returned
  }
  scan.limit = size + 1;  // one more tells whether there is a next page
  std::vector<std::string> ids;
  civitas::Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(2));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < ids.size() && i < size; ++i) {
    s = Load(ids[i], response->add_notices());
    if (!s.ok()) return s;
  }
  if (ids.size() > size) response->set_next_page_token(ids[size - 1]);
  return civitas::OkStatus();
}

civitas::Status Board::GetNotice(civitas::Call& call, const pb::GetNoticeRequest& request,
                                 pb::Notice* response) {
  std::string id;
  if (civitas::Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  civitas::Status s = Load(id, response);
  if (s.ok()) *response = View(std::move(*response), call.subject());
  return s;
}

civitas::Status Board::CreateNotice(civitas::Call& call, const pb::CreateNoticeRequest& request,
                                    pb::Notice* response) {
  const pb::Notice& in = request.notice();
  const std::optional<size_t> title_len = civitas::Utf8Length(in.title());
  const std::optional<size_t> body_len = civitas::Utf8Length(in.body());
  if (!title_len || !body_len)
    return civitas::InvalidArgument("title and body must be valid UTF-8");
  if (*title_len == 0 || *title_len > kMaxTitle) {
    return civitas::InvalidArgument("notice.title must have 1 to 120 characters, got " +
                                    std::to_string(*title_len));
  }
  const std::optional<size_t> display_len = civitas::Utf8Length(in.author_display_name());
  if (!display_len || *display_len > kMaxDisplayName) {
    return civitas::InvalidArgument(
        "notice.author_display_name must be valid UTF-8 of at most 60 characters");
  }
  if (*body_len > kMaxBody) {
    return civitas::InvalidArgument("notice.body must have at most 2000 characters, got " +
                                    std::to_string(*body_len));
  }
  if (in.has_location()) {
    const auto& l = in.location();
    if (!(l.latitude() >= -90 && l.latitude() <= 90) ||
        !(l.longitude() >= -180 && l.longitude() <= 180)) {
      return civitas::InvalidArgument(
          "notice.location must have latitude in [-90, 90] and "
          "longitude in [-180, 180]");
    }
  }
  const int64_t now = city_.NowMicros();
  const std::string id = NewId(now);
  pb::Notice notice;
  notice.set_name("notices/" + id);
  notice.set_title(in.title());
  notice.set_body(in.body());
  if (in.has_location()) *notice.mutable_location() = in.location();
  notice.set_author(std::string(call.subject()));
  notice.set_author_display_name(in.author_display_name());
  notice.mutable_create_time()->set_seconds(now / 1000000);
  notice.mutable_create_time()->set_nanos(static_cast<int32_t>(now % 1000000) * 1000);
  civitas::Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string existing;
    if (txn.Get("n/" + id, &existing).ok()) return civitas::Aborted("id collision");
    return txn.Put("n/" + id, notice.SerializeAsString());
  });
  if (!s.ok()) return s;
  *response = View(notice, call.subject());
  (void)city_.Publish(kTopic, View(notice, ""));  // followers are anyone
  return civitas::OkStatus();
}

civitas::Status Board::DeleteNotice(civitas::Call& call, const pb::DeleteNoticeRequest& request,
                                    google::protobuf::Empty*) {
  std::string id;
  if (civitas::Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    civitas::Status s = txn.Get("n/" + id, &bytes, /*for_update=*/true);
    if (s.code() == CIVITAS_NOT_FOUND)
      return civitas::NotFound("notice '" + request.name() + "' does not exist");
    if (!s.ok()) return s;
    pb::Notice notice;
    notice.ParseFromString(bytes);
    if (notice.author() != call.subject() && !call.HasRole(civitas::Role::kEditor)) {
      return civitas::PermissionDenied("only the author or an editor may delete this notice");
    }
    if (s = txn.Delete("n/" + id); !s.ok()) return s;
    return txn.Delete("t/" + id);
  });
}

civitas::Status Board::ThankNotice(civitas::Call& call, const pb::ThankNoticeRequest& request,
                                   pb::Notice* response) {
  std::string id;
  if (civitas::Status s = IdFromName(request.name(), &id); !s.ok()) return s;
  civitas::Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string bytes;
    civitas::Status found = txn.Get("n/" + id, &bytes);
    if (found.code() == CIVITAS_NOT_FOUND)
      return civitas::NotFound("notice '" + request.name() + "' does not exist");
    if (!found.ok()) return found;
    return txn.AddU64("t/" + id, 1);
  });
  if (!s.ok()) return s;
  s = Load(id, response);
  if (s.ok()) *response = View(std::move(*response), call.subject());
  return s;
}

civitas::Status Board::WatchNotices(civitas::Call&, const pb::WatchNoticesRequest& request,
                                    civitas::ServerWriter<pb::Notice>& writer) {
  if (request.initial_count() < 0 || request.initial_count() > 100) {
    return civitas::InvalidArgument("initial_count must be between 0 and 100, got " +
                                    std::to_string(request.initial_count()));
  }
  // Follow first, then send the snapshot: nothing created in between is missed.
  if (civitas::Status s = writer.Follow(kTopic); !s.ok()) return s;
  if (request.initial_count() == 0) return civitas::OkStatus();
  pb::ListNoticesRequest list;
  list.set_page_size(request.initial_count());
  pb::ListNoticesResponse page;
  civitas::Status s = ListPage(list, &page);
  if (!s.ok()) return s;
  for (const pb::Notice& n : page.notices()) {
    if (!writer.Write(View(n, ""))) break;
  }
  return civitas::OkStatus();
}

namespace {

// 1.1 shows titles without surrounding white space.
std::string Trimmed(const std::string& t) {
  size_t begin = t.find_first_not_of(" \t\n");
  size_t end = t.find_last_not_of(" \t\n");
  return begin == std::string::npos ? "" : t.substr(begin, end - begin + 1);
}

}  // namespace

civitas::Status Board::Migrate(std::string_view from_version) {
  // Versions before 1.1 stored titles as sent; 1.1 shows them trimmed.
  if (from_version.rfind("1.0.", 0) != 0 && from_version.rfind("0.", 0) != 0) {
    return civitas::OkStatus();
  }
  // The safe pattern: the scan only finds candidates; each record is read again, locked, inside
  // the transaction that rewrites it, so a record deleted or changed since the scan is never
  // written back from a stale copy. (The gateway also holds this module's calls in the city while
  // it migrates, so nothing should change meanwhile; the migration does not rely on that.)
  std::vector<std::string> candidates;
#ifdef NOTICEBOARD_NAIVE_MIGRATION
  std::map<std::string, pb::Notice> stale;
#endif
  civitas::ScanOptions all;
  all.prefix = "n/";
  all.limit = CIVITAS_SCAN_MAX_LIMIT;
  civitas::Status s = city_.store().Scan(all, [&](std::string_view key, std::string_view value) {
    pb::Notice n;
    if (n.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
        Trimmed(n.title()) != n.title() && !Trimmed(n.title()).empty()) {
      candidates.emplace_back(key);
#ifdef NOTICEBOARD_NAIVE_MIGRATION
      stale[std::string(key)] = n;
#endif
    }
    return true;
  });
  if (!s.ok()) return s;
#ifdef NOTICEBOARD_NAIVE_MIGRATION
  // Test fixture only: the unsafe pattern (write back the copies the scan read, a while later),
  // which the gateway must make harmless by holding the module's calls while it migrates.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (const std::string& key : candidates) {
      pb::Notice n = stale[key];
      n.set_title(Trimmed(n.title()));
      if (civitas::Status put = txn.Put(key, n.SerializeAsString()); !put.ok()) return put;
    }
    return civitas::OkStatus();
  });
#endif
  constexpr size_t kPerTransaction = 256;
  for (size_t first = 0; first < candidates.size(); first += kPerTransaction) {
    const size_t last = std::min(candidates.size(), first + kPerTransaction);
    s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
      for (size_t i = first; i < last; ++i) {
        std::string value;
        civitas::Status got = txn.Get(candidates[i], &value, /*for_update=*/true);
        if (got.code() == CIVITAS_NOT_FOUND) continue;  // deleted since the scan
        if (!got.ok()) return got;
        pb::Notice n;
        if (!n.ParseFromString(value)) continue;
        const std::string trimmed = Trimmed(n.title());
        if (trimmed == n.title() || trimmed.empty()) continue;
        n.set_title(trimmed);
        if (civitas::Status put = txn.Put(candidates[i], n.SerializeAsString()); !put.ok()) {
          return put;
        }
      }
      return civitas::OkStatus();
    });
    if (!s.ok()) return s;
  }
  return civitas::OkStatus();
}

civitas::Status Board::NoticesBy(std::string_view subject,
                                 std::vector<std::pair<std::string, pb::Notice>>* out) {
  if (subject.empty()) return civitas::InvalidArgument("subject must be non-empty");
  return city_.store().ScanAll("n/", [&](std::string_view key, std::string_view value) {
    pb::Notice n;
    if (n.ParseFromArray(value.data(), static_cast<int>(value.size())) && n.author() == subject) {
      out->emplace_back(std::string(key), std::move(n));
    }
    return true;
  });
}

civitas::Status Board::ExportPersonalData(std::string_view subject, std::string* json) {
  std::vector<std::pair<std::string, pb::Notice>> mine;
  if (civitas::Status s = NoticesBy(subject, &mine); !s.ok()) return s;
  *json = "{\"notices\":[";
  for (size_t i = 0; i < mine.size(); ++i) {
    const pb::Notice& n = mine[i].second;
    if (i > 0) *json += ",";
    *json += "{\"name\":" + civitas::JsonQuote(n.name()) +
             ",\"title\":" + civitas::JsonQuote(n.title()) +
             ",\"body\":" + civitas::JsonQuote(n.body()) +
             ",\"author_display_name\":" + civitas::JsonQuote(n.author_display_name()) +
             ",\"create_time_unix\":" + std::to_string(n.create_time().seconds()) + "}";
  }
  *json += "]}";
  return civitas::OkStatus();
}

civitas::Status Board::ErasePersonalData(std::string_view subject) {
  std::vector<std::pair<std::string, pb::Notice>> mine;
  if (civitas::Status s = NoticesBy(subject, &mine); !s.ok()) return s;
  if (mine.empty()) return civitas::OkStatus();
  return city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (const auto& [key, unused] : mine) {
      std::string bytes;
      civitas::Status g = txn.Get(key, &bytes, /*for_update=*/true);
      if (g.code() == CIVITAS_NOT_FOUND) continue;  // deleted meanwhile
      if (!g.ok()) return g;
      pb::Notice n;
      if (!n.ParseFromString(bytes)) return civitas::Internal("stored notice is corrupt");
      if (n.author() != subject) continue;
      n.clear_author();
      n.clear_author_display_name();
      if (civitas::Status w = txn.Put(key, n.SerializeAsString()); !w.ok()) return w;
    }
    return civitas::OkStatus();
  });
}

#ifdef NOTICEBOARD_DOWN_MIGRATION_NOTICE
// Test fixture only: a down-migration whose effect a client can see (a notice saying so).
civitas::Status Board::MigrateDown(std::string_view to_version) {
  const std::string id = NewId(city_.NowMicros());
  pb::Notice notice;
  notice.set_name("notices/" + id);
  notice.set_title("Zurück auf " + std::string(to_version));
  return city_.store().RunTransaction(
      [&](civitas::Transaction& txn) { return txn.Put("n/" + id, notice.SerializeAsString()); });
}
#endif

}  // namespace noticeboard

// The version comes from the build, so one source can be published as several versions.
#ifndef NOTICEBOARD_VERSION
#define NOTICEBOARD_VERSION "1.0.0"
#endif

CIVITAS_MODULE(
    civitas::ModuleBuilder<noticeboard::Board>("civitas.noticeboard", NOTICEBOARD_VERSION,
                                               &noticeboard::Board::Create)
        .Migration(&noticeboard::Board::Migrate)
#ifdef NOTICEBOARD_DOWN_MIGRATION_NOTICE
        .DownMigration(&noticeboard::Board::MigrateDown)
#endif
#ifndef NOTICEBOARD_STRICT_ROLLBACK
        // 1.0 reads trimmed titles as well as untrimmed ones: a rollback keeps every notice.
        .RollbackCompatible()
#endif
        .Service("civitas.noticeboard.v1.NoticeboardService")
        .Unary("ListNotices", civitas::Role::kAnonymous, &noticeboard::Board::ListNotices)
        .Unary("GetNotice", civitas::Role::kAnonymous, &noticeboard::Board::GetNotice)
        .Unary("CreateNotice", civitas::Role::kCitizen, &noticeboard::Board::CreateNotice)
        .Unary("DeleteNotice", civitas::Role::kCitizen, &noticeboard::Board::DeleteNotice)
        .Unary("ThankNotice", civitas::Role::kCitizen, &noticeboard::Board::ThankNotice)
        .ServerStream("WatchNotices", civitas::Role::kAnonymous, &noticeboard::Board::WatchNotices)
        .PersonalData(&noticeboard::Board::ExportPersonalData,
                      &noticeboard::Board::ErasePersonalData))
