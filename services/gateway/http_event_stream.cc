#include "services/gateway/http_event_stream.h"

#include <grpcpp/alarm.h>
#include <grpcpp/support/client_callback.h>

#include <chrono>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/http_transcoder.h"
#include "services/gateway/json_codec.h"
#include "services/gateway/status_details.h"

namespace civitas::gateway {
namespace {

// Messages read ahead of the HTTP writer; more wait in the gRPC call (and, beyond
// limits.stream_buffer_messages, end it).
constexpr size_t kReadAhead = 4;
// How long an answer waits for the first message before the head goes out: errors that refuse a
// stream (token, limits, routing) arrive well within it and become plain JSON errors.
constexpr auto kHeadWait = std::chrono::seconds(1);

class StreamReader;

// The body of one event stream (HttpBodyStream) and the state the gRPC reader shares with it.
class EventSource final : public HttpBodyStream, public std::enable_shared_from_this<EventSource> {
 public:
  explicit EventSource(EventStreamCall call) : call_(std::move(call)) {
    ready_.push_back("retry: 5000\n\n");
  }

  grpc::ClientContext* context() { return call_.context.get(); }
  grpc::ByteBuffer* request() { return &call_.request; }
  const std::string& method() const { return call_.method; }

  void Started(StreamReader* reader) {
    {
      absl::MutexLock lock(&mu_);
      reader_ = reader;
    }
    head_alarm_.Set(std::chrono::system_clock::now() + kHeadWait,
                    [self = shared_from_this()](bool) { self->RespondHead(); });
  }

  // One message arrived: what the reader does next.
  enum class After { kReadMore, kPause, kRelease };
  After OnMessage(const grpc::ByteBuffer& message);
  // The read side is finished (the stream ended or was cancelled). Returns true if the reader
  // should release its hold now.
  bool OnReadsDone() {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    return std::exchange(hold_, false);
  }
  void OnStatus(const grpc::Status& status);

  void Next(Deliver deliver) override;
  void Cancel() override;

 private:
  void RespondHead();
  std::string ToEvent(const grpc::ByteBuffer& message);

  EventStreamCall call_;
  grpc::Alarm head_alarm_;

  absl::Mutex mu_;
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);   // pieces not yet asked for
  Deliver waiting_ ABSL_GUARDED_BY(mu_);                 // a Next that found nothing ready
  StreamReader* reader_ ABSL_GUARDED_BY(mu_) = nullptr;  // until the call is done
  bool reading_ ABSL_GUARDED_BY(mu_) = true;             // a read is outstanding
  bool hold_ ABSL_GUARDED_BY(mu_) = true;                // the reader's hold is not released yet
  bool responded_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // no pieces after ready_
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The gRPC side: one server-streaming call on the in-process channel. Deletes itself in OnDone.
class StreamReader final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit StreamReader(std::shared_ptr<EventSource> source) : source_(std::move(source)) {}

  void Start(grpc::GenericStub* stub) {
    stub->PrepareBidiStreamingCall(source_->context(), source_->method(), grpc::StubOptions(),
                                   this);
    // Held until the reads are over, so that OnDone cannot come while the source may still ask
    // for another read (after a pause).
    AddHold();
    StartWrite(source_->request());
    StartRead(&message_);
    // Before StartCall: from then on the call may end, and OnDone delete this reader, on a gRPC
    // thread before this one goes on (a refusal comes back that fast).
    source_->Started(this);
    StartCall();
  }
  void ReadMore() { StartRead(&message_); }
  void Release() { RemoveHold(); }

  void OnWriteDone(bool ok) override {
    if (ok) StartWritesDone();
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      if (source_->OnReadsDone()) Release();
      return;
    }
    switch (source_->OnMessage(message_)) {
      case EventSource::After::kReadMore:
        StartRead(&message_);
        break;
      case EventSource::After::kPause:  // Next reads on (ReadMore)
        break;
      case EventSource::After::kRelease:  // cancelled: OnDone follows
        Release();
        break;
    }
  }
  void OnDone(const grpc::Status& status) override {
    source_->OnStatus(status);
    delete this;
  }

 private:
  std::shared_ptr<EventSource> source_;
  grpc::ByteBuffer message_;
};

std::string EventSource::ToEvent(const grpc::ByteBuffer& message) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (message.Dump(&slices).ok()) {
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
  }
  const JsonCodec& codec = JsonCodec::Of(call_.output);
  std::unique_ptr<google::protobuf::Message> m = codec.New(call_.output);
  std::string json;
  if (!m->ParseFromString(bytes) || !codec.Print(*m, &json).ok()) {
    return absl::StrCat("event: error\n",
                        EventData(JsonError(GatewayError(grpc::StatusCode::INTERNAL,
                                                         "the stream sent a broken message",
                                                         "MODULE_BROKEN_RESPONSE"))
                                      .body));
  }
  std::string id;
  if (const google::protobuf::FieldDescriptor* f = ResumeTokenField(call_.output)) {
    id = m->GetReflection()->GetString(*m, f);
    // An id is one line of text; anything else is not sent as one.
    if (id.find_first_of("\r\n") != std::string::npos) id.clear();
  }
  return id.empty() ? EventData(json) : absl::StrCat("id: ", id, "\n", EventData(json));
}

