// civitas SDK: a module's config block, read against the keys and ranges the module accepts.
//
// Every key a module reads is declared with its type, range and default; anything else in the
// block is refused, so a typo (`flag_treshold: 5`) or a wrong type (`"5"`) stops the module with
// one sentence naming the key, instead of silently giving the default. The sentence is the
// module's init error, which `civitasctl modules` shows:
//
//   civitas::ConfigReader config;
//   if (Status s = civitas::ConfigReader::Parse(city.ConfigJson(), &config); !s.ok()) return s;
//   config.Int("flag_threshold", 1, 1000, &flag_threshold)      // absent: keeps its value
//       .String("erased_name", &erased_name)
//       .Object("area", [&](civitas::ConfigReader& area) {
//         area.Number("min_latitude", -90, 90, &min_latitude);
//       });
//   if (Status s = config.Finish(); !s.ok()) return s;  // first error, or the first unknown key
//
// The gateway adds `default_language` and `time_zone` to every block, so those two are always
// accepted; a module that uses them reads them like any other key.
#ifndef CIVITAS_CONFIG_H_
#define CIVITAS_CONFIG_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "civitas/json.h"
#include "civitas/module.h"

namespace civitas {

class ConfigReader {
 public:
  ConfigReader() = default;
  // Reads `object` (a nested block the module found itself, such as one entry of a list);
  // errors name its keys with `path` in front ("categories[2].").
  ConfigReader(const JsonValue& object, std::string path) : root_(object), path_(std::move(path)) {}

  // Parses `json` (City::ConfigJson()); INVALID_ARGUMENT unless it is one JSON object.
  static Status Parse(std::string_view json, ConfigReader* out) {
    *out = ConfigReader();
    std::string error;
    if (!ParseJson(json, &out->root_, &error)) {
      return InvalidArgument("module config is not valid JSON: " + error);
    }
    if (!out->root_.is_object()) return InvalidArgument("module config must be a mapping of keys");
    out->known_ = {"default_language", "time_zone"};
    return OkStatus();
  }

  // Each reader leaves `*out` unchanged when the key is absent (so `*out` holds the default),
  // and records the first error; Finish() returns it.

  // A string of at most `max_bytes` bytes.
  ConfigReader& String(std::string_view key, std::string* out, size_t max_bytes = 10000) {
    const JsonValue* v = Find(key);
    if (v == nullptr) return *this;
    if (!v->is_string() || v->AsString().size() > max_bytes) {
      return Fail(Path(key) + " must be a string of at most " + std::to_string(max_bytes) +
                  " bytes, got " + Describe(*v));
    }
    *out = v->AsString();
    return *this;
  }

  // A whole number from `min` to `max` (both included), stored into any integer type that
  // holds the range.
  template <typename T>
  ConfigReader& Int(std::string_view key, int64_t min, int64_t max, T* out) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
    const JsonValue* v = Find(key);
    if (v == nullptr) return *this;
    const double d = v->AsNumber();
    // Compared as doubles first: a cast of an out-of-range double is undefined.
    if (!v->is_number() || !(d >= static_cast<double>(min) && d <= static_cast<double>(max)) ||
        d != std::floor(d)) {
      return Fail(Path(key) + " must be a whole number from " + std::to_string(min) + " to " +
                  std::to_string(max) + ", got " + Describe(*v));
    }
    *out = static_cast<T>(static_cast<int64_t>(d));
    return *this;
  }

  // A number from `min` to `max` (both included).
  ConfigReader& Number(std::string_view key, double min, double max, double* out) {
    const JsonValue* v = Find(key);
    if (v == nullptr) return *this;
    const double d = v->AsNumber();
    if (!v->is_number() || !(d >= min && d <= max)) {
      return Fail(Path(key) + " must be a number from " + FormatNumber(min) + " to " +
                  FormatNumber(max) + ", got " + Describe(*v));
    }
    *out = d;
    return *this;
  }

  ConfigReader& Bool(std::string_view key, bool* out) {
    const JsonValue* v = Find(key);
    if (v == nullptr) return *this;
    if (v->type() != JsonValue::Type::kBool) {
      return Fail(Path(key) + " must be true or false, got " + Describe(*v));
    }
    *out = v->AsBool();
    return *this;
  }

  // A nested block with keys of its own (`area: {min_latitude: ...}`), read by `read` with the
  // same rules; its unknown keys are refused too, named with the block (`area.min_lat`).
  ConfigReader& Object(std::string_view key, const std::function<void(ConfigReader&)>& read) {
    const JsonValue* v = Find(key);
    if (v == nullptr) return *this;
    if (!v->is_object()) return Fail(Path(key) + " must be a mapping of keys, got " + Describe(*v));
    ConfigReader nested(*v, Path(key) + ".");
    read(nested);
    if (Status s = nested.Finish(); !s.ok()) Fail(s.message());
    return *this;
  }

  // A value the module checks itself (a list such as `categories`); null when absent. The key
  // counts as known.
  const JsonValue& Value(std::string_view key) {
    static const JsonValue kNull;
    const JsonValue* v = Find(key);
    return v == nullptr ? kNull : *v;
  }
  bool Has(std::string_view key) const { return root_.members().count(std::string(key)) > 0; }

  // Records an error of the module's own checks (the first error wins).
  ConfigReader& Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return *this;
  }

  // The first error; else INVALID_ARGUMENT naming the first key no reader asked for.
  Status Finish() const {
    if (!error_.empty()) return InvalidArgument(error_);
    for (const auto& [key, value] : root_.members()) {
      if (known_.count(key) > 0) continue;
      std::string list;
      for (const std::string& k : known_) {
        if (path_.empty() && (k == "default_language" || k == "time_zone")) continue;
        list += (list.empty() ? "" : ", ") + k;
      }
      return InvalidArgument(
          "unknown config key '" + path_ + key + "'; " +
          (list.empty() ? "this block has no keys" : "the keys here are " + list));
    }
    return OkStatus();
  }

  // `value` as it appears in an error message: strings quoted (and cut at 60 bytes).
  static std::string Describe(const JsonValue& value) {
    switch (value.type()) {
      case JsonValue::Type::kNull:
        return "null";
      case JsonValue::Type::kBool:
        return value.AsBool() ? "true" : "false";
      case JsonValue::Type::kNumber:
        return FormatNumber(value.AsNumber());
      case JsonValue::Type::kString: {
        const std::string& s = value.AsString();
        return s.size() <= 60 ? JsonQuote(s) : JsonQuote(s.substr(0, 60)) + "...";
      }
      case JsonValue::Type::kArray:
        return "a list";
      case JsonValue::Type::kObject:
        return "a mapping";
    }
    return "?";
  }

 private:
  static std::string FormatNumber(double d) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", d);
    return buf;
  }
  std::string Path(std::string_view key) const { return path_ + std::string(key); }
  const JsonValue* Find(std::string_view key) {
    known_.insert(std::string(key));
    auto it = root_.members().find(std::string(key));
    return it == root_.members().end() ? nullptr : &it->second;
  }

  JsonValue root_;
  std::string path_;  // "area." inside a nested block
  std::set<std::string> known_;
  std::string error_;
};

}  // namespace civitas

#endif  // CIVITAS_CONFIG_H_
