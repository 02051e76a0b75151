#include "services/gateway/multipart.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

// The value of `param` in a header value like `form-data; name="photo"; filename="a.jpg"`.
std::string Param(absl::string_view header, absl::string_view param) {
  for (absl::string_view piece : absl::StrSplit(header, ';')) {
    piece = absl::StripAsciiWhitespace(piece);
    const size_t eq = piece.find('=');
    if (eq == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(piece.substr(0, eq)), param)) continue;
    absl::string_view value = absl::StripAsciiWhitespace(piece.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return "";
}

// A repeated message field of `type` whose entries are files: string content_type, bytes data.
bool IsFileField(const pb::FieldDescriptor* f) {
  if (f == nullptr || !f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return false;
  }
  const pb::FieldDescriptor* type = f->message_type()->FindFieldByName("content_type");
  const pb::FieldDescriptor* data = f->message_type()->FindFieldByName("data");
  return type && data && !type->is_repeated() && !data->is_repeated() &&
         type->type() == pb::FieldDescriptor::TYPE_STRING &&
         data->type() == pb::FieldDescriptor::TYPE_BYTES;
}

}  // namespace

const std::map<std::string, UploadLimits>& UploadRoutes() {
  static const auto* const routes = new std::map<std::string, UploadLimits>{
      {"/civitas.reports.v1.ReportsService/CreateReport", {3, 1u << 20}},
  };
  return *routes;
}

bool IsMultipartForm(absl::string_view content_type) {
  return absl::StartsWithIgnoreCase(absl::StripLeadingAsciiWhitespace(content_type),
                                    "multipart/form-data");
}

absl::StatusOr<std::vector<FormPart>> ParseMultipartForm(absl::string_view content_type,
                                                         absl::string_view body,
                                                         const UploadLimits& limits) {
  const std::string boundary = Param(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) {
    return absl::InvalidArgumentError(
        "a multipart/form-data body needs a boundary of 1 to 70 characters in its Content-Type");
  }
  const std::string delimiter = absl::StrCat("--", boundary);
  // Up to the first delimiter is a preamble, ignored; after the closing one, an epilogue.
  size_t at = body.find(delimiter);
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError("the multipart body does not contain its boundary");
  }
  std::vector<FormPart> parts;
  size_t files = 0;
  while (true) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") break;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") {
      return absl::InvalidArgumentError("a multipart boundary must be followed by CRLF");
    }
    at += 2;
    const size_t headers_end = body.find("\r\n\r\n", at);
    if (headers_end == absl::string_view::npos) {
      return absl::InvalidArgumentError("a multipart part has no end of its headers");
    }
    FormPart part;
    for (absl::string_view line :
         absl::StrSplit(body.substr(at, headers_end - at), "\r\n", absl::SkipEmpty())) {
      const size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      const absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
      const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
      if (absl::EqualsIgnoreCase(name, "content-disposition")) {
        part.name = Param(value, "name");
        part.filename = Param(value, "filename");
      } else if (absl::EqualsIgnoreCase(name, "content-type")) {
        part.content_type = std::string(value);
      }
    }
    const size_t data_start = headers_end + 4;
    const size_t next = body.find(absl::StrCat("\r\n", delimiter), data_start);
    if (next == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("the multipart part '", part.name, "' is not closed by the boundary"));
    }
    if (part.name.empty()) {
      return absl::InvalidArgumentError("every multipart part needs a name (Content-Disposition)");
    }
    const size_t size = next - data_start;
    if (!part.filename.empty()) {
      if (++files > limits.max_files) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "at most ", limits.max_files, " files may be sent with this call, got more"));
      }
      if (size > limits.max_file_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("file '", part.filename, "' (part '", part.name, "') has ", size,
                         " bytes; at most ", limits.max_file_bytes, " are allowed"));
      }
    }
    part.data = std::string(body.substr(data_start, size));
    parts.push_back(std::move(part));
    at = next + 2;
  }
  return parts;
}

absl::StatusOr<std::string> FormToJson(const std::vector<FormPart>& parts,
                                       const pb::Descriptor* body_type,
                                       absl::string_view body_field) {
  pb::DynamicMessageFactory factory(body_type->file()->pool());
  std::unique_ptr<pb::Message> message(factory.GetPrototype(body_type)->New());
  const FormPart* json = nullptr;
  for (const FormPart& part : parts) {
    if (part.filename.empty() && (part.name == body_field || part.name == "json")) {
      if (json != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("the form has two JSON parts ('", json->name, "', '", part.name, "')"));
      }
      json = &part;
    }
  }
  if (json != nullptr) {
    pb::util::JsonParseOptions options;
    if (auto s = pb::util::JsonStringToMessage(json->data, message.get(), options); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the form's part '", json->name,
                                                     "' is not a valid ", body_type->full_name(),
                                                     " in JSON: ", s.message().as_string()));
    }
  }
  const pb::Reflection* reflection = message->GetReflection();
  for (const FormPart& part : parts) {
    if (&part == json) continue;
    const pb::FieldDescriptor* field = body_type->FindFieldByName(part.name);
    for (int i = 0; field == nullptr && i < body_type->field_count(); ++i) {
      if (body_type->field(i)->json_name() == part.name) field = body_type->field(i);
    }
    if (part.filename.empty() || !IsFileField(field)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the form's part '", part.name, "' is neither the JSON of ", body_type->full_name(),
          " (name it '", body_field, "') nor a file of one of its file fields"));
    }
    pb::Message* entry = reflection->AddMessage(message.get(), field, &factory);
    const pb::Descriptor* entry_type = field->message_type();
    entry->GetReflection()->SetString(entry, entry_type->FindFieldByName("content_type"),
                                      part.content_type);
    entry->GetReflection()->SetString(entry, entry_type->FindFieldByName("data"), part.data);
  }
  std::string out;
  pb::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  if (auto s = pb::util::MessageToJsonString(*message, &out, print); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot print the form: ", s.message().as_string()));
  }
  return out;
}

}  // namespace civitas::gateway
