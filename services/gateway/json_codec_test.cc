#include "services/gateway/json_codec.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/type_resolver_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "civitas/appconfig/v1/appconfig.pb.h"
#include "civitas/events/v1/events.pb.h"
#include "civitas/gateway/v1/admin.pb.h"
#include "civitas/news/v1/news.pb.h"
#include "civitas/notify/v1/notify.pb.h"
#include "civitas/participation/v1/participation.pb.h"
#include "civitas/reports/v1/reports.pb.h"

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
  t->set_title(
      "Abfall \"heute\" \xe2\x80\x93 Bezirk S\xc3\xbc"
      "d\n");
  for (const char* language : {"de", "en", "tr", "ar", "uk", "pl", "ru", "fr", "it", "es"}) {
    (*t->mutable_titles())[language] = std::string("Abfall ") + language;
  }
  t->set_device_count(int64_t{1} << 40);
  r.add_topics()->set_name("topics/empty");  // zero values only: they are printed too
  return r;
}

// protobuf's converter on the message's deterministic bytes (map entries in key order, as
// JsonCodec prints them).
std::string ProtobufPrinted(const pb::Message& m) {
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string bytes;
  {
    pb::io::StringOutputStream stream(&bytes);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    EXPECT_TRUE(m.SerializeToCodedStream(&coded));
  }
  std::unique_ptr<pb::util::TypeResolver> resolver(pb::util::NewTypeResolverForDescriptorPool(
      "type.googleapis.com", m.GetDescriptor()->file()->pool()));
  std::string json;
  EXPECT_TRUE(pb::util::BinaryToJsonString(resolver.get(),
                                           "type.googleapis.com/" + m.GetDescriptor()->full_name(),
                                           bytes, &json, options)
                  .ok());
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

// Every field of `m` set to a value drawn from `rng` (or left unset now and then), nested
// messages to `depth`: the strings include quotes, backslashes, control characters, umlauts and
// characters beyond the BMP; the numbers zero, negatives, extremes and fractions.
void Fill(pb::Message* m, std::mt19937* rng, int depth) {
  const pb::Descriptor* type = m->GetDescriptor();
  const pb::Reflection* r = m->GetReflection();
  auto pick = [&](int n) { return static_cast<int>((*rng)() % static_cast<unsigned>(n)); };
  const std::vector<std::string> strings = {"",
                                            "Rathaus",
                                            "Stra\xc3\x9f"
                                            "e \"Nord\"\\S\xc3\xbc"
                                            "d",
                                            "line\nbreak\ttab\r\x01\x1f",
                                            "\xf0\x9f\x9a\xb2 bike </script>",
                                            "\xe2\x80\xa8sep\xe2\x80\xa9",
                                            "a\x7f"
                                            "b"};
  const std::vector<double> doubles = {0,        -0.0,     1,     -1.5,   0.1,
                                       51.51389, 7.465298, 1e300, 1e-300, 123456789.123456789};
  const std::vector<int64_t> ints = {
      0, 1, -1, 42, 2147483647, -2147483647 - 1, int64_t{9007199254740993}, INT64_MIN};
  for (int i = 0; i < type->field_count(); ++i) {
    const pb::FieldDescriptor* f = type->field(i);
    if (pick(5) == 0) continue;  // unset, or empty
    if (f->containing_oneof() && r->HasOneof(*m, f->containing_oneof())) continue;
    const int n = f->is_repeated() ? pick(3) : 1;
    for (int k = 0; k < n; ++k) {
      const bool rep = f->is_repeated();
      switch (f->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: {
          const auto v = static_cast<int32_t>(ints[pick(6)]);
          rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT32: {
          const auto v = static_cast<uint32_t>(ints[pick(6)]);
          rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_INT64: {
          const int64_t v = ints[pick(static_cast<int>(ints.size()))];
          rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT64: {
          const auto v = static_cast<uint64_t>(ints[pick(static_cast<int>(ints.size()))]);
          rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_DOUBLE: {
          const double v = doubles[pick(static_cast<int>(doubles.size()))];
          rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_FLOAT: {
          const auto v = static_cast<float>(doubles[pick(7)]);
          rep ? r->AddFloat(m, f, v) : r->SetFloat(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_BOOL:
          rep ? r->AddBool(m, f, pick(2)) : r->SetBool(m, f, pick(2));
          break;
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const pb::EnumValueDescriptor* v =
              f->enum_type()->value(pick(f->enum_type()->value_count()));
          rep ? r->AddEnum(m, f, v) : r->SetEnum(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          std::string v = strings[pick(static_cast<int>(strings.size()))];
          if (f->type() == pb::FieldDescriptor::TYPE_BYTES) v += std::string("\0\xff", 2);
          rep ? r->AddString(m, f, v) : r->SetString(m, f, v);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE: {
          if (depth == 0) break;
          const std::string& name = f->message_type()->full_name();
          pb::Message* sub = rep ? r->AddMessage(m, f) : r->MutableMessage(m, f);
          const pb::Reflection* sr = sub->GetReflection();
          const pb::Descriptor* st = sub->GetDescriptor();
          if (name == "google.protobuf.Timestamp") {
            sr->SetInt64(sub, st->field(0), 1764700000 + pick(100000));
            sr->SetInt32(sub, st->field(1), std::vector<int>{0, 5000000, 123456000, 7}[pick(4)]);
          } else if (name == "google.protobuf.Duration") {
            sr->SetInt64(sub, st->field(0), pick(3) - 1 == 0 ? 0 : 90);
            sr->SetInt32(sub, st->field(1), pick(2) ? 0 : 500000000);
          } else if (name == "google.protobuf.FieldMask") {
            sr->AddString(sub, st->field(0), "title");
            sr->AddString(sub, st->field(0), "start_time.seconds");
          } else {
            Fill(sub, rng, depth - 1);
          }
          break;
        }
      }
    }
  }
}

// Timestamps over RFC 3339's whole range, where a calendar computation goes wrong first: the
// ends of the range, before 1970, leap days, century years with and without a 29 February, the
// last second of a day; then seconds at random across the range.
TEST(JsonCodecTest, PrintsTimestampsAsProtobufDoesOverTheirWholeRange) {
  std::vector<int64_t> seconds = {-62135596800,
                                  -62135596799,
                                  253402300799,
                                  253402300800 - 86400,
                                  0,
                                  -1,
                                  -86400,
                                  -86401,
                                  951782400,
                                  951868799,
                                  4107542399,
                                  4107542400,
                                  -2203891200,
                                  -12219292800,
                                  1709164800,
                                  1764719999};
  std::mt19937_64 rng(20261203);
  std::uniform_int_distribution<int64_t> any(-62135596800, 253402300799);
  for (int i = 0; i < 20000; ++i) seconds.push_back(any(rng));
  const JsonCodec& codec = JsonCodec::Of(pb::DescriptorPool::generated_pool());
  for (int64_t s : seconds) {
    pb::Timestamp t;
    t.set_seconds(s);
    t.set_nanos(s % 3 == 0 ? 0 : 120000000);
    std::string ours, theirs;
    ASSERT_TRUE(codec.Print(t, &ours).ok()) << s;
    ASSERT_TRUE(pb::util::MessageToJsonString(t, &theirs).ok()) << s;
    ASSERT_EQ(ours, theirs) << "seconds " << s;
  }
  pb::Timestamp out_of_range;
  out_of_range.set_seconds(253402300800);
  std::string json;
  EXPECT_FALSE(codec.Print(out_of_range, &json).ok());
}

// Every message type of the bundled modules' and the gateway's APIs, filled at random many
// times: the codec prints exactly what protobuf prints.
TEST(JsonCodecTest, AgreesWithProtobufOnEveryApiMessage) {
  std::vector<const pb::FileDescriptor*> files = {
      news::v1::Article::descriptor()->file(),
      events::v1::Event::descriptor()->file(),
      participation::v1::Idea::descriptor()->file(),
      reports::v1::Report::descriptor()->file(),
      notify::v1::Device::descriptor()->file(),
      gateway::v1::ListModulesResponse::descriptor()->file()};
  std::mt19937 rng(20261202);
  int compared = 0;
  for (const pb::FileDescriptor* file : files) {
    std::unique_ptr<pb::DescriptorPool> pool = PoolOf(file);
    const JsonCodec& codec = JsonCodec::Of(pool.get());
    pb::DynamicMessageFactory factory(pool.get());
    std::function<void(const pb::Descriptor*)> each = [&](const pb::Descriptor* type) {
      if (type->options().map_entry()) return;
      for (int round = 0; round < 20; ++round) {
        std::unique_ptr<pb::Message> m(factory.GetPrototype(type)->New());
        if (round > 0) Fill(m.get(), &rng, 3);
        // As the gateway sees an answer: its bytes, parsed (a map's repeated keys made one).
        const std::string bytes = m->SerializeAsString();
        std::unique_ptr<pb::Message> parsed(m->New());
        ASSERT_TRUE(parsed->ParseFromString(bytes));
        std::string mine;
        ASSERT_TRUE(codec.Print(type, bytes, &mine).ok()) << type->full_name();
        EXPECT_EQ(mine, ProtobufPrinted(*parsed)) << type->full_name() << "\n" << m->DebugString();
        ++compared;
      }
      for (int i = 0; i < type->nested_type_count(); ++i) each(type->nested_type(i));
    };
    const pb::FileDescriptor* mine = pool->FindFileByName(file->name());
    for (int i = 0; i < mine->message_type_count(); ++i) each(mine->message_type(i));
    (void)pool.release();  // codecs keep pointers into their pools (module pools are never freed)
  }
  EXPECT_GT(compared, 1000);
}

TEST(JsonCodecTest, MapsPrintTheSameWhateverTheirInsertionOrder) {
  // An answer's ETag is its printed bytes: equal maps must print equally.
  const JsonCodec& codec = JsonCodec::Of(pb::DescriptorPool::generated_pool());
  std::vector<std::string> keys = {"de", "en", "tr", "ar", "uk", "pl", "ru", "fr", "it", "es"};
  std::string first;
  for (int round = 0; round < 10; ++round) {
    std::rotate(keys.begin(), keys.begin() + 3, keys.end());
    notify::v1::Topic t;
    for (const std::string& k : keys) (*t.mutable_titles())[k] = "t-" + k;
    std::string json;
    ASSERT_TRUE(codec.Print(t.GetDescriptor(), t.SerializeAsString(), &json).ok());
    if (round == 0) first = json;
    EXPECT_EQ(json, first);
  }
  EXPECT_NE(first.find(R"("titles":{"ar":"t-ar","de":"t-de","en":"t-en")"), std::string::npos)
      << first;
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
