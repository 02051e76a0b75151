#include "services/gateway/openapi.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "civitas/json.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

constexpr char kErrorSchema[] = "civitas.Error";

std::string Ref(const std::string& schema) { return absl::StrCat("#/components/schemas/", schema); }

// The comment above a declaration in its .proto, if the descriptors kept source info.
template <typename D>
std::string CommentOf(const D* d) {
  pb::SourceLocation where;
  if (!d->GetSourceLocation(&where)) return "";
  std::string text(absl::StripAsciiWhitespace(where.leading_comments));
  return text;
}

const char* RoleName(civitas_role role) {
  switch (role) {
    case CIVITAS_ROLE_ANONYMOUS:
      return "anonymous";
    case CIVITAS_ROLE_CITIZEN:
      return "citizen";
    case CIVITAS_ROLE_EDITOR:
      return "editor";
    case CIVITAS_ROLE_MODERATOR:
      return "moderator";
    case CIVITAS_ROLE_ADMIN:
      return "admin";
  }
  return "admin";
}

// Writes the schemas of messages as protobuf's JSON mapping prints and parses them, collecting
// the messages they refer to.
class Schemas {
 public:
  // A schema for a value of `field`'s type (repeated and map included).
  void Field(const pb::FieldDescriptor* f, JsonWriter* w) {
    if (f->is_map()) {
      w->BeginObject().Member("type", "object").Key("additionalProperties");
      Single(f->message_type()->map_value(), w);
      w->EndObject();
      return;
    }
    if (f->is_repeated()) {
      w->BeginObject().Member("type", "array").Key("items");
      Single(f, w);
      w->EndObject();
      return;
    }
    Single(f, w);
  }

  // A reference to `m`'s schema (or its JSON form for well-known types).
  void Message(const pb::Descriptor* m, JsonWriter* w) {
    if (WellKnown(m, w)) return;
    Want(m);
    w->BeginObject().Member("$ref", Ref(m->full_name())).EndObject();
  }

  // components.schemas: every message referred to so far, and those they refer to.
  void WriteAll(JsonWriter* w) {
    while (!pending_.empty()) {
      const pb::Descriptor* m = *pending_.begin();
      pending_.erase(pending_.begin());
      w->Key(m->full_name());
      Object(m, w);
    }
  }

 private:
  void Want(const pb::Descriptor* m) {
    if (written_.insert(m->full_name()).second) pending_.insert(m);
  }

  void Object(const pb::Descriptor* m, JsonWriter* w) {
    w->BeginObject().Member("type", "object");
    if (std::string doc = CommentOf(m); !doc.empty()) w->Member("description", doc);
    w->Key("properties").BeginObject();
    for (int i = 0; i < m->field_count(); ++i) {
      const pb::FieldDescriptor* f = m->field(i);
      w->Key(f->json_name());
      std::string doc = CommentOf(f);
      const bool deprecated = f->options().deprecated();
      if (doc.empty() && !deprecated) {
        Field(f, w);
      } else {
        // A $ref may not have siblings in every reader: wrap it.
        w->BeginObject();
        if (!doc.empty()) w->Member("description", doc);
        if (deprecated) w->Key("deprecated").Bool(true);  // [deprecated = true] in the .proto
        w->Key("allOf").BeginArray();
        Field(f, w);
        w->EndArray().EndObject();
      }
    }
    w->EndObject().EndObject();
  }

