#include "services/gateway/json_codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

std::string TypeUrl(const pb::Descriptor* type) {
  return absl::StrCat(kTypeUrlPrefix, "/", type->full_name());
}

absl::Status FromProtobuf(const pb::util::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.code()), s.message().as_string());
}

std::string DeterministicBytes(const pb::Message& m) {
  std::string bytes;
  pb::io::StringOutputStream stream(&bytes);
  pb::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

// Keeps every type it resolved: the pool's descriptors never change, and converting a
// descriptor to a google.protobuf.Type (names, JSON names, options) is repeated by every
// conversion otherwise.
class KeptTypeResolver : public pb::util::TypeResolver {
 public:
  explicit KeptTypeResolver(const pb::DescriptorPool* pool)
      : inner_(pb::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix, pool)) {}

  pb::util::Status ResolveMessageType(const std::string& type_url, pb::Type* type) override {
    return Resolve(type_url, type, &messages_, [this](const std::string& url, pb::Type* t) {
      return inner_->ResolveMessageType(url, t);
    });
  }
  pb::util::Status ResolveEnumType(const std::string& type_url, pb::Enum* type) override {
    return Resolve(type_url, type, &enums_, [this](const std::string& url, pb::Enum* t) {
      return inner_->ResolveEnumType(url, t);
    });
  }

 private:
  template <typename T, typename F>
  pb::util::Status Resolve(const std::string& url, T* out,
                           absl::flat_hash_map<std::string, std::unique_ptr<const T>>* kept,
                           F resolve) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = kept->find(url); it != kept->end()) {
        *out = *it->second;
        return pb::util::Status();
      }
    }
    auto made = std::make_unique<T>();
    pb::util::Status s = resolve(url, made.get());
    if (!s.ok()) return s;  // an unknown type is not kept: the answer is an error anyway
    *out = *made;
    absl::MutexLock lock(&mu_);
    kept->try_emplace(url, std::move(made));
    return s;
  }

  std::unique_ptr<pb::util::TypeResolver> inner_;  // thread-safe, as every TypeResolver
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<const pb::Type>> messages_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::unique_ptr<const pb::Enum>> enums_ ABSL_GUARDED_BY(mu_);
};

// True for the code points protobuf's printer writes as \u escapes although JSON allows them
// raw: C1 controls, and invisible or direction-changing characters that have been used to
// disguise text (besides the C0 controls, quote, backslash, '<' and '>', handled below).
bool EscapedCodePoint(uint32_t cp) {
  return (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || (cp >= 0x600 && cp <= 0x603) || cp == 0x6dd ||
         cp == 0x70f || cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x200b && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         cp == 0xe0001 || (cp >= 0x1d173 && cp <= 0x1d17a) || (cp >= 0xe0020 && cp <= 0xe007f);
}

void AppendU16(uint32_t unit, std::string* out) { absl::StrAppendFormat(out, "\\u%04x", unit); }

// `s` (UTF-8) as a JSON string literal escaped as protobuf's printer escapes it, so that an
// answer reads the same whichever printer wrote it; '<' and '>' are escaped too, which keeps
// module text inert when a page embeds the JSON. Bytes that are not UTF-8 are left out, as
// protobuf does (proto3 strings are checked when parsed, so this is the exception).
void AppendJsonString(absl::string_view s, std::string* out_ptr) {
  std::string& out = *out_ptr;
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  size_t i = 0, plain = 0;  // s[plain, i) is copied as it is, in one piece
  auto flush = [&] { out.append(s.data() + plain, i - plain); };
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>') {
      ++i;  // the common case: plain ASCII
      continue;
    }
    if (c < 0x80) {
      flush();
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:  // other C0 controls, '<', '>', DEL
          AppendU16(c, &out);
      }
      plain = ++i;
      continue;
    }
    // A multi-byte sequence: its length from the lead byte, then continuation bytes.
    const int length = c >= 0xf0 && c <= 0xf7 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t cp = length == 4 ? c & 0x07 : length == 3 ? c & 0x0f : c & 0x1f;
    bool valid = length > 0 && i + length <= s.size();
    for (int k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      valid = (next & 0xc0) == 0x80;
      cp = (cp << 6) | (next & 0x3f);
    }
    valid = valid && cp <= 0x10ffff && (cp & 0xfffff800) != 0xd800;
    if (valid && !EscapedCodePoint(cp)) {
      i += length;  // copied with the run
      continue;
    }
    flush();
    if (!valid) {
      plain = ++i;  // dropped
      continue;
    }
    if (cp < 0x10000) {
      AppendU16(cp, &out);
    } else {
      AppendU16(0xd800 + ((cp - 0x10000) >> 10), &out);
      AppendU16(0xdc00 + ((cp - 0x10000) & 0x3ff), &out);
    }
    i += length;
    plain = i;
  }
  flush();
  out.push_back('"');
}

