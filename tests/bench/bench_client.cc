// The city benchmark's own client:
//   bench_client seed    --target HOST:PORT --key PEM --out DIR
//     fills city "bench" with 1,000 articles, 1,000 events (a third recurring), 100 ideas with
//     10,000 supports and a poll with ballots, then writes, for each read row, the gRPC-framed
//     request body h2load sends (<row>.bin), the method path (<row>.path) and the exact size of one
//     response frame (<row>.size), so the benchmark can check every response.
//   bench_client supports --target HOST:PORT --key PEM --ideas FILE --seconds N --concurrency C
//                         [--users PREFIX]
//     durable SupportIdea writes (every one a new user/idea pair) from C concurrent callers for N
//     seconds; prints "<writes/s> <p50 ms> <p99 ms> <errors>".
//   bench_client push-devices --target HOST:PORT --endpoint URL_PREFIX --p256dh K --auth A
//                             --count N [--topic T] [--concurrency C]
//     registers N anonymous Web Push devices of topic T (default "alle") in city "bench", the
//     i-th with endpoint <URL_PREFIX><i>, from C concurrent callers (default 32); the client
//     address of each call is x-real-ip, a new one every 5 calls (the per-address burst), so the
//     gateway must set limits.write_rate.client_ip_header: x-real-ip. Prints
//     "<registered> <seconds> <registrations/s>".
//   bench_client push-send --target HOST:PORT --key PEM [--topic T] [--timeout_s S]
//     sends one urgent message to topic T as an editor, then polls GetMessage (about once a
//     second, faster near the end) until no delivery is pending; prints
//     "<message> <devices> <delivered> <failed+removed> <seconds> <deliveries/s>", the seconds
//     from the SendMessage call to the first answer without a pending delivery.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "civitas/events/v1/events.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "civitas/participation/v1/participation.grpc.pb.h"
#include "services/auth/token.h"

namespace {

namespace news = civitas::news::v1;
namespace events = civitas::events::v1;
namespace part = civitas::participation::v1;
namespace nt = civitas::notify::v1;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback = "") {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

class Minter {
 public:
  explicit Minter(const std::string& pem_path) {
    std::ifstream in(pem_path);
    std::stringstream b;
    b << in.rdbuf();
    auto signer = civitas::auth::TokenSigner::FromPrivateKeyPem(b.str(), "civitas-dev");
    if (!signer.ok()) {
      std::cerr << "cannot read " << pem_path << ": " << signer.status() << "\n";
      std::exit(1);
    }
    signer_ = std::move(*signer);
  }
  std::string Mint(const std::string& subject, std::vector<std::string> roles = {}) const {
    civitas::auth::MintRequest r;
    r.subject = subject;
    r.roles_by_city["bench"] = std::move(roles);
    r.ttl = absl::Hours(4);
    return *signer_->Mint(r);
  }

 private:
  std::unique_ptr<civitas::auth::TokenSigner> signer_;
};

void Prepare(grpc::ClientContext* ctx, const std::string& token) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx->AddMetadata("x-civitas-city", "bench");
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << " failed: " << s.error_code() << " " << s.error_message() << "\n";
    std::exit(1);
  }
}

// A gRPC frame (no compression) of `message`, and the frame size of `response`.
void WriteRow(const std::string& dir, const std::string& row, const std::string& path,
              const google::protobuf::Message& request, const google::protobuf::Message& response) {
  const std::string body = request.SerializeAsString();
  std::string frame(5, '\0');
  const uint32_t n = static_cast<uint32_t>(body.size());
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  std::ofstream(dir + "/" + row + ".bin", std::ios::binary) << frame << body;
  std::ofstream(dir + "/" + row + ".path") << path;
  std::ofstream(dir + "/" + row + ".size") << 5 + response.ByteSizeLong();
}