  void Single(const pb::FieldDescriptor* f, JsonWriter* w) {
    switch (f->type()) {
      case pb::FieldDescriptor::TYPE_MESSAGE:
      case pb::FieldDescriptor::TYPE_GROUP:
        Message(f->message_type(), w);
        return;
      case pb::FieldDescriptor::TYPE_ENUM: {
        w->BeginObject().Member("type", "string").Key("enum").BeginArray();
        const pb::EnumDescriptor* e = f->enum_type();
        for (int i = 0; i < e->value_count(); ++i) w->String(e->value(i)->name());
        w->EndArray().EndObject();
        return;
      }
      case pb::FieldDescriptor::TYPE_BOOL:
        w->BeginObject().Member("type", "boolean").EndObject();
        return;
      case pb::FieldDescriptor::TYPE_STRING:
        w->BeginObject().Member("type", "string").EndObject();
        return;
      case pb::FieldDescriptor::TYPE_BYTES:
        w->BeginObject().Member("type", "string").Member("contentEncoding", "base64").EndObject();
        return;
      case pb::FieldDescriptor::TYPE_DOUBLE:
      case pb::FieldDescriptor::TYPE_FLOAT:
        w->BeginObject().Member("type", "number").EndObject();
        return;
      case pb::FieldDescriptor::TYPE_INT64:
      case pb::FieldDescriptor::TYPE_SINT64:
      case pb::FieldDescriptor::TYPE_SFIXED64:
      case pb::FieldDescriptor::TYPE_UINT64:
      case pb::FieldDescriptor::TYPE_FIXED64:
        // Printed as a string, read from either form.
        w->BeginObject()
            .Key("type")
            .BeginArray()
            .String("string")
            .String("integer")
            .EndArray()
            .Member("format", f->type() == pb::FieldDescriptor::TYPE_UINT64 ||
                                      f->type() == pb::FieldDescriptor::TYPE_FIXED64
                                  ? "uint64"
                                  : "int64")
            .EndObject();
        return;
      case pb::FieldDescriptor::TYPE_UINT32:
      case pb::FieldDescriptor::TYPE_FIXED32:
        w->BeginObject().Member("type", "integer").Member("format", "uint32").EndObject();
        return;
      default:
        w->BeginObject().Member("type", "integer").Member("format", "int32").EndObject();
        return;
    }
  }

  // The JSON forms of the well-known types (protobuf's JSON mapping).
  bool WellKnown(const pb::Descriptor* m, JsonWriter* w) {
    const std::string& n = m->full_name();
    auto simple = [&](const char* type, const char* format) {
      w->BeginObject().Member("type", type);
      if (format) w->Member("format", format);
      w->EndObject();
      return true;
    };
    if (n == "google.protobuf.Timestamp") return simple("string", "date-time");
    if (n == "google.protobuf.Duration") return simple("string", "duration");
    if (n == "google.protobuf.FieldMask") return simple("string", nullptr);
    if (n == "google.protobuf.Struct" || n == "google.protobuf.Empty" ||
        n == "google.protobuf.Any") {
      return simple("object", nullptr);
    }
    if (n == "google.protobuf.Value") {
      w->BeginObject().EndObject();
      return true;
    }
    if (n == "google.protobuf.StringValue" || n == "google.protobuf.BytesValue") {
      return simple("string", nullptr);
    }
    if (n == "google.protobuf.BoolValue") return simple("boolean", nullptr);
    if (n == "google.protobuf.DoubleValue" || n == "google.protobuf.FloatValue") {
      return simple("number", nullptr);
    }
    if (n == "google.protobuf.Int32Value" || n == "google.protobuf.UInt32Value") {
      return simple("integer", nullptr);
    }
    if (n == "google.protobuf.Int64Value" || n == "google.protobuf.UInt64Value") {
      return simple("string", "int64");
    }
    return false;
  }

  std::set<std::string> written_;
  std::set<const pb::Descriptor*> pending_;
};

// The query parameters of a request without body: its scalar fields (repeated too) not bound by
// the path, and those of nested messages as "a.b" (AIP-127), at most three levels deep.
void QueryParameters(const pb::Descriptor* m, const std::string& prefix, int depth,
                     const std::set<std::string>& bound, Schemas* schemas, JsonWriter* w) {
  for (int i = 0; i < m->field_count(); ++i) {
    const pb::FieldDescriptor* f = m->field(i);
    const std::string path = prefix + f->name();
    if (bound.count(path)) continue;
    const bool message = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE;
    if (message && !f->is_map() && !f->is_repeated() &&
        f->message_type()->full_name().rfind("google.protobuf.", 0) != 0) {
      if (depth < 3) QueryParameters(f->message_type(), path + ".", depth + 1, bound, schemas, w);
      continue;
    }
    if (f->is_map() || (message && f->is_repeated())) continue;
    w->BeginObject()
        .Member("name", prefix.empty() ? f->json_name() : path)
        .Member("in", "query")
        .Member("required", false);
    if (std::string doc = CommentOf(f); !doc.empty()) w->Member("description", doc);
    w->Key("schema");
    schemas->Field(f, w);
    w->EndObject();
  }
}