// The well-known types the printer writes itself; any other (Any, Struct, Value, ListValue)
// sends the message to protobuf's converter.
enum class Known { kNone, kTimestamp, kDuration, kFieldMask, kEmpty, kWrapper, kOther };

Known KnownType(const pb::Descriptor* type) {
  if (type->file()->name().rfind("google/protobuf/", 0) != 0) return Known::kNone;
  const std::string& name = type->full_name();
  if (name == "google.protobuf.Timestamp") return Known::kTimestamp;
  if (name == "google.protobuf.Duration") return Known::kDuration;
  if (name == "google.protobuf.FieldMask") return Known::kFieldMask;
  if (name == "google.protobuf.Empty") return Known::kEmpty;
  if (type->file()->name() == "google/protobuf/wrappers.proto") return Known::kWrapper;
  return Known::kOther;
}

// Shortest decimal that reads back as the same value, as protobuf writes doubles and floats.
template <typename T>
std::string ShortestDecimal(T v, int short_digits, int exact_digits) {
  char buffer[40];
  snprintf(buffer, sizeof buffer, "%.*g", short_digits, static_cast<double>(v));
  if (static_cast<T>(strtod(buffer, nullptr)) != v) {
    snprintf(buffer, sizeof buffer, "%.*g", exact_digits, static_cast<double>(v));
  }
  return buffer;
}

template <typename T>
void AppendFloating(T v, int short_digits, int exact_digits, std::string* out) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    out->append(ShortestDecimal(v, short_digits, exact_digits));
  }
}

// Nanoseconds as protobuf writes them: none, or 3, 6 or 9 digits.
void AppendNanos(int32_t nanos, std::string* out) {
  if (nanos == 0) return;
  if (nanos % 1000000 == 0) {
    absl::StrAppendFormat(out, ".%03d", nanos / 1000000);
  } else if (nanos % 1000 == 0) {
    absl::StrAppendFormat(out, ".%06d", nanos / 1000);
  } else {
    absl::StrAppendFormat(out, ".%09d", nanos);
  }
}

// Unix seconds (years 0001 to 9999) as "YYYY-MM-DDTHH:MM:SS", UTC: the civil date from the day
// count by the proleptic Gregorian calendar's 400-year eras, the digits written directly (a page
// of articles has three timestamps per article; the time-zone library's formatter was a
// twentieth of an uncached page's cost).
void AppendUtcSeconds(int64_t seconds, std::string* out) {
  int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    --days;
  }
  days += 719468;  // from 1970-01-01 to 0000-03-01
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;  // months from March
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(year_of_era + era * 400 + (month <= 2 ? 1 : 0));
  const int hms = static_cast<int>(rest);
  char text[19];
  auto put = [&text](int at, int value, int width) {
    for (int k = width - 1; k >= 0; --k, value /= 10)
      text[at + k] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  text[4] = '-';
  put(5, month, 2);
  text[7] = '-';
  put(8, day, 2);
  text[10] = 'T';
  put(11, hms / 3600, 2);
  text[13] = ':';
  put(14, hms / 60 % 60, 2);
  text[16] = ':';
  put(17, hms % 60, 2);
  out->append(text, sizeof text);
}

// "snake_case.path" as "snakeCase.path" (FieldMask paths in JSON).
std::string CamelPath(const std::string& path) {
  std::string out;
  bool upper = false;
  for (char c : path) {
    if (c == '_') {
      upper = true;
    } else {
      out.push_back(upper ? absl::ascii_toupper(c) : c);
      upper = false;
    }
  }
  return out;
}

// Proto3 JSON by reflection, as protobuf's printer writes it with always_print_primitive_fields
// (json_codec_test checks the two agree): fields in declaration order under their JSON names,
// every scalar and repeated field without presence, zero and empty included; message fields and
// fields with presence only when set.
class ReflectionPrinter {
 public:
  explicit ReflectionPrinter(std::string* out) : out_(out) {}