int Seed(int argc, char** argv) {
  const std::string out = Flag(argc, argv, "out");
  auto channel =
      grpc::CreateChannel(Flag(argc, argv, "target"), grpc::InsecureChannelCredentials());
  Minter minter(Flag(argc, argv, "key"));
  const std::string editor = minter.Mint("presseamt", {"editor"});
  auto news_stub = news::NewsService::NewStub(channel);
  auto events_stub = events::EventsService::NewStub(channel);
  auto part_stub = part::ParticipationService::NewStub(channel);
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  std::vector<std::string> articles(1000);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < 1000;) {
        grpc::ClientContext ctx;
        Prepare(&ctx, editor);
        news::CreateArticleRequest req;
        news::Article* a = req.mutable_article();
        a->set_title("Meldung " + std::to_string(i) + ": Neues aus dem Rathaus");
        a->set_teaser("Kurzfassung der Meldung " + std::to_string(i) +
                      " für die Liste in der App, zwei Sätze lang. Mehr im Artikel.");
        a->set_body(std::string(1200, 'x'));
        a->add_categories(i % 2 ? "verkehr" : "kultur");
        a->set_state(news::Article::PUBLISHED);
        a->mutable_publish_time()->set_seconds(now - 86400 * 30 + i * 60);
        a->set_pinned(i % 250 == 0);
        news::Article out;
        Check(news_stub->CreateArticle(&ctx, req, &out), "CreateArticle");
        articles[i] = out.name();
      }
    });
  }
  for (auto& t : threads) t.join();
  threads.clear();
  next = 0;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < 1000;) {
        grpc::ClientContext ctx;
        Prepare(&ctx, editor);
        events::CreateEventRequest req;
        events::Event* e = req.mutable_event();
        e->set_title("Veranstaltung " + std::to_string(i));
        e->set_description("Beschreibung der Veranstaltung");
        const int64_t start = now + 3600 * (i % 720);  // the next 30 days
        e->mutable_start_time()->set_seconds(start);
        e->mutable_end_time()->set_seconds(start + 7200);
        if (i % 3 == 0) e->set_recurrence_rule("FREQ=WEEKLY;COUNT=20");
        e->mutable_location()->mutable_point()->set_latitude(51.5 + (i % 100) * 0.001);
        e->mutable_location()->mutable_point()->set_longitude(7.4 + (i % 37) * 0.001);
        e->add_categories(i % 2 ? "kultur" : "sport");
        events::Event out;
        Check(events_stub->CreateEvent(&ctx, req, &out), "CreateEvent");
      }
    });
  }
  for (auto& t : threads) t.join();
  threads.clear();
  // 100 ideas, 10,000 supports (100 users each).
  std::vector<std::string> ideas(100);
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, minter.Mint("author" + std::to_string(i)));
    part::CreateIdeaRequest req;
    req.mutable_idea()->set_title("Idee Nummer " + std::to_string(i));
    req.mutable_idea()->set_body("Eine Idee für die Stadt, mit ausreichend Text.");
    req.mutable_idea()->set_author_display_name("Autor " + std::to_string(i));
    part::Idea out;
    Check(part_stub->CreateIdea(&ctx, req, &out), "CreateIdea");
    ideas[i] = out.name();
  }
  std::vector<std::string> users;
  for (int u = 0; u < 100; ++u) users.push_back(minter.Mint("citizen" + std::to_string(u)));
  next = 0;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < 10000;) {
        grpc::ClientContext ctx;
        Prepare(&ctx, users[i % 100]);
        part::SupportIdeaRequest req;
        req.set_name(ideas[i / 100]);
        part::Idea out;
        Check(part_stub->SupportIdea(&ctx, req, &out), "SupportIdea");
      }
    });
  }
  for (auto& t : threads) t.join();
  part::Poll poll;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, editor);
    part::CreatePollRequest req;
    req.mutable_poll()->set_title("Benchmark-Umfrage");
    auto* q = req.mutable_poll()->add_questions();
    q->set_text("Welche Option?");
    for (int o = 0; o < 4; ++o) q->add_options()->set_text("Option " + std::to_string(o));
    req.mutable_poll()->mutable_close_time()->set_seconds(now + 86400);
    Check(part_stub->CreatePoll(&ctx, req, &poll), "CreatePoll");
  }
  for (int u = 0; u < 100; ++u) {
    grpc::ClientContext ctx;
    Prepare(&ctx, users[u]);
    part::CastBallotRequest req;
    req.set_poll(poll.name());
    req.add_answers()->add_options(u % 4);
    part::Ballot out;
    Check(part_stub->CastBallot(&ctx, req, &out), "CastBallot");
  }

  // The read rows: one call each gives the exact response size.
  {
    news::ListArticlesRequest req;
    req.set_page_size(20);
    news::ListArticlesResponse resp;
    grpc::ClientContext ctx;
    Prepare(&ctx, "");
    Check(news_stub->ListArticles(&ctx, req, &resp), "ListArticles");
    WriteRow(out, "list_articles", "/civitas.news.v1.NewsService/ListArticles", req, resp);
  }
  {
    news::GetArticleRequest req;
    req.set_name(articles[500]);
    news::Article resp;
    grpc::ClientContext ctx;
    Prepare(&ctx, "");
    Check(news_stub->GetArticle(&ctx, req, &resp), "GetArticle");
    WriteRow(out, "get_article", "/civitas.news.v1.NewsService/GetArticle", req, resp);
  }
  {
    events::ListEventsRequest req;
    req.mutable_start_time()->set_seconds(now);
    req.mutable_end_time()->set_seconds(now + 30 * 86400);
    req.set_page_size(20);
    events::ListEventsResponse resp;
    grpc::ClientContext ctx;
    Prepare(&ctx, "");
    Check(events_stub->ListEvents(&ctx, req, &resp), "ListEvents");
    WriteRow(out, "list_events", "/civitas.events.v1.EventsService/ListEvents", req, resp);
  }
  {
    part::GetPollRequest req;
    req.set_name(poll.name());
    part::Poll resp;
    grpc::ClientContext ctx;
    Prepare(&ctx, "");
    Check(part_stub->GetPoll(&ctx, req, &resp), "GetPoll");
    WriteRow(out, "get_poll", "/civitas.participation.v1.ParticipationService/GetPoll", req, resp);
  }
  std::ofstream(out + "/ideas.txt") << [&] {
    std::string s;
    for (const auto& i : ideas) s += i + "\n";
    return s;
  }();
  std::cerr << "seeded: 1000 articles, 1000 events, 100 ideas with 10000 supports, 1 poll\n";
  return 0;
}

