// Runs module handlers off the gRPC polling threads. Bounded: when `queue_limit` calls are
// already waiting or running, TrySubmit refuses and the caller answers RESOURCE_EXHAUSTED.
#ifndef CIVITAS_GATEWAY_HANDLER_POOL_H_
#define CIVITAS_GATEWAY_HANDLER_POOL_H_

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>

namespace civitas::gateway {

class HandlerPool {
 public:
  HandlerPool(uint32_t threads, uint32_t queue_limit)
      : pool_(threads), limit_(static_cast<int64_t>(threads) + queue_limit) {}
  ~HandlerPool() { Join(); }

  template <class Fn>
  bool TrySubmit(Fn&& fn) {
    if (pending_.fetch_add(1, std::memory_order_acq_rel) >= limit_) {
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    boost::asio::post(pool_, [this, fn = std::forward<Fn>(fn)]() mutable {
      fn();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    });
    return true;
  }

  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  // Waits for every submitted handler to return.
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
  const int64_t limit_;
  std::atomic<int64_t> pending_{0};
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HANDLER_POOL_H_