  absl::Status Message(const pb::Message& m) {
    const pb::Descriptor* type = m.GetDescriptor();
    const pb::Reflection* r = m.GetReflection();
    switch (KnownType(type)) {
      case Known::kTimestamp:
        return Timestamp(r->GetInt64(m, type->field(0)), r->GetInt32(m, type->field(1)));
      case Known::kDuration:
        return Duration(r->GetInt64(m, type->field(0)), r->GetInt32(m, type->field(1)));
      case Known::kFieldMask: {
        const pb::FieldDescriptor* paths = type->field(0);
        std::string joined;
        for (int i = 0; i < r->FieldSize(m, paths); ++i) {
          if (i) joined.push_back(',');
          joined += CamelPath(r->GetRepeatedString(m, paths, i));
        }
        AppendJsonString(joined, out_);
        return absl::OkStatus();
      }
      case Known::kWrapper:
        return Single(m, type->field(0));
      case Known::kOther:
        return absl::UnimplementedError(type->full_name());
      case Known::kEmpty:
      case Known::kNone:
        break;
    }
    // protobuf's order: in declaration order every field without presence (scalars, repeated
    // fields, maps) and every set message field, except those of a well-known type; then the
    // set fields of well-known types and set scalars with presence (oneof members, proto3
    // optional), by field number (the order of the wire bytes).
    out_->push_back('{');
    bool first = true;
    auto field = [&](const pb::FieldDescriptor* f) {
      if (!first) out_->push_back(',');
      first = false;
      AppendJsonString(f->json_name(), out_);
      out_->push_back(':');
      return f->is_map() ? Map(m, f) : f->is_repeated() ? List(m, f) : Single(m, f);
    };
    auto later = [](const pb::FieldDescriptor* f) {
      if (f->is_repeated() || !f->has_presence()) return false;
      return f->message_type() == nullptr || KnownType(f->message_type()) != Known::kNone;
    };
    for (int i = 0; i < type->field_count(); ++i) {
      const pb::FieldDescriptor* f = type->field(i);
      if (later(f) || (!f->is_repeated() && f->has_presence() && !r->HasField(m, f))) continue;
      if (absl::Status s = field(f); !s.ok()) return s;
    }
    std::vector<const pb::FieldDescriptor*> present;
    for (int i = 0; i < type->field_count(); ++i) {
      const pb::FieldDescriptor* f = type->field(i);
      if (later(f) && r->HasField(m, f)) present.push_back(f);
    }
    std::sort(present.begin(), present.end(),
              [](const pb::FieldDescriptor* a, const pb::FieldDescriptor* b) {
                return a->number() < b->number();
              });
    for (const pb::FieldDescriptor* f : present) {
      if (absl::Status s = field(f); !s.ok()) return s;
    }
    out_->push_back('}');
    return absl::OkStatus();
  }

 private:
  absl::Status Timestamp(int64_t seconds, int32_t nanos) {
    // The range RFC 3339 can write: years 0001 to 9999.
    if (seconds < -62135596800 || seconds > 253402300799 || nanos < 0 || nanos > 999999999) {
      return absl::InvalidArgumentError("a Timestamp out of range");
    }
    out_->push_back('"');
    AppendUtcSeconds(seconds, out_);
    AppendNanos(nanos, out_);
    out_->append("Z\"");
    return absl::OkStatus();
  }

