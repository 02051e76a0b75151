// The host side of the module ABI (sdk/include/civitas/abi.h): the civitas_host_api table handed
// to every module instance. Kept apart from ModuleInstance (which runs the module's entries) as
// Envoy keeps its abi_impl.cc apart from its loader.
#ifndef CIVITAS_GATEWAY_HOST_API_H_
#define CIVITAS_GATEWAY_HOST_API_H_

#include "civitas/abi.h"

namespace civitas::gateway {

// The table handed to every module (immutable; the context travels in the handles: a
// civitas_city_host is a ModuleInstance, a civitas_call_host a HostCall).
const civitas_host_api* HostApiTable();

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_HOST_API_H_
