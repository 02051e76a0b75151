// The fields of an Article that editors write, as field-mask paths: which exist, how one is
// copied, which of them changed between two versions, and which of them are the content a
// second editor reviews (everything but the state, the pin and the expiry).
#ifndef CIVITAS_MODULES_NEWS_ARTICLE_FIELDS_H_
#define CIVITAS_MODULES_NEWS_ARTICLE_FIELDS_H_

#include <set>
#include <string>
#include <vector>

#include "civitas/news/v1/news.pb.h"

namespace news {

// Field mask paths UpdateArticle accepts.
const std::set<std::string>& WritablePaths();

// Copies the field `path` (one of WritablePaths()) from `from` to `to`.
void CopyField(const std::string& path, const civitas::news::v1::Article& from,
               civitas::news::v1::Article* to);

// The writable fields whose value differs between `before` and `after`, in WritablePaths() order.
std::vector<std::string> ChangedFields(const civitas::news::v1::Article& before,
                                       const civitas::news::v1::Article& after);

// True if one of `fields` is content a reviewer approves: all but state, pinned and expire_time.
bool ChangesReviewedContent(const std::vector<std::string>& fields);

}  // namespace news

#endif  // CIVITAS_MODULES_NEWS_ARTICLE_FIELDS_H_
