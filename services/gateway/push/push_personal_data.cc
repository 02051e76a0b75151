#include "services/gateway/push/push_personal_data.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace civitas::gateway::push {

namespace {
// More devices than anyone owns; the bound keeps one export's memory bounded.
constexpr size_t kMaxDevicesPerSubject = 1000;
}  // namespace

absl::Status ExportPushData(const PushCities& cities, const std::string& city,
                            const std::string& subject, std::string* json) {
  return cities.Use(city, [&](PushCities::CityView& view) {
    absl::StatusOr<std::vector<StoredDevice>> devices =
        view.store.DevicesOf(subject, kMaxDevicesPerSubject);
    if (!devices.ok()) return devices.status();
    std::string out = "{\"devices\":[";
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    for (size_t i = 0; i < devices->size(); ++i) {
      std::string one;
      if (!google::protobuf::util::MessageToJsonString((*devices)[i].device(), &one, options)
               .ok()) {
        return absl::InternalError("push: a device does not convert to JSON");
      }
      absl::StrAppend(&out, i == 0 ? "" : ",", one);
    }
    *json = out + "]}";
    return absl::OkStatus();
  });
}

absl::Status ErasePushData(const PushCities& cities, const std::string& city,
                           const std::string& subject) {
  return cities.Use(city, [&](PushCities::CityView& view) {
    while (true) {
      absl::StatusOr<std::vector<StoredDevice>> devices =
          view.store.DevicesOf(subject, kMaxDevicesPerSubject);
      if (!devices.ok()) return devices.status();
      if (devices->empty()) break;
      for (const StoredDevice& d : *devices) {
        if (absl::Status s = view.store.DeleteDevice(d); !s.ok()) return s;
      }
    }
    // An editor's subject on the messages they sent.
    return view.store.ForgetSender(subject).status();
  });
}

}  // namespace civitas::gateway::push
