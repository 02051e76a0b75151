#include "services/gateway/push/push_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "services/gateway/push/push_keys.h"

namespace civitas::gateway::push {
namespace {

class PushStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/push_store_test_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto store = CityStore::Open(env_, dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    city_ = std::move(*store);
    push_ = std::make_unique<PushStore>(city_.get());
  }
  void TearDown() override {
    push_.reset();
    ASSERT_TRUE(city_->Close().ok());
  }

  StoredDevice Device(std::vector<std::string> topics, std::string owner = "") {
    StoredDevice d;
    d.mutable_device()->set_name("devices/" + NewId());
    d.mutable_device()->set_platform(notify::Device::WEB_PUSH);
    for (const std::string& t : topics) d.mutable_device()->add_topics(t);
    d.set_owner(owner);
    return d;
  }

  std::string dir_;
  StorageEnvironment env_{StorageConfig{}};
  std::unique_ptr<CityStore> city_;
  std::unique_ptr<PushStore> push_;
};

std::string IdOf(const std::string& name) { return name.substr(name.find('/') + 1); }

TEST_F(PushStoreTest, KeysRoundTrip) {
  const std::string m = NewId(), d = NewId();
  int64_t t = 0;
  std::string m2, d2;
  ASSERT_TRUE(ParseDueKey(DueKey(1234567, m, d), &t, &m2, &d2));
  EXPECT_EQ(t, 1234567);
  EXPECT_EQ(m2, m);
  EXPECT_EQ(d2, d);
  EXPECT_LT(DueKey(255, m, d), DueKey(256, m, d));  // ordered by time
  EXPECT_FALSE(ParseDueKey("push/due/short", &t, &m2, &d2));
}

TEST_F(PushStoreTest, MessageFansOutToTheTopicsDevicesInOneCommit) {
  StoredDevice a = Device({"abfall"}), b = Device({"abfall", "bau"}), c = Device({"bau"});
  for (const StoredDevice* d : {&a, &b, &c}) ASSERT_TRUE(push_->PutNewDevice(*d).ok());
  notify::Message m;
  m.set_name("messages/" + NewId());
  m.set_topic("abfall");
  ASSERT_TRUE(push_->CreateMessage(&m, 1000).ok());
  EXPECT_EQ(m.device_count(), 2);
  int64_t next = 0;
  absl::StatusOr<std::vector<DueDelivery>> due = push_->Due(999, 10, &next);
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->empty());
  EXPECT_EQ(next, 1000);
  due = push_->Due(1000, 10, &next);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  // The workers pass over what they already handed out: the limit counts the others only.
  const std::string handed_out = (*due)[0].device_id;
  absl::StatusOr<std::vector<DueDelivery>> rest =
      push_->Due(1000, 1, &next, [&](const DueDelivery& d) {
        return d.device_id == handed_out ? PushStore::DueStep::kPassOver
                                         : PushStore::DueStep::kTake;
      });
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].device_id, (*due)[1].device_id);
  absl::StatusOr<notify::DeliveryCounts> counts = push_->CountDeliveries(IdOf(m.name()));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending(), 2);

  // One delivered, one retried later, then its device gone (410).
  Delivery done;
  done.set_state(Delivery::DELIVERED);
  ASSERT_TRUE(push_->UpdateDelivery((*due)[0], done, nullptr).ok());
  Delivery later;
  later.set_state(Delivery::PENDING);
  later.set_attempts(1);
  later.set_due_micros(5000);
  ASSERT_TRUE(push_->UpdateDelivery((*due)[1], later, nullptr).ok());
  due = push_->Due(4999, 10, &next);
  ASSERT_TRUE(due->empty());
  EXPECT_EQ(next, 5000);
  due = push_->Due(5000, 10, &next);
  ASSERT_EQ(due->size(), 1u);
  absl::StatusOr<std::optional<StoredDevice>> dev = push_->GetDevice((*due)[0].device_id);
  ASSERT_TRUE(dev.ok() && dev->has_value());
  Delivery removed;
  removed.set_state(Delivery::REMOVED);
  ASSERT_TRUE(push_->UpdateDelivery((*due)[0], removed, &**dev).ok());
  dev = push_->GetDevice((*due)[0].device_id);
  EXPECT_FALSE(dev->has_value());
  counts = push_->CountDeliveries(IdOf(m.name()));
  EXPECT_EQ(counts->pending(), 0);
  EXPECT_EQ(counts->delivered(), 1);
  EXPECT_EQ(counts->removed(), 1);
  due = push_->Due(1ll << 60, 10, &next);
  EXPECT_TRUE(due->empty());

  // The removed device no longer receives the topic.
  notify::Message m2;
  m2.set_name("messages/" + NewId());
  m2.set_topic("abfall");
  ASSERT_TRUE(push_->CreateMessage(&m2, 1).ok());
  EXPECT_EQ(m2.device_count(), 1);
}