EventSource::After EventSource::OnMessage(const grpc::ByteBuffer& message) {
  std::string piece = ToEvent(message);
  Deliver deliver;
  bool respond = false, more = false;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      reading_ = false;
      return std::exchange(hold_, false) ? After::kRelease : After::kPause;
    }
    ready_.push_back(std::move(piece));
    if (waiting_) {
      deliver = std::exchange(waiting_, nullptr);
      piece = std::move(ready_.front());
      ready_.pop_front();
    }
    respond = !responded_;
    more = ready_.size() < kReadAhead;
    reading_ = more;
  }
  if (respond) RespondHead();
  if (deliver) deliver(std::move(piece));
  return more ? After::kReadMore : After::kPause;
}

void EventSource::OnStatus(const grpc::Status& status) {
  bool respond_error = false;
  Deliver deliver;
  std::optional<std::string> piece;
  {
    absl::MutexLock lock(&mu_);
    reader_ = nullptr;
    if (cancelled_) return;
    if (!responded_ && !status.ok()) {
      responded_ = true;
      respond_error = true;
    } else {
      ready_.push_back(status.ok()
                           ? std::string("event: end\ndata: {}\n\n")
                           : absl::StrCat("event: error\n", EventData(JsonError(status).body)));
      ended_ = true;
      if (waiting_) {
        deliver = std::exchange(waiting_, nullptr);
        piece = std::move(ready_.front());
        ready_.pop_front();
      }
    }
  }
  if (respond_error) {
    HttpResponse r = JsonError(status);
    r.headers.insert(r.headers.end(), call_.headers.begin(), call_.headers.end());
    call_.respond(std::move(r));
    return;
  }
  RespondHead();
  if (deliver) deliver(std::move(piece));
}

void EventSource::RespondHead() {
  {
    absl::MutexLock lock(&mu_);
    if (responded_ || cancelled_) return;
    responded_ = true;
  }
  HttpResponse r{200, "text/event-stream; charset=utf-8", "", call_.headers, shared_from_this()};
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"X-Accel-Buffering", "no"});  // nginx: pass each event on at once
  call_.respond(std::move(r));
}

void EventSource::Next(Deliver deliver) {
  std::optional<std::string> piece;
  StreamReader* resume = nullptr;
  bool end = false;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    if (!ready_.empty()) {
      piece = std::move(ready_.front());
      ready_.pop_front();
    } else if (ended_) {
      end = true;
    } else {
      waiting_ = std::move(deliver);
    }
    // A reader paused with a full read-ahead goes on once there is room.
    if (!reading_ && hold_ && !ended_ && reader_ != nullptr && ready_.size() < kReadAhead) {
      reading_ = true;
      resume = reader_;
    }
  }
  if (resume) resume->ReadMore();
  if (piece) {
    deliver(std::move(piece));
  } else if (end) {
    deliver(std::nullopt);
  }
}

void EventSource::Cancel() {
  StreamReader* release = nullptr;
  grpc::ClientContext* context = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    waiting_ = nullptr;
    ready_.clear();
    if (reader_ == nullptr) return;  // the call is over
    if (hold_ && !reading_) {
      hold_ = false;
      release = reader_;
    }
    context = call_.context.get();
  }
  context->TryCancel();  // outside the lock: reactions may run inline
  if (release) release->Release();
}

}  // namespace

bool WantsEventStream(const HttpRequest& request) {
  for (absl::string_view type : absl::StrSplit(request.Header("accept"), ',')) {
    type = absl::StripAsciiWhitespace(type.substr(0, type.find(';')));
    if (absl::EqualsIgnoreCase(type, "text/event-stream")) return true;
  }
  return false;
}

std::string EventData(const std::string& json) {
  // protobuf's JSON has no line breaks (strings escape theirs); one "data:" line per line anyway.
  std::string out;
  for (absl::string_view line : absl::StrSplit(json, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "data: ", line, "\n");
  }
  return out + "\n";
}

const google::protobuf::FieldDescriptor* ResumeTokenField(
    const google::protobuf::Descriptor* type) {
  const google::protobuf::FieldDescriptor* f = type->FindFieldByName("resume_token");
  return f != nullptr && f->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
                 !f->is_repeated()
             ? f
             : nullptr;
}

std::string QueryWithLastEventId(const google::protobuf::MethodDescriptor& method,
                                 const std::string& query, const std::string& last_event_id) {
  if (last_event_id.empty() || ResumeTokenField(method.input_type()) == nullptr ||
      ResumeTokenField(method.output_type()) == nullptr) {
    return query;
  }
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    if (absl::StartsWith(pair, "resume_token=") || absl::StartsWith(pair, "resumeToken=")) {
      return query;  // the query's own choice
    }
  }
  std::string encoded;
  for (unsigned char c : last_event_id) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&encoded, "%%%02X", c);
    }
  }
  return absl::StrCat(query, query.empty() ? "" : "&", "resume_token=", encoded);
}

void StartEventStream(grpc::GenericStub* stub, EventStreamCall call) {
  auto source = std::make_shared<EventSource>(std::move(call));
  (new StreamReader(source))->Start(stub);
}

}  // namespace civitas::gateway
