// civitasctl push: send a push message to a topic, follow its deliveries, and see how many
// devices each topic reaches (never which: push addresses are personal data). Through the
// gateway's public port with an editor's token, like the console.
#include <iomanip>
#include <iostream>

#include "absl/time/time.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {
namespace {

namespace nt = civitas::notify::v1;

void PrepareCity(const Args& args, grpc::ClientContext* ctx) {
  Prepare(args, ctx);
  ctx->AddMetadata("x-civitas-city", args.Get("city"));
}

void PrintCounts(const nt::Message& m) {
  std::cout << m.name() << "  topic " << m.topic() << "  devices " << m.device_count()
            << "\n  pending " << m.counts().pending() << "  delivered " << m.counts().delivered()
            << "  failed " << m.counts().failed() << "  removed " << m.counts().removed();
  if (m.counts().cancelled() > 0) std::cout << "  cancelled " << m.counts().cancelled();
  if (!m.module().empty()) std::cout << "  (sent by module " << m.module() << ")";
  std::cout << "\n";
}

}  // namespace

int PushSend(const Args& args) {
  if (!args.Has("city") || !args.Has("topic") || !args.Has("title")) {
    return Usage("push send needs --city, --topic and --title");
  }
  nt::SendMessageRequest req;
  nt::Message* m = req.mutable_message();
  m->set_topic(args.Get("topic"));
  nt::MessageText* text = m->add_texts();
  text->set_language_code(args.Get("language", "de"));
  text->set_title(args.Get("title"));
  text->set_body(args.Get("body"));
  m->set_deep_link(args.Get("link"));
  m->set_image_url(args.Get("image"));
  m->set_urgent(args.Has("urgent"));
  if (args.Has("at")) {
    absl::Time at;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, args.Get("at"), &at, &error)) {
      return Usage("--at must be an RFC 3339 time like 2026-12-24T18:00:00+01:00: " + error);
    }
    m->mutable_send_time()->set_seconds(absl::ToUnixSeconds(at));
  }
  auto stub = nt::NotifyService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  PrepareCity(args, &ctx);
  nt::Message sent;
  grpc::Status s = stub->SendMessage(&ctx, req, &sent);
  if (!s.ok()) return Failed(s);
  std::cout << "queued ";
  PrintCounts(sent);
  return 0;
}

int PushStatus(const Args& args) {
  if (!args.Has("city") || args.words.size() != 3) {
    return Usage("push status needs --city and a message name (messages/...)");
  }
  auto stub = nt::NotifyService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  PrepareCity(args, &ctx);
  nt::GetMessageRequest req;
  req.set_name(args.words[2]);
  nt::Message m;
  grpc::Status s = stub->GetMessage(&ctx, req, &m);
  if (!s.ok()) return Failed(s);
  PrintCounts(m);
  return 0;
}

int PushCancel(const Args& args) {
  if (!args.Has("city") || args.words.size() != 3) {
    return Usage("push cancel needs --city and a message name (messages/...)");
  }
  auto stub = nt::NotifyService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  PrepareCity(args, &ctx);
  nt::CancelMessageRequest req;
  req.set_name(args.words[2]);
  nt::Message m;
  grpc::Status s = stub->CancelMessage(&ctx, req, &m);
  if (!s.ok()) return Failed(s);
  std::cout << "cancelled ";
  PrintCounts(m);
  return 0;
}

int PushDevices(const Args& args) {
  if (!args.Has("city")) return Usage("push devices needs --city");
  auto stub = nt::NotifyService::NewStub(GatewayChannel(args));
  grpc::ClientContext ctx;
  PrepareCity(args, &ctx);
  nt::ListTopicsRequest req;
  req.set_language_code(args.Get("language"));
  nt::ListTopicsResponse topics;
  grpc::Status s = stub->ListTopics(&ctx, req, &topics);
  if (!s.ok()) return Failed(s);
  std::cout << std::left << std::setw(24) << "TOPIC" << std::setw(10) << "DEVICES"
            << "TITLE\n";
  for (const nt::Topic& t : topics.topics()) {
    std::cout << std::left << std::setw(24) << t.topic_id() << std::setw(10) << t.device_count()
              << t.title() << "\n";
  }
  return 0;
}

}  // namespace civitas::ctl
