// The notice board: the SDK's example module. Keys (all inside this module's namespace):
//   n/<id>  Notice (without thanks_count); <id> sorts newest first, so a page is one seek + N
//   nexts.
//           The stored notice keeps the author's subject (so the author may delete it); callers
//           other than the author never see it (View).
//   t/<id>  thanks counter (uint64, merged without conflicts)
#ifndef CIVITAS_EXAMPLES_NOTICEBOARD_BOARD_H_
#define CIVITAS_EXAMPLES_NOTICEBOARD_BOARD_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "civitas/module.h"
#include "civitas/noticeboard/v1/noticeboard.pb.h"

namespace noticeboard {

namespace pb = ::civitas::noticeboard::v1;

class Board {
 public:
  static civitas::Status Create(civitas::City city, std::unique_ptr<Board>* out);
  explicit Board(civitas::City city) : city_(city) {}

  civitas::Status ListNotices(civitas::Call& call, const pb::ListNoticesRequest& request,
                              pb::ListNoticesResponse* response);
  civitas::Status GetNotice(civitas::Call& call, const pb::GetNoticeRequest& request,
                            pb::Notice* response);
  civitas::Status CreateNotice(civitas::Call& call, const pb::CreateNoticeRequest& request,
                               pb::Notice* response);
  civitas::Status DeleteNotice(civitas::Call& call, const pb::DeleteNoticeRequest& request,
                               google::protobuf::Empty* response);
  civitas::Status ThankNotice(civitas::Call& call, const pb::ThankNoticeRequest& request,
                              pb::Notice* response);
  civitas::Status WatchNotices(civitas::Call& call, const pb::WatchNoticesRequest& request,
                               civitas::ServerWriter<pb::Notice>& writer);
  // Upgrading from a version before 1.1: trims stray whitespace from stored titles.
  civitas::Status Migrate(std::string_view from_version);
  // A citizen's data (ABI 1.2): the notices they wrote.
  civitas::Status ExportPersonalData(std::string_view subject, std::string* json);
  // Removes the subject and their display name from their notices (the notices stay, anonymous).
  civitas::Status ErasePersonalData(std::string_view subject);
#ifdef NOTICEBOARD_DOWN_MIGRATION_NOTICE
  civitas::Status MigrateDown(std::string_view to_version);
#endif

 private:
  // One page, newest first; shared by ListNotices and the snapshot of WatchNotices.
  civitas::Status ListPage(const pb::ListNoticesRequest& request,
                           pb::ListNoticesResponse* response);
  // Reads n/<id> and t/<id> into *notice.
  civitas::Status Load(const std::string& id, pb::Notice* notice,
                       civitas::Transaction* txn = nullptr);
  // Every stored notice whose author is `subject`, as key -> notice.
  civitas::Status NoticesBy(std::string_view subject,
                            std::vector<std::pair<std::string, pb::Notice>>* out);
  civitas::City city_;
};

// What `subject` (empty: anonymous) may see of a stored notice: the author's subject only if it
// is theirs.
pb::Notice View(pb::Notice notice, std::string_view subject);

}  // namespace noticeboard

#endif  // CIVITAS_EXAMPLES_NOTICEBOARD_BOARD_H_
