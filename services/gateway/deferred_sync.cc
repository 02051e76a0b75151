#include "services/gateway/deferred_sync.h"

#include <algorithm>

namespace civitas::gateway {
namespace {

// The call's ticket scope on this thread. Set only by constructing a DeferredSync: the
// dispatcher does so around a unary call's handler (GenericCall::RunHandler in dispatcher.cc),
// tests around their commits. Read only through DeferredSync::Current(), by
// CityStore::TransactionWriteOptions when the module opens a transaction (txn_begin in
// host_api.cc); the commit's ticket then comes back here through Note().
thread_local DeferredSync* current_deferred_sync = nullptr;

}  // namespace

DeferredSync::DeferredSync() : previous_(current_deferred_sync) { current_deferred_sync = this; }
DeferredSync::~DeferredSync() { current_deferred_sync = previous_; }
DeferredSync* DeferredSync::Current() { return current_deferred_sync; }

void DeferredSync::Note(CityStore* store, uint64_t ticket) {
  store_ = store;  // a call writes to its own city only
  ticket_ = std::max(ticket_, ticket);
}

}  // namespace civitas::gateway
