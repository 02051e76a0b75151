// Group commit's hand-over from a call to its city's store (see DeferredSync).
#ifndef CIVITAS_GATEWAY_DEFERRED_SYNC_H_
#define CIVITAS_GATEWAY_DEFERRED_SYNC_H_

#include <cstdint>

namespace civitas::gateway {

class CityStore;

// Group commit for module calls. With durability `sync`, a transaction committed while a
// DeferredSync is installed on the thread is written without an fsync of its own; the scope
// records the commit, and the caller (the dispatcher, for a unary call) sends its answer only
// once CityStore::WhenDurable reports that a sync of the city's write-ahead log covers it. One
// fsync then covers every commit that finished before it began, and handler threads never wait
// for the disk. What is acknowledged is on disk, as with a synced write; unlike a synced write, a
// committed change is visible to other readers up to one fsync before it is acknowledged.
class DeferredSync {
 public:
  DeferredSync();
  ~DeferredSync();
  DeferredSync(const DeferredSync&) = delete;
  DeferredSync& operator=(const DeferredSync&) = delete;

  // The scope installed on this thread, or nullptr: commits are then synced as they happen.
  static DeferredSync* Current();

  void Note(CityStore* store, uint64_t ticket);
  CityStore* store() const { return store_; }
  uint64_t ticket() const { return ticket_; }

 private:
  DeferredSync* previous_;
  CityStore* store_ = nullptr;
  uint64_t ticket_ = 0;
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_DEFERRED_SYNC_H_
