// Push delivery under SIGKILL: the gateway is killed while 10,000 Web Push deliveries of one
// message are pending, restarted on the same data directory, and every device must have the
// message, duplicates bounded by what the design allows.
//
// The bound: a delivery's state changes in the transaction that removes its due-index entry,
// and that transaction is committed (durably, `storage.durability: sync`) by the sender thread
// right after the push service answered. Each of the `push.web_push_connections` sender threads
// has at most one request in flight and commits its outcome before it takes the next delivery,
// and within one process a delivery is handed to one thread at a time. So the only deliveries a
// kill can leave "sent but still pending" are the ones in flight at that moment: after the
// restart at most web_push_connections devices get the message a second time (the push service
// collapses those through the `Topic` header; this receiver counts them instead).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "tests/integration/gateway_process.h"
#include "tests/integration/push_receiver.h"

namespace civitas::testing {
namespace {

namespace nt = civitas::notify::v1;

constexpr int kDevices = 10000;
constexpr int kConnections = 4;  // push.web_push_connections below
// Registrations from one client address before its bucket is empty (the burst, docs/push.md).
constexpr int kRegistrationsPerAddress = 5;

// The client address of a registration comes from x-real-ip (the connection is from loopback, as
// behind the edge proxy), so the test registers 10,000 devices from 2,000 addresses within the
// per-address limit instead of waiting for it.
constexpr char kConfig[] = R"(
data_dir: {dir}/data
auth:
  jwks_file: jwks.json
logging:
  access_log: false
limits:
  write_rate:
    client_ip_header: x-real-ip
push:
  web_push_connections: 4
  retry_base_seconds: 1
  retry_max_seconds: 2
  request_timeout_seconds: 5
cities:
  - id: unna
    push:
      allow_loopback: true
      ca_file: {dir}/receiver/cert.pem
      vapid_subject: "mailto:push@unna.example"
      topics:
        - id: alle
          titles: {de: "Alle Meldungen"}
)";

std::string DevicePath(int i) { return absl::StrCat("/push/crash-", i); }

// Registers devices [0, kDevices) anonymously, 16 callers at once.
void RegisterAll(const GatewayProcess& gw, const Receiver& receiver) {
  std::atomic<int> next{0}, failed{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 16; ++t) {
    callers.emplace_back([&] {
      auto stub = nt::NotifyService::NewStub(gw.channel());
      for (int i; (i = next++) < kDevices;) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "unna");
        const int address = i / kRegistrationsPerAddress;
        ctx.AddMetadata("x-real-ip", absl::StrCat("10.", address / 65536, ".",
                                                  (address / 256) % 256, ".", address % 256));
        nt::RegisterDeviceRequest req;
        nt::Device* d = req.mutable_device();
        d->set_platform(nt::Device::WEB_PUSH);
        *d->mutable_web_push() = receiver.Subscription(DevicePath(i));
        d->add_topics("alle");
        nt::RegisterDeviceResponse out;
        grpc::Status s = stub->RegisterDevice(&ctx, req, &out);
        if (!s.ok() && failed++ == 0) ADD_FAILURE() << "device " << i << ": " << s.error_message();
      }
    });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_EQ(failed.load(), 0);
}

int64_t Number(const std::string& json, const std::string& key) {
  return std::atoll(Field(json, key).c_str());
}

