// civitas SDK: what content modules (news, events, reports, ...) share: ids, timestamps, etags,
// page sizes, URLs and the city's categories from the module config.
#ifndef CIVITAS_CONTENT_H_
#define CIVITAS_CONTENT_H_

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "civitas/config.h"
#include "civitas/json.h"
#include "civitas/module.h"
#include "civitas/text.h"

namespace civitas {

inline std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

inline bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Lower-case hex digits to a number (at most 16 are read).
inline uint64_t ParseHex(std::string_view s) {
  uint64_t v = 0;
  for (char c : s.substr(0, 16)) {
    v = (v << 4) | static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return v;
}

// 16 random hex digits: a resource id.
inline std::string NewResourceId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return Hex16(rng());
}

// "<collection>/<16 hex digits>" -> the id, or INVALID_ARGUMENT naming the expected shape.
inline Status IdFromName(std::string_view collection, const std::string& name, std::string* id,
                         std::string_view field = "name") {
  const std::string prefix = std::string(collection) + "/";
  if (name.compare(0, prefix.size(), prefix) != 0 || name.size() != prefix.size() + 16 ||
      !IsLowerHex(std::string_view(name).substr(prefix.size()))) {
    return InvalidArgument(std::string(field) + " must look like '" + prefix +
                           "{id}' with a 16-digit hex id, got '" + name + "'");
  }
  *id = name.substr(prefix.size());
  return OkStatus();
}

// google.protobuf.Timestamp (any generated flavour) <-> unix microseconds.
template <class Timestamp>
int64_t ToMicros(const Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}
template <class Timestamp>
void SetMicros(int64_t micros, Timestamp* t) {
  int64_t seconds = micros / 1000000, rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  t->set_seconds(seconds);
  t->set_nanos(static_cast<int32_t>(rest) * 1000);
}
// Between 0001-01-01 and 9999-12-31, as the JSON mapping requires.
template <class Timestamp>
bool ValidTimestamp(const Timestamp& t) {
  return t.seconds() >= -62135596800 && t.seconds() <= 253402300799 && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

// Etags: "<revision>-<time>" in hex, a new one for every write.
inline std::string NextEtag(const std::string& previous, int64_t now_micros) {
  uint64_t revision = 0;
  const size_t dash = previous.find('-');
  if (dash != std::string::npos && dash <= 16 && IsLowerHex(previous.substr(0, dash))) {
    revision = ParseHex(previous.substr(0, dash));
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%" PRIx64 "-%" PRIx64, revision + 1,
                static_cast<uint64_t>(now_micros));
  return buf;
}

// OK if `given` is empty or current; ABORTED otherwise (AIP-154).
inline Status CheckEtag(const std::string& given, const std::string& current,
                        std::string_view what) {
  if (given.empty() || given == current) return OkStatus();
  return Aborted("etag '" + given + "' is stale: the " + std::string(what) +
                 " was changed meanwhile (now '" + current +
                 "'); read it again and reapply your change")
      .WithReason("ETAG_MISMATCH");
}

// CheckLength as a Status: INVALID_ARGUMENT naming `field`, or OK.
inline Status CheckText(std::string_view field, std::string_view value, size_t min_chars,
                        size_t max_chars) {
  std::string e = CheckLength(field, value, min_chars, max_chars);
  return e.empty() ? OkStatus() : InvalidArgument(std::move(e));
}

inline Status CheckPageSize(int32_t page_size, int32_t max, std::string_view field = "page_size") {
  if (page_size < 0 || page_size > max) {
    return InvalidArgument(std::string(field) + " must be between 0 and " + std::to_string(max) +
                           ", got " + std::to_string(page_size));
  }
  return OkStatus();
}

// Empty or an http(s) URL of at most 2048 characters.
inline Status CheckHttpUrl(const std::string& field, const std::string& url) {
  if (std::string e = CheckLength(field, url, 0, 2048); !e.empty()) return InvalidArgument(e);
  if (url.empty() || url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0) {
    return OkStatus();
  }
  return InvalidArgument(field + " must be an http or https URL, got '" + url + "'");
}

inline Status CheckLanguageTag(const std::string& field, const std::string& tag) {
  if (tag.empty() || IsLanguageTag(tag)) return OkStatus();
  return InvalidArgument(field + " '" + tag + "' is not a language tag like 'de' or 'en-GB'");
}

inline Status CheckCoordinates(const std::string& field, double latitude, double longitude) {
  if (latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180) return OkStatus();
  return InvalidArgument(field +
                         " must have latitude in [-90, 90] and longitude in [-180, 180], got (" +
                         std::to_string(latitude) + ", " + std::to_string(longitude) + ")");
}

// Great-circle distance in metres.
inline double DistanceMeters(double lat1, double lng1, double lat2, double lng2) {
  constexpr double kEarthRadius = 6371008.8, kRad = 3.14159265358979323846 / 180;
  const double dlat = (lat2 - lat1) * kRad, dlng = (lng2 - lng1) * kRad;
  const double a =
      std::sin(dlat / 2) * std::sin(dlat / 2) +
      std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlng / 2) * std::sin(dlng / 2);
  return 2 * kEarthRadius * std::atan2(std::sqrt(a), std::sqrt(1 - a));
}

// A city's categories for a module, from its config:
//   categories: [{id: verkehr, names: {de: Verkehr, en: Traffic}}, {id: sport, name: Sport}]
class Categories {
 public:
  struct Category {
    std::string id;
    std::map<std::string, std::string> names;  // primary language -> display name
  };

