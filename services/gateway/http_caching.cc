#include "services/gateway/http_caching.h"

#include <zlib.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace civitas::gateway {

namespace {

// FNV-1a, 64 bits, taken eight bytes (little-endian) at a time: stable across processes,
// machines and restarts (absl::Hash is salted per process, and a validator must mean the same
// body to every gateway replica and after a restart), and an eighth of the bytewise version's
// multiplications on a page of JSON.
uint64_t LittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(p[k]);
  return v;  // one load on little-endian machines
}

uint64_t Fnv1a(std::string_view data) {
  constexpr uint64_t kPrime = 1099511628211ull;
  uint64_t h = 14695981039346656037ull ^ data.size();
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    h ^= LittleEndian64(data.data() + i);
    h *= kPrime;
  }
  for (; i < data.size(); ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= kPrime;
  }
  return h;
}

absl::string_view Opaque(absl::string_view tag) {
  tag = absl::StripAsciiWhitespace(tag);
  absl::ConsumePrefix(&tag, "W/");
  return tag;
}

}  // namespace

std::string WeakEtag(std::string_view body) { return absl::StrFormat("W/\"%016x\"", Fnv1a(body)); }

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  const absl::string_view value =
      absl::StripAsciiWhitespace(absl::string_view(header.data(), header.size()));
  if (value == "*") return true;
  const absl::string_view mine = Opaque(absl::string_view(etag.data(), etag.size()));
  for (absl::string_view tag : absl::StrSplit(value, ',')) {
    if (Opaque(tag) == mine) return true;
  }
  return false;
}

std::vector<WeightedToken> WeightedTokens(absl::string_view header) {
  std::vector<WeightedToken> out;
  for (absl::string_view item : absl::StrSplit(header, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(item, ';');
    WeightedToken t{absl::StripAsciiWhitespace(parts[0]), 1};
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view p = absl::StripAsciiWhitespace(parts[i]);
      if (absl::ConsumePrefix(&p, "q=") && !absl::SimpleAtod(p, &t.q)) t.q = 0;
    }
    out.push_back(t);
  }
  return out;
}

bool AcceptsGzip(std::string_view header) {
  for (const WeightedToken& t : WeightedTokens(absl::string_view(header.data(), header.size()))) {
    if ((absl::EqualsIgnoreCase(t.token, "gzip") || t.token == "*") && t.q > 0) return true;
  }
  return false;
}

bool IsCompressible(std::string_view type) {
  const absl::string_view t(type.data(), type.size());
  return absl::StartsWith(t, "application/json") || absl::StartsWith(t, "application/geo+json") ||
         absl::StartsWith(t, "application/rss+xml") ||
         absl::StartsWith(t, "application/atom+xml") || absl::StartsWith(t, "application/xml") ||
         absl::StartsWith(t, "text/");
}

std::string Gzip(std::string_view data) {
  z_stream z{};
  // 31 = 15 window bits + 16 for a gzip header; level 5: most of level 9's ratio on JSON at a
  // third of its CPU (docs/performance.md).
  if (deflateInit2(&z, 5, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return "";
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const size_t written = out.size() - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return "";
  out.resize(written);
  return out;
}

std::shared_ptr<const RenderedAnswer> Render(std::string content_type, std::string body,
                                             int max_age_seconds, bool with_gzip) {
  auto a = std::make_shared<RenderedAnswer>();
  a->etag = WeakEtag(body);
  if (with_gzip && IsCompressible(content_type) && body.size() >= kMinCompressedBytes) {
    std::string compressed = Gzip(body);
    if (!compressed.empty() && compressed.size() < body.size()) a->gzipped = std::move(compressed);
  }
  a->content_type = std::move(content_type);
  a->body = std::move(body);
  a->max_age_seconds = max_age_seconds;
  return a;
}

namespace {

// Vary, and the gzip variant when there is one and the client takes it.
void AddEncoding(const HttpRequest& request, const std::string& content_type,
                 const std::string& body, const std::string& gzipped, HttpResponse* r) {
  // The answer differs for a signed-in caller; a shared cache must not hand one to the other.
  r->headers.push_back({"Vary", "Authorization"});
  if (!IsCompressible(content_type)) {
    r->body = body;
    return;
  }
  r->headers.push_back({"Vary", "Accept-Encoding"});
  if (!gzipped.empty() && AcceptsGzip(request.Header("accept-encoding"))) {
    r->body = gzipped;
    r->headers.push_back({"Content-Encoding", "gzip"});
  } else {
    r->body = body;
  }
}

}  // namespace

HttpResponse AnswerFrom(const RenderedAnswer& a, const HttpRequest& request) {
  HttpResponse r;
  r.status = 200;
  r.content_type = a.content_type;
  r.headers.push_back({"ETag", a.etag});
  r.headers.push_back({"Cache-Control", a.max_age_seconds > 0
                                            ? absl::StrCat("public, max-age=", a.max_age_seconds)
                                            : std::string("public, max-age=0, must-revalidate")});
  if (const std::string inm = request.Header("if-none-match");
      !inm.empty() && IfNoneMatchMatches(inm, a.etag)) {
    r.status = 304;
    return r;
  }
  AddEncoding(request, a.content_type, a.body, a.gzipped, &r);
  return r;
}

void ApplyGetConventions(const HttpRequest& request, bool personal, int max_age_seconds,
                         HttpResponse* r) {
  if (r->status != 200) return;
  if (!personal) {
    std::vector<std::pair<std::string, std::string>> headers = std::move(r->headers);
    *r = AnswerFrom(*Render(std::move(r->content_type), std::move(r->body), max_age_seconds,
                            AcceptsGzip(request.Header("accept-encoding"))),
                    request);
    r->headers.insert(r->headers.begin(), headers.begin(), headers.end());
    return;
  }
  r->headers.push_back({"Cache-Control", "private, no-store"});
  std::string body = std::move(r->body), gzipped;
  if (IsCompressible(r->content_type) && body.size() >= kMinCompressedBytes &&
      AcceptsGzip(request.Header("accept-encoding"))) {
    gzipped = Gzip(body);
    if (gzipped.size() >= body.size()) gzipped.clear();
  }
  AddEncoding(request, r->content_type, body, gzipped, r);
}

}  // namespace civitas::gateway
