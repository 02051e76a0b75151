#include "tests/integration/push_receiver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Field(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return "";
  at += k.size();
  if (json[at] == '"') {
    std::string out;
    for (size_t i = at + 1; i < json.size() && json[i] != '"'; ++i) {
      if (json[i] == '\\' && i + 1 < json.size()) ++i;
      out.push_back(json[i]);
    }
    return out;
  }
  const size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

std::map<std::string, int64_t> CountsField(const std::string& json, const std::string& key) {
  std::map<std::string, int64_t> out;
  const std::string k = "\"" + key + "\":{";
  size_t i = json.find(k);
  if (i == std::string::npos) return out;
  i += k.size();
  while (i < json.size() && json[i] == '"') {
    std::string name;
    for (++i; i < json.size() && json[i] != '"'; ++i) {
      if (json[i] == '\\' && i + 1 < json.size()) ++i;
      name.push_back(json[i]);
    }
    i += 2;  // the quote and the colon
    const size_t end = json.find_first_of(",}", i);
    out[name] = std::atoll(json.substr(i, end - i).c_str());
    i = end + (json[end] == ',' ? 1 : 0);
  }
  return out;
}

Receiver::Receiver(const std::string& dir, const std::string& script_dir, Options options)
    : dir_(dir), cert_(dir + "/cert.pem") {
  std::filesystem::create_directories(dir_);
  std::string out;
  const int rc = RunCommand(
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
       "-keyout", dir_ + "/key.pem", "-out", cert_},
      &out);
  EXPECT_EQ(rc, 0) << out;
  const std::string script = script_dir + "/receiver.js";
  EXPECT_TRUE(std::filesystem::exists(script_dir + "/node_modules/http_ece"))
      << "npm packages of tests/push are missing: run `make tools`";
  pid_ = fork();
  if (pid_ == 0) {
    const int log = open((dir_ + "/receiver.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(log, 1);
    dup2(log, 2);
    setenv("RECEIVER_DELAY_MS", std::to_string(options.delay_ms).c_str(), 1);
    setenv("RECEIVER_RECORD", options.record_all ? "all" : "counts", 1);
    setenv("RECEIVER_DECRYPT_EVERY", std::to_string(options.decrypt_every).c_str(), 1);
    execlp("node", "node", script.c_str(), cert_.c_str(), (dir_ + "/key.pem").c_str(), dir_.c_str(),
           nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200 && !std::filesystem::exists(dir_ + "/subscription.json"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string sub = ReadFile(dir_ + "/subscription.json");
  EXPECT_FALSE(sub.empty()) << "the receiver did not start: " << ReadFile(dir_ + "/receiver.log");
  port_ = std::atoi(Field(sub, "port").c_str());
  p256dh_ = Field(sub, "p256dh");
  auth_ = Field(sub, "auth");
}

Receiver::~Receiver() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
}

std::string Receiver::Endpoint(const std::string& path) const {
  return absl::StrCat("https://127.0.0.1:", port_, path);
}

civitas::notify::v1::WebPushSubscription Receiver::Subscription(const std::string& path) const {
  civitas::notify::v1::WebPushSubscription s;
  s.set_endpoint(Endpoint(path));
  s.set_p256dh(p256dh_);
  s.set_auth(auth_);
  return s;
}

std::vector<std::string> Receiver::Received() const {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(ReadFile(dir_ + "/received.jsonl"), '\n')) {
    if (!line.empty()) out.emplace_back(line);
  }
  return out;
}

std::string Receiver::Stats(bool paths) const {
  std::string out;
  const int rc = RunCommand(
      {"curl", "-sf", "--http2", "--cacert", cert_, Endpoint(paths ? "/stats?paths=1" : "/stats")},
      &out);
  return rc == 0 ? out : "";
}

std::string Receiver::log() const { return ReadFile(dir_ + "/receiver.log"); }

}  // namespace civitas::testing
