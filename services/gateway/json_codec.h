// Proto3 JSON for the messages of one descriptor pool, with what every conversion needs made
// once per pool instead of once per call: the message factory (whose prototypes are laid out on
// first use) and a type resolver that keeps each message type it has resolved.
//
// protobuf's MessageToJsonString and JsonStringToMessage build both again on every call for a
// pool other than the generated one, convert through a DynamicMessage that is serialised again,
// and print zero values (always_print_primitive_fields) by building a tree of every field first:
// on the JSON/HTTP path that was most of a call's cost (docs/performance.md, "JSON/HTTP"). Print
// here writes the JSON by reflection in one pass, exactly as protobuf's printer would
// (json_codec_test compares the two); Parse goes from JSON to wire bytes with the kept types.
#ifndef CIVITAS_GATEWAY_JSON_CODEC_H_
#define CIVITAS_GATEWAY_JSON_CODEC_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace civitas::gateway {

class JsonCodec {
 public:
  // The codec of `pool`, made on first use and kept for the life of the process. Only for pools
  // that live as long: the generated pool and the modules' pools (a LoadedModule is never
  // unloaded, module_loader.h). Thread-safe.
  static const JsonCodec& Of(const google::protobuf::DescriptorPool* pool);
  static const JsonCodec& Of(const google::protobuf::Descriptor* type) {
    return Of(type->file()->pool());
  }

  // A new, empty message of `type`, a type of this codec's pool.
  std::unique_ptr<google::protobuf::Message> New(const google::protobuf::Descriptor* type) const;
  // ... on `arena`, which owns it (a response that is parsed, printed and dropped: its strings
  // and sub-messages then cost no allocation of their own).
  google::protobuf::Message* New(const google::protobuf::Descriptor* type,
                                 google::protobuf::Arena* arena) const;

  // The wire bytes of a `type` message as JSON, with every scalar field, zero values too (a
  // client reads "seatsLeft": 0 instead of finding the field gone when an event is full).
  // INVALID_ARGUMENT if the bytes are not a valid `type`.
  absl::Status Print(const google::protobuf::Descriptor* type, absl::string_view bytes,
                     std::string* json) const;
  // A message as Print writes it.
  absl::Status Print(const google::protobuf::Message& message, std::string* json) const;

  // Merges the JSON object `json` into `message` (of this codec's pool), as
  // JsonStringToMessage does. Unknown fields are refused unless `options` says otherwise.
  absl::Status Parse(absl::string_view json, google::protobuf::Message* message,
                     const google::protobuf::util::JsonParseOptions& options = {}) const;

 private:
  explicit JsonCodec(const google::protobuf::DescriptorPool* pool);
  // True if every type reachable from `type` is one the codec's own printer writes (all but
  // the well-known Any, Struct, Value and ListValue, which go to protobuf's converter).
  bool PrintsItself(const google::protobuf::Descriptor* type) const;
  const google::protobuf::Message* Prototype(const google::protobuf::Descriptor* type) const;
  const google::protobuf::DescriptorPool* pool_;
  // The generated pool's messages come from the generated factory; other pools' from this one
  // (GetPrototype is thread-safe).
  mutable google::protobuf::DynamicMessageFactory dynamic_;
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  mutable absl::Mutex printable_mu_;
  mutable absl::flat_hash_map<const google::protobuf::Descriptor*, bool> printable_
      ABSL_GUARDED_BY(printable_mu_);
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_JSON_CODEC_H_
