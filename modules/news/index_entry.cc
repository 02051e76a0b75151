#include "index_entry.h"

#include "civitas/content.h"

namespace news {

std::string IndexEntry::EncodeTail() const {
  return std::string(pinned ? "0" : "1") +
         civitas::Hex16(static_cast<uint64_t>(INT64_MAX - publish_micros)) + id;
}

std::string IndexEntry::EncodeValue() const {
  std::string v = civitas::Hex16(static_cast<uint64_t>(expire_micros));
  for (size_t i = 0; i < languages.size(); ++i) {
    if (i > 0) v += ',';
    v += languages[i];
  }
  v += '\n';
  v += summary;
  return v;
}

bool IndexEntry::DecodeTail(std::string_view tail, IndexEntry* out) {
  if (tail.size() != kTailLength) return false;
  out->pinned = tail[0] == '0';
  out->publish_micros = INT64_MAX - static_cast<int64_t>(civitas::ParseHex(tail.substr(1, 16)));
  out->id = std::string(tail.substr(17));
  return true;
}

bool IndexEntry::DecodeValue(std::string_view value, IndexEntry* out) {
  if (value.size() < 16) return false;
  out->expire_micros = static_cast<int64_t>(civitas::ParseHex(value.substr(0, 16)));
  const size_t newline = value.find('\n');
  const std::string_view langs =
      value.substr(16, newline == std::string_view::npos ? std::string_view::npos : newline - 16);
  out->languages.clear();
  size_t start = 0;
  while (start <= langs.size()) {
    size_t comma = langs.find(',', start);
    if (comma == std::string_view::npos) comma = langs.size();
    out->languages.emplace_back(langs.substr(start, comma - start));
    start = comma + 1;
  }
  out->summary =
      newline == std::string_view::npos ? std::string() : std::string(value.substr(newline + 1));
  return true;
}

bool IndexEntry::VisibleAt(int64_t now) const {
  return publish_micros <= now && (expire_micros == 0 || expire_micros > now);
}

}  // namespace news
