#include "services/gateway/push/fcm.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "civitas/json.h"
#include "services/gateway/push/push_requests.h"

namespace civitas::gateway::push {

namespace {

constexpr char kDefaultTokenUri[] = "https://oauth2.googleapis.com/token";
// A token is used until this long before it expires.
constexpr absl::Duration kRefreshMargin = absl::Minutes(5);

// application/x-www-form-urlencoded of one value.
std::string FormEncode(absl::string_view s) {
  std::string out;
  for (unsigned char ch : s) {
    if (absl::ascii_isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      absl::StrAppend(&out, "%",
                      absl::AsciiStrToUpper(absl::StrCat(absl::Hex(ch, absl::kZeroPad2))));
    }
  }
  return out;
}

// The errorCode of an FCM error's details, else its status ("NOT_FOUND").
std::string FcmErrorCode(absl::string_view body) {
  civitas::JsonValue json;
  if (!civitas::ParseJson(std::string_view(body.data(), body.size()), &json)) return "";
  const civitas::JsonValue& error = json["error"];
  for (const civitas::JsonValue& d : error["details"].items()) {
    const std::string code = d["errorCode"].AsString();
    if (!code.empty()) return code;
  }
  return error["status"].AsString();
}

}  // namespace

absl::StatusOr<ServiceAccount> ParseServiceAccount(absl::string_view text) {
  civitas::JsonValue json;
  std::string error;
  if (!civitas::ParseJson(std::string_view(text.data(), text.size()), &json, &error) ||
      !json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the service account file is not a JSON object: ", error));
  }
  ServiceAccount a;
  a.client_email = json["client_email"].AsString();
  a.private_key_pem = json["private_key"].AsString();
  a.private_key_id = json["private_key_id"].AsString();
  a.token_uri = json["token_uri"].AsString(kDefaultTokenUri);
  if (a.client_email.empty() || a.client_email.find('@') == std::string::npos) {
    return absl::InvalidArgumentError("the service account file needs a client_email");
  }
  if (a.private_key_pem.empty()) {
    return absl::InvalidArgumentError("the service account file needs a private_key (PEM)");
  }
  if (!absl::StartsWith(a.token_uri, "https://")) {
    return absl::InvalidArgumentError("the service account's token_uri must be https");
  }
  return a;
}

std::string FcmAssertionClaims(const ServiceAccount& account, absl::Time now) {
  const int64_t iat = absl::ToUnixSeconds(now);
  civitas::JsonWriter w;
  w.BeginObject()
      .Member("iss", account.client_email)
      .Member("scope", kFcmScope)
      .Member("aud", account.token_uri)
      .Member("iat", iat)
      .Member("exp", iat + 3600)
      .EndObject();
  return w.text();
}

std::string FcmTokenRequestBody(absl::string_view assertion) {
  return absl::StrCat("grant_type=", FormEncode("urn:ietf:params:oauth:grant-type:jwt-bearer"),
                      "&assertion=", FormEncode(assertion));
}

absl::StatusOr<AccessToken> ParseAccessTokenAnswer(absl::string_view body, absl::Time now) {
  civitas::JsonValue json;
  if (!civitas::ParseJson(std::string_view(body.data(), body.size()), &json)) {
    return absl::InvalidArgumentError("the token endpoint's answer is not JSON");
  }
  AccessToken t;
  t.value = json["access_token"].AsString();
  const double expires_in = json["expires_in"].AsNumber(-1);
  const std::string type = json["token_type"].AsString("Bearer");
  if (t.value.empty() || expires_in <= 0 || !absl::EqualsIgnoreCase(type, "bearer")) {
    return absl::InvalidArgumentError(
        "the token endpoint's answer needs access_token, expires_in and a Bearer token_type");
  }
  // Printable ASCII only: it goes into a header.
  for (char ch : t.value) {
    if (ch <= ' ' || ch > '~') {
      return absl::InvalidArgumentError("the access token is not printable ASCII");
    }
  }
  t.refresh_at = std::max(now, now + absl::Seconds(expires_in) - kRefreshMargin);
  return t;
}

std::string FcmSendUrl(const FcmConfig& config) {
  return absl::StrCat(config.endpoint, "/v1/projects/", config.project_id, "/messages:send");
}

std::string FcmMessageJson(const notify::Message& message, absl::string_view token,
                           absl::string_view device_language, absl::string_view default_language) {
  const notify::MessageText* text = TextFor(message, device_language, default_language);
  const std::string title = text ? text->title() : "";
  const std::string body = text ? text->body() : "";
  const std::string id = message.name().substr(message.name().find('/') + 1);
  civitas::JsonWriter w;
  w.BeginObject().Key("message").BeginObject();
  w.Member("token", std::string_view(token.data(), token.size()));
  w.Key("notification").BeginObject().Member("title", title).Member("body", body);
  if (!message.image_url().empty()) w.Member("image", message.image_url());
  w.EndObject();
  // FCM's data values must be strings.
  w.Key("data").BeginObject();
  w.Member("message", message.name()).Member("topic", message.topic());
  w.Member("language", text ? text->language_code() : "");
  w.Member("title", title).Member("body", body);
  if (!message.deep_link().empty()) w.Member("deep_link", message.deep_link());
  if (!message.image_url().empty()) w.Member("image", message.image_url());
  w.Member("urgent", message.urgent() ? "true" : "false");
  w.EndObject();
  w.Key("android").BeginObject();
  w.Member("priority", message.urgent() ? "high" : "normal");
  // A repeated delivery of the same message replaces the one still waiting.
  w.Member("collapse_key", id);
  w.Member("ttl", "86400s");
  w.EndObject();
  w.EndObject().EndObject();
  return w.text();
}

void ClassifyFcmAnswer(AttemptResult* r) {
  const long code = r->http_status;
  if (code == 0 || (code >= 200 && code < 300)) return;
  r->detail = FcmErrorCode(r->body);
  if (r->detail == "UNREGISTERED" || code == 404) {
    r->verdict = Verdict::kGone;
  } else if (code >= 400 && code < 500 && code != 401 && code != 429) {
    r->verdict = Verdict::kRefused;  // INVALID_ARGUMENT, SENDER_ID_MISMATCH, ...
  }
}

int64_t FcmCredentials::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

absl::Status FcmCredentials::Load() {
  if (signer_ != nullptr) return absl::OkStatus();
  std::ifstream in(config_.service_account_file);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read push.fcm.service_account_file '",
                                                      config_.service_account_file, "'"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ServiceAccount> account = ParseServiceAccount(text.str());
  if (!account.ok()) return account.status();
  absl::StatusOr<std::unique_ptr<JwtSigner>> signer =
      JwtSigner::FromPem(account->private_key_pem, "the service account's private_key");
  if (!signer.ok()) return signer.status();
  if (absl::string_view((*signer)->algorithm()) != "RS256") {
    return absl::InvalidArgumentError("the service account's private_key must be RSA");
  }
  account_ = *std::move(account);
  signer_ = *std::move(signer);
  return absl::OkStatus();
}

absl::StatusOr<std::string> FcmCredentials::Token(PushConnection& connection,
                                                  absl::string_view stale, long timeout_seconds,
                                                  AttemptResult* failure) {
  auto cached = [&]() -> std::string {
    absl::MutexLock lock(&mu_);
    if (token_.value.empty() || absl::Now() >= token_.refresh_at || token_.value == stale) {
      return "";
    }
    return token_.value;
  };
  if (std::string t = cached(); !t.empty()) return t;
  absl::MutexLock fetching(&fetch_mu_);
  if (std::string t = cached(); !t.empty()) return t;  // another thread fetched meanwhile
  *failure = AttemptResult();
  if (absl::Status s = Load(); !s.ok()) {
    failure->verdict = Verdict::kBadCredentials;
    failure->error = std::string(s.message());
    return s;
  }
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> assertion = signer_->Sign(
      account_.private_key_id.empty()
          ? "\"typ\":\"JWT\""
          : absl::StrCat("\"typ\":\"JWT\",\"kid\":", civitas::JsonQuote(account_.private_key_id)),
      FcmAssertionClaims(account_, now));
  if (!assertion.ok()) {
    failure->verdict = Verdict::kBadCredentials;
    failure->error = std::string(assertion.status().message());
    return assertion.status();
  }
  PushRequest request;
  request.url = account_.token_uri;
  request.ca_file = config_.ca_file;
  request.body = FcmTokenRequestBody(*assertion);
  request.timeout_seconds = timeout_seconds;
  request.headers = {"Content-Type: application/x-www-form-urlencoded", "Expect:"};
  {
    absl::MutexLock lock(&mu_);
    ++fetches_;
  }
  AttemptResult answer = connection.Post(request);
  if (answer.http_status != 200) {
    *failure = answer;
    if (answer.http_status == 0) {
      failure->error = absl::StrCat("token endpoint: ", answer.error);
    } else if (answer.http_status != 429 && answer.http_status < 500) {
      // invalid_grant, unauthorized_client: the operator's key or clock, not worth repeating.
      civitas::JsonValue json;
      if (civitas::ParseJson(answer.body, &json)) failure->detail = json["error"].AsString();
      failure->verdict = Verdict::kAuthRejected;
    }
    return absl::UnavailableError("no access token");
  }
  absl::StatusOr<AccessToken> token = ParseAccessTokenAnswer(answer.body, absl::Now());
  if (!token.ok()) {
    failure->verdict = Verdict::kAuthRejected;
    failure->http_status = answer.http_status;
    failure->detail = std::string(token.status().message());
    return token.status();
  }
  absl::MutexLock lock(&mu_);
  token_ = *std::move(token);
  return token_.value;
}

AttemptResult SendFcm(PushConnection& connection, FcmCredentials& credentials,
                      const notify::Message& message, const notify::Device& device,
                      absl::string_view default_language, long timeout_seconds) {
  PushRequest request;
  request.url = FcmSendUrl(credentials.config());
  request.ca_file = credentials.config().ca_file;
  request.body = FcmMessageJson(message, device.token(), device.language_code(), default_language);
  request.timeout_seconds = timeout_seconds;
  std::string stale;
  for (int round = 0; round < 2; ++round) {
    AttemptResult failure;
    absl::StatusOr<std::string> token =
        credentials.Token(connection, stale, timeout_seconds, &failure);
    if (!token.ok()) return failure;
    request.headers = {"Content-Type: application/json; charset=UTF-8",
                       absl::StrCat("Authorization: Bearer ", *token), "Expect:"};
    AttemptResult result = connection.Post(request);
    ClassifyFcmAnswer(&result);
    if (result.http_status != 401) return result;
    stale = *token;  // expired or revoked early: once more with a new one
    if (round == 1) {
      result.verdict = Verdict::kAuthRejected;
      return result;
    }
  }
  return AttemptResult();  // not reached
}

}  // namespace civitas::gateway::push
