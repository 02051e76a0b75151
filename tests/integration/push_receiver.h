// The Web Push service of the push tests: tests/push/receiver.js (npm http_ece decrypts, Node's
// crypto verifies VAPID) started on 127.0.0.1 with a fresh certificate, and what it received.
#ifndef CIVITAS_TESTS_INTEGRATION_PUSH_RECEIVER_H_
#define CIVITAS_TESTS_INTEGRATION_PUSH_RECEIVER_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "civitas/notify/v1/notify.pb.h"

namespace civitas::testing {

std::string ReadFile(const std::string& path);

// A field of a flat JSON object, unquoted ("" if absent); enough for the receiver's records.
std::string Field(const std::string& json, const std::string& key);
// A JSON object of numbers inside `json` ({"<key>": {"a": 1, ...}}), e.g. /stats' by_path.
std::map<std::string, int64_t> CountsField(const std::string& json, const std::string& key);

class Receiver {
 public:
  struct Options {
    int delay_ms = 0;        // RECEIVER_DELAY_MS: answer this long after the body arrived
    bool record_all = true;  // false: RECEIVER_RECORD=counts (no received.jsonl, /stats only)
    int decrypt_every = 1;   // RECEIVER_DECRYPT_EVERY
  };
  // `script_dir`: the folder of receiver.js and its node_modules (tests/push).
  Receiver(const std::string& dir, const std::string& script_dir)
      : Receiver(dir, script_dir, Options()) {}
  Receiver(const std::string& dir, const std::string& script_dir, Options options);
  ~Receiver();
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  int port() const { return port_; }
  std::string Endpoint(const std::string& path) const;
  civitas::notify::v1::WebPushSubscription Subscription(const std::string& path) const;
  // The requests it received, one JSON object each (record_all only).
  std::vector<std::string> Received() const;
  // GET /stats (with by_path if `paths`), as JSON text; "" if it does not answer.
  std::string Stats(bool paths = false) const;
  std::string log() const;
  const std::string& cert_file() const { return cert_; }

 private:
  std::string dir_;
  std::string cert_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string p256dh_, auth_;
};

}  // namespace civitas::testing

#endif  // CIVITAS_TESTS_INTEGRATION_PUSH_RECEIVER_H_