  absl::Status Duration(int64_t seconds, int32_t nanos) {
    if (seconds < -315576000000 || seconds > 315576000000 || nanos < -999999999 ||
        nanos > 999999999 || (seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
      return absl::InvalidArgumentError("a Duration out of range");
    }
    out_->push_back('"');
    if (seconds < 0 || nanos < 0) out_->push_back('-');
    absl::StrAppend(out_, seconds < 0 ? -seconds : seconds);
    AppendNanos(nanos < 0 ? -nanos : nanos, out_);
    out_->append("s\"");
    return absl::OkStatus();
  }

  absl::Status Single(const pb::Message& m, const pb::FieldDescriptor* f) {
    return Value(m, f, -1);
  }

  absl::Status List(const pb::Message& m, const pb::FieldDescriptor* f) {
    out_->push_back('[');
    const int n = m.GetReflection()->FieldSize(m, f);
    for (int i = 0; i < n; ++i) {
      if (i) out_->push_back(',');
      if (absl::Status s = Value(m, f, i); !s.ok()) return s;
    }
    out_->push_back(']');
    return absl::OkStatus();
  }

  // The value of `f` in `m`: the field's own (index -1) or its index-th entry.
  absl::Status Value(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
    const pb::Reflection* r = m.GetReflection();
    const bool one = index < 0;
    switch (f->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32:
        absl::StrAppend(out_, one ? r->GetInt32(m, f) : r->GetRepeatedInt32(m, f, index));
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT32:
        absl::StrAppend(out_, one ? r->GetUInt32(m, f) : r->GetRepeatedUInt32(m, f, index));
        break;
      case pb::FieldDescriptor::CPPTYPE_INT64:  // strings in JSON: beyond a double's precision
        absl::StrAppend(out_, "\"", one ? r->GetInt64(m, f) : r->GetRepeatedInt64(m, f, index),
                        "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_UINT64:
        absl::StrAppend(out_, "\"", one ? r->GetUInt64(m, f) : r->GetRepeatedUInt64(m, f, index),
                        "\"");
        break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE:
        AppendFloating(one ? r->GetDouble(m, f) : r->GetRepeatedDouble(m, f, index), 15, 17, out_);
        break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT:
        AppendFloating(one ? r->GetFloat(m, f) : r->GetRepeatedFloat(m, f, index), 6, 9, out_);
        break;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        out_->append((one ? r->GetBool(m, f) : r->GetRepeatedBool(m, f, index)) ? "true" : "false");
        break;
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        Enum(f->enum_type(), one ? r->GetEnumValue(m, f) : r->GetRepeatedEnumValue(m, f, index));
        break;
      case pb::FieldDescriptor::CPPTYPE_STRING: {
        std::string scratch;
        const std::string& v = one ? r->GetStringReference(m, f, &scratch)
                                   : r->GetRepeatedStringReference(m, f, index, &scratch);
        if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
          AppendJsonString(absl::Base64Escape(v), out_);
        } else {
          AppendJsonString(v, out_);
        }
        break;
      }
      case pb::FieldDescriptor::CPPTYPE_MESSAGE:
        return Message(one ? r->GetMessage(m, f) : r->GetRepeatedMessage(m, f, index));
    }
    return absl::OkStatus();
  }

  // A map as an object, its keys (strings in JSON whatever their type) in order: the map's own
  // order is its hash table's, which differs between two parses of the same bytes, and an
  // answer's ETag is made from the printed bytes.
  absl::Status Map(const pb::Message& m, const pb::FieldDescriptor* f) {
    const pb::Reflection* r = m.GetReflection();
    const pb::FieldDescriptor* key = f->message_type()->map_key();
    const pb::FieldDescriptor* value = f->message_type()->map_value();
    struct Entry {
      int64_t number = 0;  // integer and bool keys sort as numbers
      uint64_t unsigned_number = 0;
      std::string text;
      const pb::Message* entry = nullptr;
    };
    std::vector<Entry> entries;
    const int n = r->FieldSize(m, f);
    entries.reserve(n);
    for (int i = 0; i < n; ++i) {
      const pb::Message& entry = r->GetRepeatedMessage(m, f, i);
      const pb::Reflection* er = entry.GetReflection();
      Entry e;
      e.entry = &entry;
      switch (key->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_STRING:
          e.text = er->GetString(entry, key);
          break;
        case pb::FieldDescriptor::CPPTYPE_BOOL:
          e.number = er->GetBool(entry, key);
          e.text = e.number ? "true" : "false";
          break;
        case pb::FieldDescriptor::CPPTYPE_INT32:
          e.number = er->GetInt32(entry, key);
          e.text = absl::StrCat(e.number);
          break;
        case pb::FieldDescriptor::CPPTYPE_INT64:
          e.number = er->GetInt64(entry, key);
          e.text = absl::StrCat(e.number);
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT32:
          e.unsigned_number = er->GetUInt32(entry, key);
          e.text = absl::StrCat(e.unsigned_number);
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT64:
          e.unsigned_number = er->GetUInt64(entry, key);
          e.text = absl::StrCat(e.unsigned_number);
          break;
        default:
          return absl::InternalError("a map key of a type protobuf does not allow");
      }
      entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.number, a.unsigned_number, a.text) <
             std::tie(b.number, b.unsigned_number, b.text);
    });
    out_->push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out_->push_back(',');
      AppendJsonString(entries[i].text, out_);
      out_->push_back(':');
      if (absl::Status s = Single(*entries[i].entry, value); !s.ok()) return s;
    }
    out_->push_back('}');
    return absl::OkStatus();
  }

  void Enum(const pb::EnumDescriptor* type, int number) {
    if (const pb::EnumValueDescriptor* v = type->FindValueByNumber(number)) {
      AppendJsonString(v->name(), out_);
    } else {
      absl::StrAppend(out_, number);  // a value this descriptor does not know yet
    }
  }

  std::string* out_;
};

