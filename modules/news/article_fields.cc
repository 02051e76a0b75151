#include "article_fields.h"

namespace news {

namespace pb = ::civitas::news::v1;

const std::set<std::string>& WritablePaths() {
  static const std::set<std::string> paths = {
      "title",         "teaser", "body",         "body_format", "language_code",
      "localizations", "images", "categories",   "tags",        "department",
      "link",          "pinned", "publish_time", "expire_time", "state"};
  return paths;
}

void CopyField(const std::string& path, const pb::Article& from, pb::Article* to) {
  if (path == "title") to->set_title(from.title());
  if (path == "teaser") to->set_teaser(from.teaser());
  if (path == "body") to->set_body(from.body());
  if (path == "body_format") to->set_body_format(from.body_format());
  if (path == "language_code") to->set_language_code(from.language_code());
  if (path == "localizations") *to->mutable_localizations() = from.localizations();
  if (path == "images") *to->mutable_images() = from.images();
  if (path == "categories") *to->mutable_categories() = from.categories();
  if (path == "tags") *to->mutable_tags() = from.tags();
  if (path == "department") to->set_department(from.department());
  if (path == "link") to->set_link(from.link());
  if (path == "pinned") to->set_pinned(from.pinned());
  if (path == "state") to->set_state(from.state());
  if (path == "publish_time") {
    if (from.has_publish_time()) {
      *to->mutable_publish_time() = from.publish_time();
    } else {
      to->clear_publish_time();
    }
  }
  if (path == "expire_time") {
    if (from.has_expire_time()) {
      *to->mutable_expire_time() = from.expire_time();
    } else {
      to->clear_expire_time();
    }
  }
}

std::vector<std::string> ChangedFields(const pb::Article& before, const pb::Article& after) {
  std::vector<std::string> changed;
  for (const std::string& path : WritablePaths()) {
    // One field alone in an otherwise empty message: equal values serialize to equal bytes.
    pb::Article x, y;
    CopyField(path, before, &x);
    CopyField(path, after, &y);
    if (x.SerializeAsString() != y.SerializeAsString()) changed.push_back(path);
  }
  return changed;
}

bool ChangesReviewedContent(const std::vector<std::string>& fields) {
  for (const std::string& f : fields) {
    if (f != "state" && f != "pinned" && f != "expire_time") return true;
  }
  return false;
}

}  // namespace news