  // The module config's `categories` list; `fallback` is used when the config has none. Each
  // entry is `{id, name}` or `{id, names: {<language>: <name>, ...}}`; other keys are refused.
  static Status Parse(ConfigReader& config, const std::string& default_language,
                      std::vector<Category> fallback, Categories* out) {
    return ParseList(config.Value("categories"), default_language, std::move(fallback), out);
  }
  // The same for a config already parsed into a JsonValue (modules that read it by hand).
  static Status Parse(const JsonValue& config, const std::string& default_language,
                      std::vector<Category> fallback, Categories* out) {
    return ParseList(config["categories"], default_language, std::move(fallback), out);
  }

  static Status ParseList(const JsonValue& list, const std::string& default_language,
                          std::vector<Category> fallback, Categories* out) {
    out->default_language_ = PrimaryLanguage(default_language);
    if (list.is_null()) {
      out->list_ = std::move(fallback);
      return OkStatus();
    }
    if (!list.is_array()) {
      return InvalidArgument("categories must be a list, got " + ConfigReader::Describe(list));
    }
    for (size_t i = 0; i < list.items().size(); ++i) {
      const JsonValue& c = list.items()[i];
      const std::string where = "categories[" + std::to_string(i) + "]";
      if (!c.is_object()) {
        return InvalidArgument(where + " must be a mapping with id and name or names, got " +
                               ConfigReader::Describe(c));
      }
      ConfigReader entry(c, where + ".");
      Category category;
      std::string name;
      entry.String("id", &category.id).String("name", &name, 200);
      const JsonValue& names = entry.Value("names");
      if (Status s = entry.Finish(); !s.ok()) return s;
      bool valid = !category.id.empty() && category.id.size() <= 40;
      for (char ch : category.id) {
        valid = valid &&
                ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_');
      }
      if (!valid) {
        return InvalidArgument(where + ".id must be 1 to 40 of a-z, 0-9, '-', '_', got '" +
                               category.id + "'");
      }
      if (out->Find(category.id)) {
        return InvalidArgument(where + ".id '" + category.id + "' appears twice");
      }
      if (!names.is_null() && !names.is_object()) {
        return InvalidArgument(where + ".names must be a mapping of language to name, got " +
                               ConfigReader::Describe(names));
      }
      if (entry.Has("name")) category.names[out->default_language_] = name;
      for (const auto& [language, value] : names.members()) {
        if (!value.is_string()) {
          return InvalidArgument(where + ".names." + language + " must be a string, got " +
                                 ConfigReader::Describe(value));
        }
        category.names[PrimaryLanguage(language)] = value.AsString();
      }
      if (category.names.empty()) category.names[out->default_language_] = category.id;
      out->list_.push_back(std::move(category));
    }
    return OkStatus();
  }

  const Category* Find(const std::string& id) const {
    for (const Category& c : list_) {
      if (c.id == id) return &c;
    }
    return nullptr;
  }
  // OK for a known id; INVALID_ARGUMENT pointing at ListCategories otherwise.
  Status Check(const std::string& field, const std::string& id) const {
    if (Find(id)) return OkStatus();
    return InvalidArgument(field + ": unknown category '" + id +
                           "'; ListCategories shows this city's categories");
  }
  // The name in `language`, else the city's language, else any.
  std::string DisplayName(const std::string& id, const std::string& language) const {
    const Category* c = Find(id);
    if (!c) return id;
    auto it = c->names.find(PrimaryLanguage(language));
    if (it == c->names.end()) it = c->names.find(default_language_);
    if (it == c->names.end()) it = c->names.begin();
    return it->second;
  }
  const std::vector<Category>& list() const { return list_; }

 private:
  std::string default_language_ = "de";
  std::vector<Category> list_;
};

}  // namespace civitas

#endif  // CIVITAS_CONTENT_H_
