// Server-streaming methods over HTTP as Server-Sent Events (text/event-stream), for browsers'
// EventSource and any HTTP client that reads a response as it arrives. The stream is the same
// gRPC call as a native client's, made on the gateway's in-process channel: the same routing,
// authentication, roles, live-stream limits (limits.max_follows_*, counted per HTTP client
// address and connection) and the same back-pressure (limits.stream_buffer_messages: a client
// that falls that far behind is ended with STREAM_FELL_BEHIND).
//
// What the client reads:
//   retry: 5000                    first, how long EventSource waits before reconnecting
//   id: <resume_token>             before the data of a message of a resumable stream
//   data: {...}                    one per message, protobuf JSON on one line
//   : keep-alive                   every 15 s without a message (http_server.h)
//   event: end / data: {}          a stream that ended normally (no reconnect needed)
//   event: error / data: {"error": {...}}  a stream that ended with an error, with the error's
//                                  details as in every JSON error (docs/errors.md)
// A stream is resumable when its request has a string field `resume_token` and its messages
// carry one too (news' WatchArticles): each event's id is its message's token, and the
// Last-Event-ID a reconnecting EventSource sends becomes the request's resume_token (unless the
// query sets it), so the stream goes on after the last event the client saw.
// An error that comes before the first message (a refused token, a limit, an unknown report) and
// within the first second is answered as a plain JSON error with its HTTP status instead, which
// EventSource does not retry.
#ifndef CIVITAS_GATEWAY_HTTP_EVENT_STREAM_H_
#define CIVITAS_GATEWAY_HTTP_EVENT_STREAM_H_

#include <google/protobuf/descriptor.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/gateway/http_server.h"

namespace civitas::gateway {

struct EventStreamCall {
  std::unique_ptr<grpc::ClientContext> context;  // with the call's metadata, without a deadline
  grpc::ByteBuffer request;
  std::string method;                                    // "/pkg.Service/Method"
  const google::protobuf::Descriptor* output = nullptr;  // the stream's message type
  std::shared_ptr<const void> keep_alive;  // keeps `output`'s pool (the route table) alive
  std::vector<std::pair<std::string, std::string>> headers;  // added to the answer (CORS)
  HttpServer::Respond respond;
};

// Starts the call; `call.respond` is called once, with the event stream or a JSON error.
void StartEventStream(grpc::GenericStub* stub, EventStreamCall call);

// True if the request asks for an event stream (Accept: text/event-stream).
bool WantsEventStream(const HttpRequest& request);

// One message as an SSE event ("data: <json>\n\n"), from the JSON text of the message.
std::string EventData(const std::string& json);

// The field of a resumable stream's request or message that carries the resume token, or null.
const google::protobuf::FieldDescriptor* ResumeTokenField(const google::protobuf::Descriptor* type);

// `query` with resume_token=<Last-Event-ID> added when the method's request takes one, the
// client sent Last-Event-ID and the query does not set resume_token itself.
std::string QueryWithLastEventId(const google::protobuf::MethodDescriptor& method,
                                 const std::string& query, const std::string& last_event_id);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HTTP_EVENT_STREAM_H_
