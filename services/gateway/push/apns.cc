#include "services/gateway/push/apns.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "civitas/json.h"
#include "services/gateway/push/push_requests.h"

namespace civitas::gateway::push {

namespace {

// How long APNs keeps trying to reach a device (apns-expiration), as Web Push's TTL.
constexpr absl::Duration kExpiration = absl::Hours(24);

std::string Reason(absl::string_view body) {
  civitas::JsonValue json;
  if (!civitas::ParseJson(std::string_view(body.data(), body.size()), &json)) return "";
  return json["reason"].AsString();
}

}  // namespace

std::string ApnsTokenClaims(absl::string_view team_id, absl::Time now) {
  civitas::JsonWriter w;
  w.BeginObject()
      .Member("iss", std::string_view(team_id.data(), team_id.size()))
      .Member("iat", static_cast<int64_t>(absl::ToUnixSeconds(now)))
      .EndObject();
  return w.text();
}

std::string ApnsUrl(const ApnsConfig& config, absl::string_view device_token) {
  std::string out = absl::StrCat(config.endpoint, "/3/device/");
  for (unsigned char ch : device_token) {
    if (absl::ascii_isalnum(ch)) {
      out.push_back(static_cast<char>(ch));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::StrCat(absl::Hex(ch, absl::kZeroPad2))));
    }
  }
  return out;
}

std::vector<std::string> ApnsHeaders(const ApnsConfig& config, const notify::Message& message,
                                     absl::string_view provider_token, absl::Time now) {
  return {
      absl::StrCat("authorization: bearer ", provider_token),
      absl::StrCat("apns-topic: ", config.topic),
      "apns-push-type: alert",
      absl::StrCat("apns-priority: ", message.urgent() ? 10 : 5),
      absl::StrCat("apns-expiration: ", absl::ToUnixSeconds(now + kExpiration)),
      // At most 64 bytes; a message id is 32 hex digits. A repeated delivery replaces the
      // notification still shown.
      absl::StrCat("apns-collapse-id: ", message.name().substr(message.name().find('/') + 1)),
      "content-type: application/json",
      "Expect:",
  };
}

std::string ApnsPayloadJson(const notify::Message& message, absl::string_view device_language,
                            absl::string_view default_language) {
  const notify::MessageText* text = TextFor(message, device_language, default_language);
  civitas::JsonWriter w;
  w.BeginObject().Key("aps").BeginObject().Key("alert").BeginObject();
  w.Member("title", text ? text->title() : "").Member("body", text ? text->body() : "");
  w.EndObject();
  // With an image, the app's notification service extension may fetch and attach it.
  if (!message.image_url().empty()) w.Member("mutable-content", 1);
  w.EndObject();
  w.Member("message", message.name()).Member("topic", message.topic());
  w.Member("language", text ? text->language_code() : "");
  if (!message.deep_link().empty()) w.Member("deep_link", message.deep_link());
  if (!message.image_url().empty()) w.Member("image", message.image_url());
  w.EndObject();
  return w.text();
}

void ClassifyApnsAnswer(AttemptResult* r) {
  const long code = r->http_status;
  if (code == 0 || (code >= 200 && code < 300)) return;
  r->detail = Reason(r->body);
  if (code == 410 || (code == 400 && r->detail == "BadDeviceToken")) {
    r->verdict = Verdict::kGone;
  } else if (code >= 400 && code < 500 && code != 429 && !ProviderTokenRefused(*r)) {
    r->verdict = Verdict::kRefused;  // 404 BadPath is the operator's endpoint, not the device
  }
}

bool ProviderTokenRefused(const AttemptResult& r) {
  return r.http_status == 403 &&
         (r.detail == "ExpiredProviderToken" || r.detail == "InvalidProviderToken");
}

int64_t ApnsCredentials::tokens_made() const {
  absl::MutexLock lock(&mu_);
  return tokens_made_;
}

absl::StatusOr<std::string> ApnsCredentials::Token(absl::string_view stale) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (!token_.empty() && now - made_ < kApnsTokenLifetime && token_ != stale) return token_;
  if (signer_ == nullptr) {
    std::ifstream in(config_.key_file);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read push.apns.key_file '", config_.key_file, "'"));
    }
    std::stringstream pem;
    pem << in.rdbuf();
    absl::StatusOr<std::unique_ptr<JwtSigner>> signer =
        JwtSigner::FromPem(pem.str(), "push.apns.key_file");
    if (!signer.ok()) return signer.status();
    if (absl::string_view((*signer)->algorithm()) != "ES256") {
      return absl::InvalidArgumentError("push.apns.key_file must be an EC P-256 key (.p8)");
    }
    signer_ = *std::move(signer);
  }
  absl::StatusOr<std::string> token =
      signer_->Sign(absl::StrCat("\"kid\":", civitas::JsonQuote(config_.key_id)),
                    ApnsTokenClaims(config_.team_id, now));
  if (!token.ok()) return token.status();
  token_ = *std::move(token);
  made_ = now;
  ++tokens_made_;
  return token_;
}

AttemptResult SendApns(PushConnection& connection, ApnsCredentials& credentials,
                       const notify::Message& message, const notify::Device& device,
                       absl::string_view default_language, long timeout_seconds) {
  PushRequest request;
  request.url = ApnsUrl(credentials.config(), device.token());
  request.ca_file = credentials.config().ca_file;
  request.body = ApnsPayloadJson(message, device.language_code(), default_language);
  request.timeout_seconds = timeout_seconds;
  std::string stale;
  AttemptResult result;
  for (int round = 0; round < 2; ++round) {
    absl::StatusOr<std::string> token = credentials.Token(stale);
    if (!token.ok()) {
      AttemptResult failure;
      failure.verdict = Verdict::kBadCredentials;
      failure.error = std::string(token.status().message());
      return failure;
    }
    request.headers = ApnsHeaders(credentials.config(), message, *token, absl::Now());
    result = connection.Post(request);
    ClassifyApnsAnswer(&result);
    if (!ProviderTokenRefused(result)) return result;
    stale = *token;
  }
  result.verdict = Verdict::kAuthRejected;
  return result;
}

}  // namespace civitas::gateway::push