void Operation(const HttpBinding& b, const std::string& verb, Schemas* schemas, JsonWriter* w) {
  const pb::MethodDescriptor* m = b.descriptor;
  const MethodInfo& info = *b.method;
  std::vector<PathTemplate::Parameter> path_params;
  (void)b.path.OpenApiPath(&path_params);
  w->Key(absl::AsciiStrToLower(verb)).BeginObject();
  w->Member("operationId", absl::StrCat(m->service()->name(), "_", m->name()));
  w->Key("tags").BeginArray().String(m->service()->full_name()).EndArray();
  if (std::string doc = CommentOf(m); !doc.empty()) w->Member("description", doc);
  if (m->options().deprecated()) w->Key("deprecated").Bool(true);  // option deprecated = true
  w->Member("x-civitas-grpc-method", info.full_path);
  w->Member("x-civitas-role", RoleName(info.required_role));
  if (info.required_role != CIVITAS_ROLE_ANONYMOUS) {
    w->Key("security")
        .BeginArray()
        .BeginObject()
        .Key("bearer")
        .BeginArray()
        .EndArray()
        .EndObject()
        .EndArray();
  } else {
    // A token is optional: a signed-in caller may see more of their own.
    w->Key("security")
        .BeginArray()
        .BeginObject()
        .EndObject()
        .BeginObject()
        .Key("bearer")
        .BeginArray()
        .EndArray()
        .EndObject()
        .EndArray();
  }
  w->Key("parameters").BeginArray();
  std::set<std::string> bound;
  for (const PathTemplate::Parameter& p : path_params) {
    bound.insert(p.field_path);
    w->BeginObject()
        .Member("name", p.name)
        .Member("in", "path")
        .Member("required", true)
        .Member("description", absl::StrCat("part of the request field `", p.field_path, "`"))
        .Key("schema")
        .BeginObject()
        .Member("type", "string")
        .EndObject()
        .EndObject();
  }
  const pb::Descriptor* request = m->input_type();
  const pb::Descriptor* body_type = nullptr;
  if (b.body == "*") {
    body_type = request;
  } else if (!b.body.empty()) {
    const pb::FieldDescriptor* f = request->FindFieldByName(b.body);
    if (f && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) body_type = f->message_type();
    bound.insert(b.body);
  }
  if (b.body != "*") QueryParameters(request, "", 0, bound, schemas, w);
  w->EndArray();
  if (body_type != nullptr) {
    w->Key("requestBody")
        .BeginObject()
        .Member("required", true)
        .Key("content")
        .BeginObject()
        .Key("application/json")
        .BeginObject()
        .Key("schema");
    schemas->Message(body_type, w);
    w->EndObject().EndObject().EndObject();
  }
  w->Key("responses").BeginObject().Key("200").BeginObject();
  const pb::Descriptor* response = m->output_type();
  if (!b.response_body.empty()) {
    const pb::FieldDescriptor* f = response->FindFieldByName(b.response_body);
    if (f && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) response = f->message_type();
  }
  if (response->full_name() == "google.api.HttpBody") {
    w->Member("description", "the resource in its own format (RSS, iCalendar, GeoJSON, an image)")
        .Key("content")
        .BeginObject()
        .Key("*/*")
        .BeginObject()
        .Key("schema")
        .BeginObject()
        .Member("type", "string")
        .EndObject()
        .EndObject()
        .EndObject();
  } else {
    w->Member("description", "OK")
        .Key("content")
        .BeginObject()
        .Key("application/json")
        .BeginObject()
        .Key("schema");
    if (info.kind == CIVITAS_METHOD_SERVER_STREAMING) {
      // The gateway's finite streams (a backup's progress) come as one array.
      w->BeginObject().Member("type", "array").Key("items");
      schemas->Message(response, w);
      w->EndObject();
    } else {
      schemas->Message(response, w);
    }
    w->EndObject().EndObject();
  }
  w->EndObject();
  if (verb == "GET") {
    w->Key("304").BeginObject().Member("description", "not modified (If-None-Match)").EndObject();
  }
  w->Key("default")
      .BeginObject()
      .Member("description", "an error: the gRPC status as JSON, with the HTTP status that maps it")
      .Key("content")
      .BeginObject()
      .Key("application/json")
      .BeginObject()
      .Key("schema")
      .BeginObject()
      .Member("$ref", Ref(kErrorSchema))
      .EndObject()
      .EndObject()
      .EndObject()
      .EndObject();
  w->EndObject();  // responses
  w->EndObject();  // operation
}

}  // namespace

