#include "services/gateway/json_codec.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "civitas/notify/v1/notify.pb.h"

namespace civitas::gateway {
namespace {

namespace pb = google::protobuf;

// A pool of its own holding notify.proto and what it imports, as a module's pool holds the
// module's files: its messages are DynamicMessages.
std::unique_ptr<pb::DescriptorPool> PoolOf(const pb::FileDescriptor* file) {
  auto pool = std::make_unique<pb::DescriptorPool>();
  std::function<void(const pb::FileDescriptor*)> add = [&](const pb::FileDescriptor* f) {
    if (pool->FindFileByName(f->name()) != nullptr) return;
    for (int i = 0; i < f->dependency_count(); ++i) add(f->dependency(i));
    pb::FileDescriptorProto proto;
    f->CopyTo(&proto);
    EXPECT_NE(pool->BuildFile(proto), nullptr) << f->name();
  };
  add(file);
  return pool;
}

notify::v1::ListTopicsResponse Sample() {
  notify::v1::ListTopicsResponse r;
  r.set_web_push_public_key("BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr");
  notify::v1::Topic* t = r.add_topics();
  t->set_name("topics/waste");
  t->set_title("Abfall \"heute\" \xe2\x80\x93 Bezirk S\xc3\xbc" "d\n");
  (*t->mutable_titles())["de"] = "Abfall";
  (*t->mutable_titles())["en"] = "Waste";
  t->set_device_count(int64_t{1} << 40);
  r.add_topics()->set_name("topics/empty");  // zero values only: they are printed too
  return r;
}

std::string ProtobufPrinted(const pb::Message& m) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  EXPECT_TRUE(pb::util::MessageToJsonString(m, &json, options).ok());
  return json;
}

TEST(JsonCodecTest, PrintsWhatProtobufsPrinterPrintsForGeneratedAndDynamicMessages) {
  const notify::v1::ListTopicsResponse sample = Sample();
  const std::string expected = ProtobufPrinted(sample);
  ASSERT_NE(expected.find("\"deviceCount\":\"0\""), std::string::npos) << expected;

  const JsonCodec& generated = JsonCodec::Of(pb::DescriptorPool::generated_pool());
  std::string json;
  ASSERT_TRUE(generated.Print(sample, &json).ok());
  EXPECT_EQ(json, expected);

  std::unique_ptr<pb::DescriptorPool> pool = PoolOf(sample.GetDescriptor()->file());
  const pb::Descriptor* type = pool->FindMessageTypeByName(sample.GetDescriptor()->full_name());
  ASSERT_NE(type, nullptr);
  const JsonCodec& dynamic = JsonCodec::Of(pool.get());
  EXPECT_NE(&dynamic, &generated);
  EXPECT_EQ(&JsonCodec::Of(type), &dynamic) << "one codec per pool, kept";
  for (int round = 0; round < 2; ++round) {  // the second time from the kept types
    json.clear();
    ASSERT_TRUE(dynamic.Print(type, sample.SerializeAsString(), &json).ok());
    EXPECT_EQ(json, expected);
  }
  std::unique_ptr<pb::Message> message = dynamic.New(type);
  EXPECT_EQ(message->GetDescriptor(), type);
  // The codec outlives this test's pool only because the process ends with the test; in the
  // gateway, pools are never freed (module_loader.h).
  (void)pool.release();
}

TEST(JsonCodecTest, ParsesBackWhatItPrints) {
  const notify::v1::ListTopicsResponse sample = Sample();
  const JsonCodec& codec = JsonCodec::Of(pb::DescriptorPool::generated_pool());
  std::string json;
  ASSERT_TRUE(codec.Print(sample, &json).ok());
  notify::v1::ListTopicsResponse back;
  ASSERT_TRUE(codec.Parse(json, &back).ok());
  EXPECT_TRUE(pb::util::MessageDifferencer::Equals(back, sample)) << back.DebugString();
}

TEST(JsonCodecTest, RefusesBrokenWireBytesAndUnknownJsonFields) {
  const JsonCodec& codec = JsonCodec::Of(pb::DescriptorPool::generated_pool());
  const pb::Descriptor* type = notify::v1::ListTopicsResponse::descriptor();
  std::string json;
  // Field 1 (topics), length-delimited, announcing 100 bytes where there are 2.
  const absl::Status broken = codec.Print(type, std::string("\x0a\x64\x0a\x00", 4), &json);
  EXPECT_EQ(broken.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(broken.message().find("ListTopicsResponse"), absl::string_view::npos)
      << broken.message();

  notify::v1::ListTopicsResponse out;
  const absl::Status unknown = codec.Parse(R"({"topics": [], "colour": "red"})", &out);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("colour"), absl::string_view::npos) << unknown.message();
  pb::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  EXPECT_TRUE(codec.Parse(R"({"colour": "red"})", &out, lenient).ok());
  EXPECT_FALSE(codec.Parse("[1, 2", &out).ok());
}

}  // namespace
}  // namespace civitas::gateway