// Keeps `concurrency` SupportIdea calls in flight with gRPC's callback API until `end`, so the
// load generator spends a few microseconds per call instead of a blocked thread each.
class SupportLoad {
 public:
  SupportLoad(part::ParticipationService::Stub* stub, std::vector<std::string> tokens,
              std::vector<std::string> ideas, std::chrono::steady_clock::time_point end)
      : stub_(stub), tokens_(std::move(tokens)), ideas_(std::move(ideas)), end_(end) {}

  void Run(int concurrency) {
    outstanding_ = concurrency;
    for (int i = 0; i < concurrency; ++i) Issue();
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return outstanding_ == 0; });
  }
  std::vector<double>& latencies() { return latencies_; }
  int64_t errors() const { return errors_.load(); }

 private:
  struct Pending {
    grpc::ClientContext ctx;
    part::SupportIdeaRequest request;
    part::Idea response;
    std::chrono::steady_clock::time_point start;
  };

  void Issue() {
    if (std::chrono::steady_clock::now() >= end_) {
      std::lock_guard<std::mutex> lock(mu_);
      if (--outstanding_ == 0) done_.notify_all();
      return;
    }
    // Every call a new (user, idea) pair: users cycle fastest, then ideas.
    const int64_t i = next_++;
    auto* p = new Pending;
    Prepare(&p->ctx, tokens_[i % tokens_.size()]);
    p->request.set_name(ideas_[(i / tokens_.size()) % ideas_.size()]);
    p->start = std::chrono::steady_clock::now();
    stub_->async()->SupportIdea(&p->ctx, &p->request, &p->response, [this, p](grpc::Status s) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - p->start)
              .count();
      if (!s.ok() && errors_.fetch_add(1) == 0) {
        std::cerr << "SupportIdea failed: " << s.error_code() << " " << s.error_message() << "\n";
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        latencies_.push_back(ms);
      }
      delete p;
      Issue();
    });
  }

  part::ParticipationService::Stub* stub_;
  const std::vector<std::string> tokens_;
  const std::vector<std::string> ideas_;
  const std::chrono::steady_clock::time_point end_;
  std::atomic<int64_t> next_{0}, errors_{0};
  std::mutex mu_;
  std::condition_variable done_;
  int outstanding_ = 0;
  std::vector<double> latencies_;
};

int Supports(int argc, char** argv) {
  auto channel =
      grpc::CreateChannel(Flag(argc, argv, "target"), grpc::InsecureChannelCredentials());
  Minter minter(Flag(argc, argv, "key"));
  const int seconds = std::stoi(Flag(argc, argv, "seconds", "5"));
  const int concurrency = std::stoi(Flag(argc, argv, "concurrency", "64"));
  std::vector<std::string> ideas;
  {
    std::ifstream in(Flag(argc, argv, "ideas"));
    for (std::string line; std::getline(in, line);) ideas.push_back(line);
  }
  if (ideas.empty()) {
    std::cerr << "no ideas (--ideas FILE from seed)\n";
    return 1;
  }
  // Users who have not supported anything yet: each call is a new (user, idea) pair.
  std::vector<std::string> tokens;
  const std::string prefix = Flag(argc, argv, "users", "writer");  // a new prefix, new users
  for (int u = 0; u < 2000; ++u) tokens.push_back(minter.Mint(prefix + std::to_string(u)));
  auto stub = part::ParticipationService::NewStub(channel);
  const auto begin = std::chrono::steady_clock::now();
  SupportLoad load(stub.get(), std::move(tokens), std::move(ideas),
                   begin + std::chrono::seconds(seconds));
  load.Run(concurrency);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::vector<double>& all = load.latencies();
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0 : all[static_cast<size_t>(p * (all.size() - 1))];
  };
  std::printf("%.0f %.2f %.2f %lld\n", all.size() / elapsed, pct(0.5), pct(0.99),
              static_cast<long long>(load.errors()));
  return 0;
}