std::string OpenApiDocument(const std::string& city, const std::string& base_path,
                            const std::vector<const HttpBinding*>& bindings) {
  // Paths in declaration order of their first binding; several verbs share a path item.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const HttpBinding*>> by_path;
  for (const HttpBinding* b : bindings) {
    // Module streams are gRPC only; the gateway's own finite ones are answered as arrays.
    if (b->method->kind != CIVITAS_METHOD_UNARY &&
        b->method->full_path.rfind("/civitas.gateway.", 0) != 0) {
      continue;
    }
    std::vector<PathTemplate::Parameter> ignored;
    const std::string path = b->path.OpenApiPath(&ignored);
    auto& list = by_path[path];
    if (list.empty()) order.push_back(path);
    // One operation per verb: the first binding wins, as it does when requests are matched.
    bool taken = false;
    for (const HttpBinding* other : list) taken = taken || other->verb == b->verb;
    if (!taken) list.push_back(b);
  }
  Schemas schemas;
  JsonWriter w;
  w.BeginObject();
  w.Member("openapi", "3.1.0");
  w.Key("info")
      .BeginObject()
      .Member("title", absl::StrCat("civitas API of ", city))
      .Member("version", "v1")
      .Member("description",
              "The JSON/HTTP side of the city's gRPC API, made from the google.api.http "
              "annotations of the modules it runs. Errors carry the gRPC status name.")
      .EndObject();
  w.Key("servers").BeginArray().BeginObject().Member("url", base_path).EndObject().EndArray();
  w.Key("paths").BeginObject();
  for (const std::string& path : order) {
    w.Key(path).BeginObject();
    for (const HttpBinding* b : by_path[path]) {
      const std::string verb = absl::AsciiStrToUpper(b->verb);
      if (verb == "GET" || verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE") {
        Operation(*b, verb, &schemas, &w);
      }
    }
    w.EndObject();
  }
  w.EndObject();  // paths
  w.Key("components").BeginObject();
  w.Key("securitySchemes")
      .BeginObject()
      .Key("bearer")
      .BeginObject()
      .Member("type", "http")
      .Member("scheme", "bearer")
      .Member("bearerFormat", "JWT")
      .Member("description", "an access token of an identity provider the city trusts")
      .EndObject()
      .EndObject();
  w.Key("schemas").BeginObject();
  w.Key(kErrorSchema)
      .BeginObject()
      .Member("type", "object")
      .Key("required")
      .BeginArray()
      .String("error")
      .EndArray()
      .Key("properties")
      .BeginObject()
      .Key("error")
      .BeginObject()
      .Member("type", "object")
      .Key("properties")
      .BeginObject()
      .Key("code")
      .BeginObject()
      .Member("type", "integer")
      .Member("description", "the HTTP status")
      .EndObject()
      .Key("status")
      .BeginObject()
      .Member("type", "string")
      .Member("description", "the gRPC status name, e.g. NOT_FOUND")
      .EndObject()
      .Key("message")
      .BeginObject()
      .Member("type", "string")
      .EndObject()
      .EndObject()
      .EndObject()
      .EndObject()
      .EndObject();
  schemas.WriteAll(&w);
  w.EndObject();  // schemas
  w.EndObject();  // components
  w.EndObject();
  return w.text() + "\n";
}

}  // namespace civitas::gateway
