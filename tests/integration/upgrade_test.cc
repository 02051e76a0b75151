// Upgrades and rollbacks never lose an acknowledged write: clients write to the notice board of a
// real gateway while civitasctl changes its version, and every answer they got stays true.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;

constexpr char kCity[] = "schwerte";

class UpgradeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("upgrade");
    Ctl({"keys", "generate", "--out", dir_ + "/dortmund"});
    std::ifstream in(dir_ + "/dortmund.pub");
    std::stringstream key;
    key << in.rdbuf();
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
admin:
  bundle_import_dir: {dir}
limits:
  # The writers below flood on purpose: write-rate limits are not what this test is about.
  write_rate: {per_subject: {per_minute: 0}, anonymous_per_peer: {per_minute: 0}}
cities:
  - id: schwerte
    trusted_publishers:
      - name: dortmund
        key: )",
                                                   absl::StripAsciiWhitespace(key.str()), "\n"));
    ASSERT_NE(gw_, nullptr);
    token_ = keys_->Mint("anna", kCity, {});
    board_ = nb::NoticeboardService::NewStub(gw_->channel());
  }

  // Runs civitasctl; fails the test unless it exits with `expect` (0 = success, 1 = any failure).
  std::string Ctl(std::vector<std::string> args, int expect = 0) {
    args.insert(args.begin(), CtlBinary());
    std::string output;
    const int rc = RunCommand(args, &output);
    EXPECT_EQ(rc != 0, expect != 0) << absl::StrJoin(args, " ") << "\n" << output;
    return output;
  }

  // Packs and signs one build of the notice board; `library` is below the fixture directory,
  // or empty for the bundled 1.0.0.
  std::string Bundle(const std::string& library) {
    const std::string path = dir_ + "/nb-" +
                             (library.empty() ? "bundled" : library.substr(0, library.find('/'))) +
                             ".civmod";
    Ctl({"module", "pack",
         library.empty() ? ModuleDir() + "/civitas.noticeboard.so" : FixtureDir() + "/" + library,
         "--publisher", "dortmund", "--license", "EUPL-1.2", "--out", path});
    Ctl({"module", "sign", path, "--key", dir_ + "/dortmund.key"});
    return path;
  }

  std::string Install(const std::string& bundle, std::vector<std::string> extra = {},
                      int expect = 0) {
    std::vector<std::string> args = {"module", "install", "--bundle",       bundle,
                                     "--city", kCity,     "--admin-socket", gw_->admin_socket()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ctl(args, expect);
  }

  std::string Rollback(std::vector<std::string> extra = {}, int expect = 0) {
    std::vector<std::string> args = {"module", "rollback",       "civitas.noticeboard", "--city",
                                     kCity,    "--admin-socket", gw_->admin_socket()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ctl(args, expect);
  }

  std::string Version() { return ListModules(*gw_, kCity)["civitas.noticeboard"].version(); }

  grpc::Status Create(const std::string& title, nb::Notice* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, kCity, token_);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title(title);
    return board_->CreateNotice(&ctx, req, out);
  }
  std::string MustCreate(const std::string& title) {
    nb::Notice n;
    grpc::Status s = Create(title, &n);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return n.name();
  }
  grpc::Status Delete(const std::string& name) {
    grpc::ClientContext ctx;
    Prepare(&ctx, kCity, token_);
    nb::DeleteNoticeRequest req;
    req.set_name(name);
    google::protobuf::Empty out;
    return board_->DeleteNotice(&ctx, req, &out);
  }
  grpc::Status Thank(const std::string& name) {
    grpc::ClientContext ctx;
    Prepare(&ctx, kCity, token_);
    nb::ThankNoticeRequest req;
    req.set_name(name);
    nb::Notice out;
    return board_->ThankNotice(&ctx, req, &out);
  }
  grpc::Status Get(const std::string& name, nb::Notice* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, kCity);
    nb::GetNoticeRequest req;
    req.set_name(name);
    return board_->GetNotice(&ctx, req, out);
  }
  std::set<std::string> Titles() {
    grpc::ClientContext ctx;
    Prepare(&ctx, kCity);
    nb::ListNoticesRequest req;
    req.set_page_size(100);
    nb::ListNoticesResponse resp;
    grpc::Status s = board_->ListNotices(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::set<std::string> titles;
    for (const nb::Notice& n : resp.notices()) titles.insert(n.title());
    return titles;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<nb::NoticeboardService::Stub> board_;
  std::string token_;
};

// Creates, deletes and thanks race an upgrade whose migration writes back stale copies of every
// notice 150 ms after reading them: every acknowledged write must be there afterwards.
TEST_F(UpgradeTest, WritesDuringAnUpgradeSurviveItsMigration) {
  Install(Bundle(""));
  ASSERT_EQ(Version(), "1.0.0");
  // Notices with untrimmed titles give the migration something to rewrite.
  constexpr int kSeeded = 1200;
  std::vector<std::string> seeded(kSeeded);
  {
    std::vector<std::thread> seeders;
    for (int t = 0; t < 4; ++t) {
      seeders.emplace_back([&, t] {
        for (int i = t; i < kSeeded; i += 4)
          seeded[i] = MustCreate(absl::StrCat("  Alt ", i, "  "));
      });
    }
    for (auto& s : seeders) s.join();
  }
  const std::string thanked = MustCreate("  Danke  ");
  const std::string next = Bundle("naive/civitas.noticeboard.so");

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, thanks{0};
  std::mutex mu;
  std::vector<std::string> created, deleted;
  std::vector<std::thread> writers;
  constexpr int kWriters = 4;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      // Each writer deletes its own share of the seeded notices, one per round.
      size_t next_delete = static_cast<size_t>(t);
      for (int k = 0; !stop.load(); ++k) {
        nb::Notice n;
        grpc::Status s = Create(absl::StrCat("  Neu ", t, "-", k, "  "), &n);
        if (s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          created.push_back(n.name());
        } else {
          ++failures;
          ADD_FAILURE() << "CreateNotice during the upgrade: " << s.error_message();
        }
        // Every other round: deletes must last past the upgrade on a fast machine too.
        if (k % 2 == 0 && next_delete < seeded.size()) {
          s = Delete(seeded[next_delete]);
          if (s.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            deleted.push_back(seeded[next_delete]);
          } else {
            ++failures;
            ADD_FAILURE() << "DeleteNotice during the upgrade: " << s.error_message();
          }
          next_delete += kWriters;
        }
        s = Thank(thanked);
        if (s.ok()) {
          ++thanks;
        } else {
          ++failures;
          ADD_FAILURE() << "ThankNotice during the upgrade: " << s.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  size_t deleted_before;
  {
    std::lock_guard<std::mutex> lock(mu);
    deleted_before = deleted.size();
  }
  Install(next);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  stop = true;
  for (auto& w : writers) w.join();

  std::cerr << "writers: " << created.size() << " created, " << deleted.size() << " deleted ("
            << deleted_before << " before the upgrade began), " << thanks.load() << " thanks\n";
  EXPECT_EQ(Version(), "1.1.0");
  EXPECT_EQ(failures.load(), 0);
  ASSERT_GT(deleted.size(), deleted_before)
      << "no delete raced the upgrade; the test proves nothing";
  ASSERT_LT(deleted.size(), seeded.size()) << "deletes ran out before the upgrade ended";
  for (const std::string& name : deleted) {
    nb::Notice n;
    EXPECT_EQ(Get(name, &n).error_code(), grpc::StatusCode::NOT_FOUND)
        << name << " was deleted (acknowledged) and came back as '" << n.title() << "'";
  }
  for (const std::string& name : created) {
    nb::Notice n;
    EXPECT_TRUE(Get(name, &n).ok()) << name << " was created (acknowledged) and is gone";
  }
  nb::Notice t;
  ASSERT_TRUE(Get(thanked, &t).ok());
  EXPECT_EQ(t.thanks_count(), thanks.load()) << "acknowledged thanks were lost";
  EXPECT_EQ(t.title(), "Danke") << "the migration ran";
}

// A version that declares its data readable by the previous one rolls back keeping every write
// made under it.
TEST_F(UpgradeTest, RollbackKeepsWritesMadeUnderTheNewVersion) {
  Install(Bundle(""));
  const std::string before = MustCreate("  Vorher  ");
  Install(Bundle("next/civitas.noticeboard.so"));
  ASSERT_EQ(Version(), "1.1.0");
  const std::string during = MustCreate("Unter 1.1");
  ASSERT_TRUE(Delete(before).ok());
  ASSERT_TRUE(Thank(during).ok());

  EXPECT_NE(Rollback({"--dry-run"}).find("data: ROLLBACK_DATA_HANDLING_KEPT"), std::string::npos);
  EXPECT_EQ(Version(), "1.1.0") << "a dry run changes nothing";
  EXPECT_NE(Rollback().find("data: ROLLBACK_DATA_HANDLING_KEPT"), std::string::npos);
  EXPECT_EQ(Version(), "1.0.0");
  nb::Notice n;
  ASSERT_TRUE(Get(during, &n).ok()) << "a notice written under 1.1 was lost by the rollback";
  EXPECT_EQ(n.thanks_count(), 1);
  EXPECT_EQ(Get(before, &n).error_code(), grpc::StatusCode::NOT_FOUND)
      << "a delete made under 1.1 was undone by the rollback";
}

// A version with a down-migration runs it while the module's calls are held, then hands over.
TEST_F(UpgradeTest, RollbackRunsTheDownMigration) {
  Install(Bundle(""));
  Install(Bundle("v12/civitas.noticeboard.so"));
  ASSERT_EQ(Version(), "1.2.0");
  MustCreate("Unter 1.2");
  EXPECT_NE(Rollback().find("data: ROLLBACK_DATA_HANDLING_DOWN_MIGRATED"), std::string::npos);
  EXPECT_EQ(Version(), "1.0.0");
  EXPECT_EQ(Titles(), (std::set<std::string>{"Unter 1.2", "Zurück auf 1.0.0"}));
}

// A version that migrated the data and offers no way back: the rollback refuses, says what a
// checkpoint restore would undo, and restores only when told to twice (flag and --yes).
TEST_F(UpgradeTest, CheckpointRestoreOnlyWhenAskedAndCounted) {
  Install(Bundle(""));
  MustCreate("  Alt  ");
  Install(Bundle("strict/civitas.noticeboard.so"));
  ASSERT_EQ(Version(), "1.1.0");
  MustCreate("Neu");

  const std::string refused = Rollback({}, 1);
  EXPECT_NE(refused.find("undoes 1 records created, 1 changed and 0 deleted since"),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.find("--restore-checkpoint"), std::string::npos) << refused;
  EXPECT_EQ(Version(), "1.1.0");
  EXPECT_EQ(Titles(), (std::set<std::string>{"Alt", "Neu"}));

  const std::string asked = Rollback({"--restore-checkpoint"}, 1);
  EXPECT_NE(asked.find("undoes the records 1 created, 1 changed and 0 deleted"), std::string::npos)
      << asked;
  EXPECT_NE(asked.find("nothing changed; add --yes"), std::string::npos) << asked;
  EXPECT_EQ(Version(), "1.1.0");

  const std::string restored = Rollback({"--restore-checkpoint", "--yes"});
  EXPECT_NE(restored.find("data: ROLLBACK_DATA_HANDLING_CHECKPOINT_RESTORED (undid the records 1 "
                          "created, 1 changed and 0 deleted since the upgrade)"),
            std::string::npos)
      << restored;
  EXPECT_EQ(Version(), "1.0.0");
  EXPECT_EQ(Titles(), (std::set<std::string>{"  Alt  "}));
}

// A forced downgrade keeps the data as it is, and the rollback after it (back up) migrates it
// again instead of restoring any checkpoint: nothing written at any point is lost.
TEST_F(UpgradeTest, ForcedDowngradeThenRollbackKeepsEveryWrite) {
  Install(Bundle(""));
  const std::string v11 = Bundle("next/civitas.noticeboard.so");
  Install(v11);
  MustCreate("Unter 1.1");
  EXPECT_NE(Install(Bundle(""), {}, 1).find("would downgrade city 'schwerte' from 1.1.0"),
            std::string::npos);
  Install(Bundle(""), {"--force"});
  ASSERT_EQ(Version(), "1.0.0");
  MustCreate("  Nach dem Downgrade  ");
  EXPECT_NE(Rollback().find("data: ROLLBACK_DATA_HANDLING_MIGRATED"), std::string::npos);
  EXPECT_EQ(Version(), "1.1.0");
  EXPECT_EQ(Titles(), (std::set<std::string>{"Unter 1.1", "Nach dem Downgrade"}));
}

}  // namespace
}  // namespace civitas::testing