// What a module's push_send writes into its own transaction (module_push.h).
TEST_F(PushStoreTest, ModuleMessagesGoInTheModulesTransaction) {
  StoredDevice mine = Device({"m.status", "m.all"}, "alice"), mine_quiet = Device({}, "alice");
  StoredDevice other = Device({"m.status"}, "bob"), anon = Device({"m.all", "m.bau"});
  for (const StoredDevice* d : {&mine, &mine_quiet, &other, &anon}) {
    ASSERT_TRUE(push_->PutNewDevice(*d).ok());
  }
  auto write = [&](notify::Message* m, const std::string& subject, bool commit) {
    std::unique_ptr<rocksdb::Transaction> txn(
        city_->db()->BeginTransaction(city_->write_options()));
    ASSERT_TRUE(txn->Put("the module's own change", "x").ok());
    ASSERT_TRUE(PushStore::WriteMessage(txn.get(), m, 1000, subject).ok());
    ASSERT_TRUE((commit ? txn->Commit() : txn->Rollback()).ok());
  };
  // Personal: only alice's own devices that receive the topic.
  notify::Message personal;
  personal.set_name("messages/" + NewId());
  personal.set_topic("m.status");
  write(&personal, "alice", true);
  EXPECT_EQ(personal.device_count(), 1);
  EXPECT_TRUE(personal.personal());
  absl::StatusOr<notify::DeliveryCounts> counts = push_->CountDeliveries(IdOf(personal.name()));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending(), 1);
  // Several topics: each device once (anon receives two of them).
  notify::Message wide;
  wide.set_name("messages/" + NewId());
  wide.set_topic("m.all");
  wide.add_more_topics("m.bau");
  write(&wide, "", true);
  EXPECT_EQ(wide.device_count(), 2);  // mine, anon
  // A rolled-back change takes its message and deliveries with it.
  notify::Message gone;
  gone.set_name("messages/" + NewId());
  gone.set_topic("m.all");
  write(&gone, "", false);
  absl::StatusOr<std::optional<notify::Message>> found = push_->GetMessage(IdOf(gone.name()));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  int64_t next = 0;
  absl::StatusOr<std::vector<DueDelivery>> due = push_->Due(2000, 100, &next);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->size(), 3u);  // 1 personal + 2 wide
  // Cancel: what is pending leaves the outbox, what was delivered stays delivered.
  Delivery delivered;
  delivered.set_state(Delivery::DELIVERED);
  for (const DueDelivery& d : *due) {
    if (d.message_id == IdOf(wide.name()) && d.device_id == IdOf(mine.device().name())) {
      ASSERT_TRUE(push_->UpdateDelivery(d, delivered, nullptr).ok());
    }
  }
  std::unique_ptr<rocksdb::Transaction> txn(city_->db()->BeginTransaction(city_->write_options()));
  ASSERT_TRUE(PushStore::CancelMessage(txn.get(), IdOf(wide.name())).ok());
  ASSERT_TRUE(txn->Commit().ok());
  counts = push_->CountDeliveries(IdOf(wide.name()));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->delivered(), 1);
  EXPECT_EQ(counts->cancelled(), 1);
  EXPECT_EQ(counts->pending(), 0);
  due = push_->Due(2000, 100, &next);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].message_id, IdOf(personal.name()));
}

