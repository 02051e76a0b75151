#include "history.h"

#include "civitas/content.h"

namespace news {

namespace pb = ::civitas::news::v1;

std::string HistoryPrefix(std::string_view id) {
  return std::string(kHistoryRoot) + std::string(id) + "/";
}

std::string HistoryKey(std::string_view id, int64_t micros, std::string_view random) {
  return HistoryPrefix(id) + civitas::Hex16(static_cast<uint64_t>(INT64_MAX - micros)) +
         std::string(random);
}

bool IsHistoryPageToken(std::string_view token) {
  return token.size() == 20 && civitas::IsLowerHex(token);
}

pb::ArticleHistoryEntry HistoryEntry(pb::ArticleHistoryEntry::Action action, std::string_view actor,
                                     const std::vector<std::string>& fields,
                                     const pb::Article& after, int64_t now) {
  pb::ArticleHistoryEntry entry;
  civitas::SetMicros(now, entry.mutable_time());
  entry.set_actor(std::string(actor));
  entry.set_action(action);
  for (const std::string& f : fields) entry.add_fields(f);
  entry.set_state(after.state());
  entry.set_etag(after.etag());
  return entry;
}

}  // namespace news
