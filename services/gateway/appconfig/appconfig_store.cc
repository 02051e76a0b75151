#include "services/gateway/appconfig/appconfig_store.h"

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace civitas::gateway::appconfig {

namespace {

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::AbortedError(absl::StrCat("app config: ", what, ": ", s.ToString(), "; retry"));
  }
  return absl::InternalError(absl::StrCat("app config: ", what, ": ", s.ToString()));
}

absl::StatusOr<int64_t> ParseVersion(const std::string& value) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(value, &v) || v < 0) {
    return absl::DataLossError("app config: the stored current version does not parse");
  }
  return v;
}

}  // namespace

std::string VersionKey(int64_t version) { return absl::StrFormat("appconfig/v/%020d", version); }

std::string CurrentVersionKey() { return "appconfig/current"; }

absl::StatusOr<int64_t> AppConfigStore::CurrentVersion() const {
  std::string value;
  absl::StatusOr<bool> found = store_->GetSystem(CurrentVersionKey(), &value);
  if (!found.ok()) return found.status();
  if (!*found) return 0;
  return ParseVersion(value);
}

absl::StatusOr<std::optional<ac::AppConfigVersion>> AppConfigStore::Get(int64_t version) const {
  std::string value;
  absl::StatusOr<bool> found = store_->GetSystem(VersionKey(version), &value);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<ac::AppConfigVersion>();
  ac::AppConfigVersion v;
  if (!v.ParseFromString(value)) {
    return absl::DataLossError(
        absl::StrCat("app config: stored version ", version, " does not parse"));
  }
  return std::optional<ac::AppConfigVersion>(std::move(v));
}

absl::StatusOr<ac::AppConfigVersion> AppConfigStore::Append(const ac::AppConfig& config,
                                                            int64_t based_on, int64_t restored_from,
                                                            absl::Time now) {
  if (absl::Status q = store_->CheckQuota(); !q.ok()) return q;
  std::unique_ptr<rocksdb::Transaction> txn(
      store_->db()->BeginTransaction(store_->write_options()));
  if (!txn) return absl::UnavailableError("app config: the city's database is closed");
  std::string value;
  rocksdb::Status s =
      txn->GetForUpdate(rocksdb::ReadOptions(), SystemKey(CurrentVersionKey()), &value);
  int64_t current = 0;
  if (s.ok()) {
    absl::StatusOr<int64_t> parsed = ParseVersion(value);
    if (!parsed.ok()) return parsed.status();
    current = *parsed;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read the current version");
  }
  if (current != based_on) {
    txn->Rollback().PermitUncheckedError();
    return absl::AbortedError(absl::StrCat("the app configuration changed meanwhile (version ",
                                           current, ", not ", based_on, ")"));
  }
  ac::AppConfigVersion v;
  v.set_version(current + 1);
  v.set_name(absl::StrCat("appconfig/versions/", v.version()));
  v.set_restored_from(restored_from);
  const int64_t micros = absl::ToUnixMicros(now);
  v.mutable_create_time()->set_seconds(micros / 1000000);
  v.mutable_create_time()->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  ac::AppConfig& stored = *v.mutable_app_config();
  stored = config;
  stored.clear_name();
  stored.clear_modules();
  stored.clear_etag();
  stored.clear_version();
  stored.clear_update_time();
  s = txn->Put(SystemKey(VersionKey(v.version())), v.SerializeAsString());
  if (s.ok()) s = txn->Put(SystemKey(CurrentVersionKey()), std::to_string(v.version()));
  if (!s.ok()) {
    txn->Rollback().PermitUncheckedError();
    return FromRocks(s, "store a version");
  }
  if (absl::Status c = FromRocks(txn->Commit(), "store a version"); !c.ok()) return c;
  return v;
}

}  // namespace civitas::gateway::appconfig