TEST_F(PushStoreTest, DueReadsFromACursorOn) {
  std::vector<StoredDevice> devices;
  for (int i = 0; i < 5; ++i) {
    devices.push_back(Device({"abfall"}));
    ASSERT_TRUE(push_->PutNewDevice(devices.back()).ok());
  }
  notify::Message early, late;
  early.set_name("messages/" + NewId());
  early.set_topic("abfall");
  late = early;
  late.set_name("messages/" + NewId());
  ASSERT_TRUE(push_->CreateMessage(&early, 1000).ok());
  ASSERT_TRUE(push_->CreateMessage(&late, 2000).ok());
  int64_t next = 0;
  absl::StatusOr<std::vector<DueDelivery>> all = push_->Due(5000, 100, &next);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  // From the third entry on: the two before it are not read, the rest is as before.
  const DueDelivery& third = (*all)[2];
  absl::StatusOr<std::vector<DueDelivery>> from = push_->Due(
      5000, 100, &next, nullptr, DueKey(third.due_micros, third.message_id, third.device_id));
  ASSERT_TRUE(from.ok());
  ASSERT_EQ(from->size(), 8u);
  EXPECT_EQ((*from)[0].device_id, third.device_id);
  EXPECT_EQ(from->back().message_id, all->back().message_id);
  // Limits and the next due time work the same from a cursor.
  from = push_->Due(1500, 100, &next, nullptr,
                    DueKey(third.due_micros, third.message_id, third.device_id));
  EXPECT_EQ(from->size(), 3u);
  EXPECT_EQ(next, 2000);
  // A cursor past every entry finds none, and no next due time.
  from = push_->Due(5000, 100, &next, nullptr, DueKey(3000, NewId(), NewId()));
  EXPECT_TRUE(from->empty());
  EXPECT_EQ(next, 0);
}

TEST_F(PushStoreTest, ReplaceAndDeleteKeepTheTopicIndex) {
  StoredDevice a = Device({"abfall"}, "citizen-1");
  ASSERT_TRUE(push_->PutNewDevice(a).ok());
  StoredDevice b = a;
  b.mutable_device()->clear_topics();
  b.mutable_device()->add_topics("bau");
  ASSERT_TRUE(push_->ReplaceDevice(a, b).ok());
  notify::Message m;
  m.set_name("messages/" + NewId());
  m.set_topic("abfall");
  ASSERT_TRUE(push_->CreateMessage(&m, 1).ok());
  EXPECT_EQ(m.device_count(), 0);
  m.set_name("messages/" + NewId());
  m.set_topic("bau");
  ASSERT_TRUE(push_->CreateMessage(&m, 1).ok());
  EXPECT_EQ(m.device_count(), 1);
  ASSERT_TRUE(push_->DeleteDevice(b).ok());
  int keys = 0;
  ASSERT_TRUE(
      city_->ScanSystem("push/t/", [&](absl::string_view, absl::string_view) { ++keys; }).ok());
  ASSERT_TRUE(
      city_->ScanSystem("push/o/", [&](absl::string_view, absl::string_view) { ++keys; }).ok());
  ASSERT_TRUE(
      city_->ScanSystem("push/d/", [&](absl::string_view, absl::string_view) { ++keys; }).ok());
  EXPECT_EQ(keys, 0);
}

TEST_F(PushStoreTest, ForgetSenderKeepsTheMessages) {
  notify::Message mine, theirs;
  mine.set_name("messages/" + NewId());
  mine.set_sender("editor-a");
  theirs.set_name("messages/" + NewId());
  theirs.set_sender("editor-b");
  ASSERT_TRUE(push_->CreateMessage(&mine, 1).ok());
  ASSERT_TRUE(push_->CreateMessage(&theirs, 1).ok());
  absl::StatusOr<int64_t> n = push_->ForgetSender("editor-a");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ((*push_->GetMessage(IdOf(mine.name())))->sender(), "");
  EXPECT_EQ((*push_->GetMessage(IdOf(theirs.name())))->sender(), "editor-b");
}

TEST_F(PushStoreTest, VapidKeyIsCreatedOnceAndKept) {
  absl::StatusOr<std::string> a = push_->VapidKeyPem();
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::string> b = push_->VapidKeyPem();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(a->find("PRIVATE KEY"), std::string::npos);
}

}  // namespace
}  // namespace civitas::gateway::push
