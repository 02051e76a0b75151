// HTTP conventions for the answers to GET requests of the JSON/HTTP API (RFC 9110, RFC 9111):
// an ETag computed from the body, If-None-Match answered 304 with no body, Cache-Control by who
// may see the answer (public for anonymous reads, private and not stored for signed-in ones),
// and gzip for larger text bodies when the client accepts it.
#ifndef CIVITAS_GATEWAY_HTTP_CACHING_H_
#define CIVITAS_GATEWAY_HTTP_CACHING_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/gateway/http_server.h"

namespace civitas::gateway {

// Bodies smaller than this are sent as they are: compressing them saves less than it costs.
inline constexpr size_t kMinCompressedBytes = 1024;

// A weak validator for `body`: W/"<16 hex digits>".
std::string WeakEtag(std::string_view body);

// True if an If-None-Match header value ("*", or a list of entity tags, weak or strong) matches
// `etag` by the weak comparison of RFC 9110 §8.8.3.2.
bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag);

// The items of a header with quality values (Accept-Language, Accept-Encoding; RFC 9110
// §12.4.2), in the header's order: each token with its q (1 without one, 0 if unreadable).
struct WeightedToken {
  absl::string_view token;
  double q;
};
std::vector<WeightedToken> WeightedTokens(absl::string_view header);

// True if an Accept-Encoding header value accepts gzip (q > 0, or "*").
bool AcceptsGzip(std::string_view accept_encoding);

// True for the text formats worth compressing: JSON, XML (RSS, Atom), iCalendar, GeoJSON, text.
bool IsCompressible(std::string_view content_type);

// gzip (RFC 1952) of `data` with zlib.
std::string Gzip(std::string_view data);

// What a public 200 answer to a GET is made of before the conventions are applied per request
// (304 or not, gzip or not): kept as it is by the rendered-answer cache (rendered_cache.h).
struct RenderedAnswer {
  std::string content_type;
  std::string body;
  std::string etag;     // WeakEtag(body)
  std::string gzipped;  // Gzip(body) when compressible and worth it, else empty
  int max_age_seconds = 0;
};

// `body` with its validator and, where worthwhile and `with_gzip`, its gzip variant. An answer
// that is kept is compressed once for every client that will take it; one that is not kept is
// compressed only for a client that accepts gzip.
std::shared_ptr<const RenderedAnswer> Render(std::string content_type, std::string body,
                                             int max_age_seconds, bool with_gzip = true);

// The answer to one request from a rendered answer: ETag and Cache-Control (public), 304 when
// If-None-Match matches, the gzip variant when accepted, Vary. `request` needs only its
// if-none-match and accept-encoding headers.
HttpResponse AnswerFrom(const RenderedAnswer& answer, const HttpRequest& request);

// Applies the conventions to the 200 answer of a GET: sets ETag and Cache-Control, turns the
// answer into 304 when If-None-Match matches, and compresses it when worthwhile. `personal`: the
// request carried credentials, so the answer is the caller's own (private, no-store, no ETag).
// `max_age_seconds` is how long a public answer may be reused without asking again.
void ApplyGetConventions(const HttpRequest& request, bool personal, int max_age_seconds,
                         HttpResponse* response);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_CACHING_H_
