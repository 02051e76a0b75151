#include "services/gateway/json_codec.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

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

std::unique_ptr<pb::Message> JsonCodec::New(const pb::Descriptor* type) const {
  const pb::Message* prototype = pool_ == pb::DescriptorPool::generated_pool()
                                     ? pb::MessageFactory::generated_factory()->GetPrototype(type)
                                     : dynamic_.GetPrototype(type);
  return std::unique_ptr<pb::Message>(prototype->New());
}

absl::Status JsonCodec::Print(const pb::Descriptor* type, absl::string_view bytes,
                              std::string* json) const {
  // The JSON converter reads past broken wire bytes without a word: they are parsed first.
  if (!New(type)->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid ", type->full_name(), " (broken wire bytes)"));
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  pb::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  pb::io::StringOutputStream out(json);
  pb::util::Status s =
      pb::util::BinaryToJsonStream(resolver_.get(), TypeUrl(type), &in, &out, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid ", type->full_name(), ": ", s.message().as_string()));
  }
  return absl::OkStatus();
}

absl::Status JsonCodec::Print(const pb::Message& message, std::string* json) const {
  return Print(message.GetDescriptor(), message.SerializeAsString(), json);
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
