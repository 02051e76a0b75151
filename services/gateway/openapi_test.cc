#include "services/gateway/openapi.h"

#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "google/api/annotations.pb.h"
#include "services/gateway/http_rule.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

// A module's API with one deprecated method and one deprecated field: the document says so.
TEST(OpenApiTest, DeprecatedMethodsAndFieldsAreMarked) {
  pb::DescriptorPool pool;
  std::function<void(const pb::FileDescriptor*)> add = [&](const pb::FileDescriptor* f) {
    if (pool.FindFileByName(f->name()) != nullptr) return;
    for (int i = 0; i < f->dependency_count(); ++i) add(f->dependency(i));
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    ASSERT_NE(pool.BuildFile(proto), nullptr) << f->name();
  };
  add(pb::DescriptorPool::generated_pool()->FindFileByName("google/api/annotations.proto"));

  pb::FileDescriptorProto file;
  file.set_name("demo/v1/old.proto");
  file.set_package("demo.v1");
  file.set_syntax("proto3");
  file.add_dependency("google/api/annotations.proto");
  pb::DescriptorProto* req = file.add_message_type();
  req->set_name("GetThingRequest");
  pb::FieldDescriptorProto* name = req->add_field();
  name->set_name("name");
  name->set_number(1);
  name->set_type(pb::FieldDescriptorProto::TYPE_STRING);
  name->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
  pb::DescriptorProto* thing = file.add_message_type();
  thing->set_name("Thing");
  for (const char* f : {"name", "colour"}) {
    pb::FieldDescriptorProto* field = thing->add_field();
    field->set_name(f);
    field->set_number(thing->field_size());
    field->set_type(pb::FieldDescriptorProto::TYPE_STRING);
    field->set_label(pb::FieldDescriptorProto::LABEL_OPTIONAL);
    if (std::string(f) == "colour") field->mutable_options()->set_deprecated(true);
  }
  pb::ServiceDescriptorProto* service = file.add_service();
  service->set_name("ThingService");
  for (const char* m : {"GetThing", "GetOldThing"}) {
    pb::MethodDescriptorProto* method = service->add_method();
    method->set_name(m);
    method->set_input_type(".demo.v1.GetThingRequest");
    method->set_output_type(".demo.v1.Thing");
    google::api::HttpRule rule;
    rule.set_get(std::string("/v1/{name=things/*}") +
                 (std::string(m) == "GetOldThing" ? ":old" : ""));
    method->mutable_options()->MutableExtension(google::api::http)->CopyFrom(rule);
    if (std::string(m) == "GetOldThing") method->mutable_options()->set_deprecated(true);
  }
  const pb::FileDescriptor* built = pool.BuildFile(file);
  ASSERT_NE(built, nullptr);

  std::vector<MethodInfo> infos(2);
  std::vector<HttpBinding> bindings;
  for (int i = 0; i < 2; ++i) {
    const pb::MethodDescriptor* m = built->service(0)->method(i);
    infos[i] = MethodInfo{m->name(),
                          "/demo.v1.ThingService/" + m->name(),
                          CIVITAS_METHOD_UNARY,
                          CIVITAS_ROLE_ANONYMOUS,
                          0,
                          static_cast<uint32_t>(i),
                          m};
    ASSERT_TRUE(RulesOf(m, &infos[i], &bindings).ok());
  }
  std::vector<const HttpBinding*> all;
  for (const HttpBinding& b : bindings) all.push_back(&b);
  const std::string doc = OpenApiDocument("demo", "/cities/demo", all);

  const size_t old_op = doc.find("\"operationId\":\"ThingService_GetOldThing\"");
  const size_t new_op = doc.find("\"operationId\":\"ThingService_GetThing\"");
  ASSERT_NE(old_op, std::string::npos) << doc;
  ASSERT_NE(new_op, std::string::npos) << doc;
  // Within each operation's object, up to the next operation.
  auto deprecated_after = [&](size_t at) {
    const size_t next = doc.find("\"operationId\"", at + 1);
    return doc.substr(at, next - at).find("\"deprecated\":true") != std::string::npos;
  };
  EXPECT_TRUE(deprecated_after(old_op)) << doc;
  EXPECT_FALSE(deprecated_after(new_op)) << doc;
  const size_t colour = doc.find("\"colour\":");
  ASSERT_NE(colour, std::string::npos) << doc;
  EXPECT_EQ(doc.find("\"colour\":{\"deprecated\":true,"), colour) << doc.substr(colour, 80);
  EXPECT_EQ(doc.find("\"name\":{\"deprecated\""), std::string::npos);
}

}  // namespace
}  // namespace civitas::gateway