int PushDevices(int argc, char** argv) {
  auto channel =
      grpc::CreateChannel(Flag(argc, argv, "target"), grpc::InsecureChannelCredentials());
  const std::string prefix = Flag(argc, argv, "endpoint");
  const std::string p256dh = Flag(argc, argv, "p256dh"), auth = Flag(argc, argv, "auth");
  const std::string topic = Flag(argc, argv, "topic", "alle");
  const int count = std::stoi(Flag(argc, argv, "count", "1000"));
  const int concurrency = std::stoi(Flag(argc, argv, "concurrency", "32"));
  if (prefix.empty() || p256dh.empty() || auth.empty()) {
    std::cerr << "push-devices needs --endpoint, --p256dh and --auth\n";
    return 2;
  }
  auto stub = nt::NotifyService::NewStub(channel);
  std::atomic<int> next{0}, failed{0};
  const auto begin = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < count;) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "");
        const int address = i / 5;  // the anonymous registration burst per address
        ctx.AddMetadata("x-real-ip", absl::StrCat("10.", address / 65536, ".",
                                                  (address / 256) % 256, ".", address % 256));
        nt::RegisterDeviceRequest req;
        nt::Device* d = req.mutable_device();
        d->set_platform(nt::Device::WEB_PUSH);
        d->mutable_web_push()->set_endpoint(absl::StrCat(prefix, i));
        d->mutable_web_push()->set_p256dh(p256dh);
        d->mutable_web_push()->set_auth(auth);
        d->add_topics(topic);
        nt::RegisterDeviceResponse out;
        grpc::Status s = stub->RegisterDevice(&ctx, req, &out);
        if (!s.ok() && failed++ == 0) {
          std::cerr << "RegisterDevice failed: " << s.error_code() << " " << s.error_message()
                    << "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (failed > 0) return 1;
  std::printf("%d %.2f %.0f\n", count, seconds, count / seconds);
  return 0;
}

int PushSend(int argc, char** argv) {
  auto channel =
      grpc::CreateChannel(Flag(argc, argv, "target"), grpc::InsecureChannelCredentials());
  Minter minter(Flag(argc, argv, "key"));
  const std::string editor = minter.Mint("redaktion", {"editor"});
  const std::string topic = Flag(argc, argv, "topic", "alle");
  const double timeout_s = std::stod(Flag(argc, argv, "timeout_s", "600"));
  auto stub = nt::NotifyService::NewStub(channel);
  const auto begin = std::chrono::steady_clock::now();
  nt::Message sent;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, editor);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic(topic);
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title("Hochwasserwarnung: Pegel der Ruhr steigt");
    de->set_body("Bitte meiden Sie die Uferwege bis auf Weiteres. Mehr in der App.");
    req.mutable_message()->set_deep_link("civitas://warnungen/hochwasser");
    req.mutable_message()->set_urgent(true);
    Check(stub->SendMessage(&ctx, req, &sent), "SendMessage");
  }
  nt::Message state;
  double seconds = 0;
  while (true) {
    grpc::ClientContext ctx;
    Prepare(&ctx, editor);
    nt::GetMessageRequest req;
    req.set_name(sent.name());
    Check(stub->GetMessage(&ctx, req, &state), "GetMessage");
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    const int64_t pending = state.counts().pending();
    if (pending == 0 || seconds > timeout_s) break;
    // Each GetMessage counts every delivery of the message (a scan of device_count records):
    // about once a second, and just as long as the rest should take near the end.
    const double rate = std::max(1.0, (sent.device_count() - pending) / seconds);
    const double wait = std::clamp(pending / rate, 0.02, 1.0);
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  const int64_t delivered = state.counts().delivered();
  std::printf("%s %lld %lld %lld %.2f %.0f\n", sent.name().c_str(),
              static_cast<long long>(sent.device_count()), static_cast<long long>(delivered),
              static_cast<long long>(state.counts().failed() + state.counts().removed()), seconds,
              delivered / seconds);
  return state.counts().pending() == 0 ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bench_client seed|supports|push-devices|push-send ...\n";
    return 2;
  }
  const std::string command = argv[1];
  if (command == "seed") return Seed(argc, argv);
  if (command == "supports") return Supports(argc, argv);
  if (command == "push-devices") return PushDevices(argc, argv);
  if (command == "push-send") return PushSend(argc, argv);
  std::cerr << "unknown command " << command << "\n";
  return 2;
}