// True if ReflectionPrinter writes every type reachable from `type` (memo: types already seen,
// with their answer; a type being looked at counts as printable, so recursion ends).
bool Printable(const pb::Descriptor* type, absl::flat_hash_map<const pb::Descriptor*, bool>* memo) {
  if (auto it = memo->find(type); it != memo->end()) return it->second;
  (*memo)[type] = true;
  // proto2's defaults and presence rules are protobuf's converter's business.
  bool ok = KnownType(type) != Known::kOther &&
            (type->file()->syntax() == pb::FileDescriptor::SYNTAX_PROTO3 ||
             KnownType(type) != Known::kNone);
  for (int i = 0; ok && i < type->field_count(); ++i) {
    if (const pb::Descriptor* sub = type->field(i)->message_type()) ok = Printable(sub, memo);
  }
  (*memo)[type] = ok;
  return ok;
}

}  // namespace

const JsonCodec& JsonCodec::Of(const pb::DescriptorPool* pool) {
  static absl::Mutex mu(absl::kConstInit);
  // Never freed: the codecs live as long as the pools they serve, which is the process.
  static auto* codecs = new absl::flat_hash_map<const pb::DescriptorPool*, const JsonCodec*>();
  {
    absl::ReaderMutexLock lock(&mu);
    if (auto it = codecs->find(pool); it != codecs->end()) return *it->second;
  }
  absl::MutexLock lock(&mu);
  auto [it, added] = codecs->try_emplace(pool, nullptr);
  if (added) it->second = new JsonCodec(pool);
  return *it->second;
}

JsonCodec::JsonCodec(const pb::DescriptorPool* pool)
    : pool_(pool), dynamic_(pool), resolver_(std::make_unique<KeptTypeResolver>(pool)) {}

const pb::Message* JsonCodec::Prototype(const pb::Descriptor* type) const {
  return pool_ == pb::DescriptorPool::generated_pool()
             ? pb::MessageFactory::generated_factory()->GetPrototype(type)
             : dynamic_.GetPrototype(type);
}

std::unique_ptr<pb::Message> JsonCodec::New(const pb::Descriptor* type) const {
  return std::unique_ptr<pb::Message>(Prototype(type)->New());
}

pb::Message* JsonCodec::New(const pb::Descriptor* type, pb::Arena* arena) const {
  return Prototype(type)->New(arena);
}

absl::Status JsonCodec::Print(const pb::Descriptor* type, absl::string_view bytes,
                              std::string* json) const {
  // Parsed first in any case: protobuf's converter reads past broken wire bytes without a word.
  std::unique_ptr<pb::Message> message = New(type);
  // Partial: proto3 has no required fields to check, and a walk over the message to find none
  // was a twentieth of a page's cost.
  if (!message->ParsePartialFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid ", type->full_name(), " (broken wire bytes)"));
  }
  return Print(*message, json);
}

absl::Status JsonCodec::Print(const pb::Message& message, std::string* json) const {
  const pb::Descriptor* type = message.GetDescriptor();
  if (PrintsItself(type)) {
    const size_t before = json->size();
    absl::Status s = ReflectionPrinter(json).Message(message);
    if (s.ok()) return s;
    json->resize(before);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot print a ", type->full_name(), ": ", s.message()));
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  const std::string bytes = DeterministicBytes(message);  // map entries in key order
  pb::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  pb::io::StringOutputStream out(json);
  pb::util::Status s =
      pb::util::BinaryToJsonStream(resolver_.get(), TypeUrl(type), &in, &out, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot print a ", type->full_name(), ": ", s.message().as_string()));
  }
  return absl::OkStatus();
}

bool JsonCodec::PrintsItself(const pb::Descriptor* type) const {
  {
    absl::ReaderMutexLock lock(&printable_mu_);
    if (auto it = printable_.find(type); it != printable_.end()) return it->second;
  }
  absl::MutexLock lock(&printable_mu_);
  absl::flat_hash_map<const pb::Descriptor*, bool> memo;
  const bool ok = Printable(type, &memo);
  printable_[type] = ok;
  return ok;
}

absl::Status JsonCodec::Parse(absl::string_view json, pb::Message* message,
                              const pb::util::JsonParseOptions& options) const {
  std::string binary;
  pb::io::ArrayInputStream in(json.data(), static_cast<int>(json.size()));
  pb::io::StringOutputStream out(&binary);
  pb::util::Status s = pb::util::JsonToBinaryStream(
      resolver_.get(), TypeUrl(message->GetDescriptor()), &in, &out, options);
  if (!s.ok()) return FromProtobuf(s);
  if (!message->MergeFromString(binary)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the JSON does not make a valid ", message->GetDescriptor()->full_name()));
  }
  return absl::OkStatus();
}

}  // namespace civitas::gateway