TEST(PushCrashTest, EveryDeviceHasTheMessageAfterAKillDuplicatesOnlyWhatWasInFlight) {
  const auto begin = std::chrono::steady_clock::now();
  const std::string dir = NewTempDir("push-crash");
  TestKeys keys(dir);
  // Each push answered 3 ms after its body arrived: the sender threads wait on the receiver
  // most of the time, so deliveries are in flight at the kill.
  Receiver receiver(dir + "/receiver", std::string(CIVITAS_SOURCE_DIR) + "/tests/push",
                    {.delay_ms = 3, .record_all = false});
  std::unique_ptr<GatewayProcess> gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  RegisterAll(*gw, receiver);
  const double registered_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

  const std::string editor = keys.Mint("redaktion", "unna", {"editor"});
  nt::Message sent;
  {
    auto stub = nt::NotifyService::NewStub(gw->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", editor);
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic("alle");
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title("Stromausfall in der Innenstadt");
    de->set_body("Die Stadtwerke arbeiten daran.");
    req.mutable_message()->set_urgent(true);
    grpc::Status s = stub->SendMessage(&ctx, req, &sent);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(sent.device_count(), kDevices);

  // Kill once a quarter has arrived and a delivery is being held by the receiver right now.
  std::string at_kill;
  for (int i = 0; i < 3000; ++i) {
    const std::string stats = receiver.Stats();
    if (Number(stats, "requests") >= kDevices / 4 && Number(stats, "held") >= 1) {
      gw->Kill();
      at_kill = stats;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(at_kill.empty()) << "the deliveries did not start: " << receiver.Stats() << "\n"
                                << gw->log();
  const int64_t received_at_kill = Number(at_kill, "requests");
  ASSERT_LT(received_at_kill, kDevices) << "the kill came after the fan-out ended";
  // Answers the receiver still had to give when the gateway went away.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string after_kill = receiver.Stats();
  const int64_t unanswered = Number(after_kill, "unanswered");
  // Requests the kill cut off before their whole body was sent (no push; sent again later).
  const int64_t cut_off = Number(after_kill, "aborted");

  gw = GatewayProcess::Start(dir, kConfig);
  ASSERT_NE(gw, nullptr);
  auto stub = nt::NotifyService::NewStub(gw->channel());
  nt::Message state;
  for (int i = 0; i < 1200; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", editor);
    nt::GetMessageRequest req;
    req.set_name(sent.name());
    grpc::Status s = stub->GetMessage(&ctx, req, &state);
    ASSERT_TRUE(s.ok()) << s.error_message();
    if (state.counts().pending() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state.counts().pending(), 0) << gw->log();
  EXPECT_EQ(state.counts().delivered(), kDevices);
  EXPECT_EQ(state.counts().failed(), 0);
  EXPECT_EQ(state.counts().removed(), 0);

  const std::string stats = receiver.Stats(/*paths=*/true);
  const std::map<std::string, int64_t> by_path = CountsField(stats, "by_path");
  int missing = 0, duplicates = 0, twice = 0;
  for (int i = 0; i < kDevices; ++i) {
    auto it = by_path.find(DevicePath(i));
    const int64_t n = it == by_path.end() ? 0 : it->second;
    missing += n == 0;
    duplicates += n > 1 ? static_cast<int>(n - 1) : 0;
    twice += n == 2;
  }
  EXPECT_EQ(by_path.size(), static_cast<size_t>(kDevices)) << "pushes to paths nobody registered";
  EXPECT_EQ(missing, 0) << "devices without the message";
  // Every delivery the kill caught unanswered was sent again; nothing else may repeat.
  EXPECT_GE(duplicates, unanswered);
  // In flight at the kill: the pushes taken but not yet recorded (they repeat) and the requests
  // cut off; one per sender thread at most.
  EXPECT_LE(duplicates + cut_off, kConnections) << "more deliveries in flight than senders";

  EXPECT_EQ(twice, duplicates) << "a device got the message more than twice";
  EXPECT_EQ(Number(stats, "requests"), kDevices + duplicates);

  // Every push decrypts (http_ece) to the message sent, and its VAPID JWT verifies; each
  // process signed one JWT for the receiver's origin (the Authorization cache).
  EXPECT_EQ(Number(stats, "decrypt_failures"), 0) << stats.substr(0, 2000);
  EXPECT_EQ(Number(stats, "vapid_failures"), 0) << stats.substr(0, 2000);
  EXPECT_EQ(Number(stats, "decrypted"), kDevices + duplicates);
  const std::map<std::string, int64_t> plaintexts = CountsField(stats, "plaintexts");
  ASSERT_EQ(plaintexts.size(), 1u) << stats.substr(0, 2000);
  EXPECT_NE(plaintexts.begin()->first.find("Stromausfall in der Innenstadt"), std::string::npos)
      << plaintexts.begin()->first;
  EXPECT_NE(plaintexts.begin()->first.find(sent.name()), std::string::npos);
  EXPECT_EQ(Number(stats, "distinct_jwts"), 2) << "one VAPID signature per gateway process";
  EXPECT_EQ(Number(stats, "statuses\":{\"201"), kDevices + duplicates);

  // The restarted gateway delivered everything at the first attempt: nothing was retried (a
  // connection the receiver closed after its 1,000th stream is replaced at once, not retried
  // with backoff).
  std::string metrics;
  ASSERT_EQ(
      RunCommand({"curl", "-s", absl::StrCat("http://127.0.0.1:", gw->metrics_port(), "/metrics")},
                 &metrics),
      0);
  const std::string retried = "civitas_push_retried_total{city=\"unna\",provider=\"web_push\"} ";
  const size_t at = metrics.find(retried);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_EQ(std::atoll(metrics.c_str() + at + retried.size()), 0) << gw->log();

  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::cout << "registered " << kDevices << " devices in " << registered_s << " s; killed at "
            << received_at_kill << " received, " << unanswered << " unanswered, " << cut_off
            << " cut off; " << duplicates << " duplicates (bound " << kConnections << "); "
            << total_s << " s in all\n";
}

}  // namespace
}  // namespace civitas::testing
