/*
 * civitas module ABI — the one contract between the gateway (the host) and a feature module.
 *
 * Pure C so that a module may be written in any language and built with any compiler or protobuf
 * version. Requests and responses cross the line as serialized protobuf bytes.
 *
 * Versioning
 *   - CIVITAS_ABI_MAJOR changes only when an existing entry changes meaning; the host refuses a
 *     module whose major differs.
 *   - CIVITAS_ABI_MINOR grows when entries are appended to civitas_host_api or civitas_module_def
 *     (1.1 added civitas_module_def.migrate; 1.2 added flags, migrate_down and the personal-data
 *     hooks export_personal_data / erase_personal_data; 1.3 added push notifications:
 *     civitas_host_api.push_send / push_cancel and civitas_module_def.push_topics).
 *     The host refuses a module whose minor is newer than its own. A module built for minor N may
 *     check `host->struct_size` before calling an entry added after N (see CIVITAS_HOST_HAS).
 *
 * Ownership naming (read this before using any pointer)
 *   - `*_host_ptr`  : owned by the host. The module must not free it; its lifetime is stated at
 *                     each entry.
 *   - `*_module_ptr`: owned by the module. The host never dereferences it; it only hands it back.
 *   - Byte views passed *into* a host function are borrowed for the duration of that call only;
 *     the host copies what it keeps.
 *   - Bytes the host hands *out* go through a sink callback and are valid only while the callback
 *     runs; copy them if you need them later. This keeps every allocation on one side of the line.
 *
 * Threading
 *   - civitas_module_def.init runs once per (city, module) on a loader thread, before any call.
 *   - civitas_module_def.handle runs concurrently on the host's handler pool: a module instance
 *     must be safe for concurrent calls. Handlers may block on storage; they must not block on
 *     anything else without honouring the call's deadline and cancellation.
 *   - civitas_call_host_ptr and civitas_txn_host_ptr are valid only on the thread that received
 *     or created them, until the handler returns (call) or until commit/rollback (txn).
 *   - Entries taking a civitas_city_host_ptr may be called from any thread while the module
 *     instance exists.
 */
#ifndef CIVITAS_ABI_H_
#define CIVITAS_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CIVITAS_ABI_MAJOR 1
#define CIVITAS_ABI_MINOR 3

/* The single symbol every module exports. */
#define CIVITAS_MODULE_ENTRY_SYMBOL "civitas_module_entry_v1"

#if defined(__GNUC__)
#define CIVITAS_EXPORT __attribute__((visibility("default")))
#else
#define CIVITAS_EXPORT
#endif

/* Status codes. The numbers are gRPC's, so they pass through to the client unchanged. */
typedef enum civitas_status {
  CIVITAS_OK = 0,
  CIVITAS_CANCELLED = 1,
  CIVITAS_UNKNOWN = 2,
  CIVITAS_INVALID_ARGUMENT = 3,
  CIVITAS_DEADLINE_EXCEEDED = 4,
  CIVITAS_NOT_FOUND = 5,
  CIVITAS_ALREADY_EXISTS = 6,
  CIVITAS_PERMISSION_DENIED = 7,
  CIVITAS_RESOURCE_EXHAUSTED = 8,
  CIVITAS_FAILED_PRECONDITION = 9,
  CIVITAS_ABORTED = 10,
  CIVITAS_OUT_OF_RANGE = 11,
  CIVITAS_UNIMPLEMENTED = 12,
  CIVITAS_INTERNAL = 13,
  CIVITAS_UNAVAILABLE = 14,
  CIVITAS_DATA_LOSS = 15,
  CIVITAS_UNAUTHENTICATED = 16
} civitas_status;

/* Roles a caller holds in the call's city. A method declares the one it requires:
 * ANONYMOUS admits everyone, CITIZEN any signed-in caller, EDITOR and MODERATOR their role or
 * ADMIN, ADMIN only admins. */
typedef enum civitas_role {
  CIVITAS_ROLE_ANONYMOUS = 0,
  CIVITAS_ROLE_CITIZEN = 1,
  CIVITAS_ROLE_EDITOR = 2,
  CIVITAS_ROLE_MODERATOR = 3,
  CIVITAS_ROLE_ADMIN = 4
} civitas_role;
#define CIVITAS_ROLE_BIT(role) (1u << (uint32_t)(role))

typedef enum civitas_method_kind {
  CIVITAS_METHOD_UNARY = 0,
  CIVITAS_METHOD_SERVER_STREAMING = 1
} civitas_method_kind;

typedef enum civitas_log_level {
  CIVITAS_LOG_DEBUG = 0,
  CIVITAS_LOG_INFO = 1,
  CIVITAS_LOG_WARNING = 2,
  CIVITAS_LOG_ERROR = 3
} civitas_log_level;

/* Opaque host-owned handles. */
typedef struct civitas_city_host civitas_city_host; /* one per (city, module instance) */
typedef struct civitas_call_host civitas_call_host; /* one per call */
typedef struct civitas_txn_host civitas_txn_host;   /* one per open transaction */

/* Receives bytes owned by the host; `data` is valid only until the sink returns. */
typedef void (*civitas_bytes_sink)(void* sink_module_ptr, const uint8_t* data, size_t size);

/* Receives one key/value of a scan, valid only until the visitor returns. The key is relative to
 * the module's namespace. Return 0 to continue, anything else to stop the scan. */
typedef int32_t (*civitas_scan_visitor)(void* visitor_module_ptr, const uint8_t* key,
                                        size_t key_size, const uint8_t* value, size_t value_size);

/* A bounded scan over the module's keys. Fields are borrowed for the duration of kv_scan. */
typedef struct civitas_scan_options {
  uint32_t struct_size;  /* sizeof(civitas_scan_options) as the module was built */
  const uint8_t* prefix; /* only keys starting with prefix; may be empty */
  size_t prefix_size;
  const uint8_t* start; /* first key to visit (inclusive; for reverse, the last); may be empty */
  size_t start_size;
  uint32_t limit;  /* at most this many entries, 1..CIVITAS_SCAN_MAX_LIMIT */
  int32_t reverse; /* non-zero: visit keys in descending order */
} civitas_scan_options;
#define CIVITAS_SCAN_MAX_LIMIT 10000u

/* The largest key (also a scan's prefix and start) and value the host stores; anything larger is
 * CIVITAS_INVALID_ARGUMENT, from the gateway and from the SDK's FakeHost alike. */
#define CIVITAS_MAX_KEY_SIZE (8u * 1024u)
#define CIVITAS_MAX_VALUE_SIZE (32u * 1024u * 1024u)

/* One language of a push message. Strings are UTF-8 with explicit sizes (not NUL-terminated). */
typedef struct civitas_push_text {
  const char* language_code; /* BCP 47, e.g. "de" */
  size_t language_code_size;
  const char* title; /* 1 to 120 characters */
  size_t title_size;
  const char* body; /* at most 1,000 characters */
  size_t body_size;
} civitas_push_text;

/* What push_send queues. Size-prefixed like civitas_scan_options. */
typedef struct civitas_push_message {
  uint32_t struct_size; /* sizeof(civitas_push_message) as the module was built */
  /* One of the module's push_topics ids, or several separated by commas ("all,verkehr"): a
   * device that receives several of them gets the message once. */
  const char* topic;
  size_t topic_size;
  /* Optional: only the devices this signed-in subject registered receive it (a report's status
   * change to its reporter); empty = every device of the topic. */
  const char* subject;
  size_t subject_size;
  const civitas_push_text* texts; /* 1 to 10, each language once */
  size_t text_count;
  const char* deep_link; /* optional: https or an app link, at most 1,024 bytes */
  size_t deep_link_size;
  const char* image_url; /* optional: https, at most 1,024 bytes */
  size_t image_url_size;
  int32_t urgent;                /* non-zero: delivered in quiet hours too */
  int64_t send_time_unix_micros; /* 0 or past = now; at most 400 days ahead */
} civitas_push_message;

/*
 * What the host offers a module. Size-prefixed and append-only: entries are only ever added at the
 * end, and `struct_size` tells the module which exist.
 */
typedef struct civitas_host_api {
  uint32_t struct_size; /* sizeof(civitas_host_api) as the host was built */
  uint16_t abi_major;
  uint16_t abi_minor;

  /* ---- city scope: any thread, while the instance exists ------------------------------------ */

  /* Writes one log line attributed to this city and module. `msg` is borrowed. */
  void (*log)(civitas_city_host* city_host_ptr, int32_t level, const char* msg, size_t size);
  /* Wall-clock time. */
  int64_t (*now_unix_micros)(civitas_city_host* city_host_ptr);
  /* The city's id, NUL-terminated, valid while the instance exists. */
  const char* (*city_id)(civitas_city_host* city_host_ptr);
  /* The module's configuration for this city as a JSON object (UTF-8), through the sink. */
  void (*module_config_json)(civitas_city_host* city_host_ptr, void* sink_module_ptr,
                             civitas_bytes_sink sink);
  /* Delivers `message` (a serialized response message of a streaming method) to every call of
   * this city and module that follows `topic` (see call_follow). Publish after commit. */
  int32_t (*publish)(civitas_city_host* city_host_ptr, const char* topic, size_t topic_size,
                     const uint8_t* message, size_t message_size);

  /* ---- storage: keys are private to (city, module); the host adds the scope -------------------
   * `txn` may be NULL for a read of the latest committed state, or an open transaction to read
   * its own writes. Returns CIVITAS_OK, CIVITAS_NOT_FOUND (get), CIVITAS_INVALID_ARGUMENT (a key
   * over CIVITAS_MAX_KEY_SIZE; for scans also a limit outside 1..CIVITAS_SCAN_MAX_LIMIT or a
   * truncated options struct), CIVITAS_UNAVAILABLE if the city's storage is closed (the city
   * was deleted or the gateway is stopping), or another error code. */
  int32_t (*kv_get)(civitas_city_host* city_host_ptr, civitas_txn_host* txn_host_ptr,
                    const uint8_t* key, size_t key_size, void* sink_module_ptr,
                    civitas_bytes_sink sink);
  int32_t (*kv_scan)(civitas_city_host* city_host_ptr, civitas_txn_host* txn_host_ptr,
                     const civitas_scan_options* options, void* visitor_module_ptr,
                     civitas_scan_visitor visitor);

  /* Opens a transaction. The handle belongs to the host and is released by exactly one call of
   * txn_commit or txn_rollback, on the thread that opened it. Returns NULL if storage is closed. */
  civitas_txn_host* (*txn_begin)(civitas_city_host* city_host_ptr);
  /* Reads inside the transaction; with `for_update` non-zero the key is locked until the end of
   * the transaction, so read-modify-write sequences cannot interleave. */
  int32_t (*txn_get)(civitas_txn_host* txn_host_ptr, const uint8_t* key, size_t key_size,
                     int32_t for_update, void* sink_module_ptr, civitas_bytes_sink sink);
  int32_t (*txn_put)(civitas_txn_host* txn_host_ptr, const uint8_t* key, size_t key_size,
                     const uint8_t* value, size_t value_size);
  int32_t (*txn_delete)(civitas_txn_host* txn_host_ptr, const uint8_t* key, size_t key_size);
  /* Adds `delta` to the unsigned 64-bit little-endian counter at `key` (absent counts as 0,
   * arithmetic wraps). Conflict-free: concurrent adds never abort each other. */
  int32_t (*txn_add_u64)(civitas_txn_host* txn_host_ptr, const uint8_t* key, size_t key_size,
                         int64_t delta);
  /* Commits atomically and releases the handle. CIVITAS_ABORTED means a conflict or lock timeout:
   * nothing was written and the whole read-modify-write may be retried. */
  int32_t (*txn_commit)(civitas_txn_host* txn_host_ptr);
  /* Discards every write and releases the handle. */
  void (*txn_rollback)(civitas_txn_host* txn_host_ptr);

  /* ---- call scope: only on the handler's thread, until the handler returns --------------------
   */

  /* The caller's subject (empty when anonymous), borrowed until the handler returns. */
  const char* (*call_subject)(civitas_call_host* call_host_ptr, size_t* size_out);
  /* Bit set of CIVITAS_ROLE_BIT(role) the caller holds in this city. */
  uint32_t (*call_roles)(civitas_call_host* call_host_ptr);
  /* Request metadata (lower-case key); returns CIVITAS_NOT_FOUND if absent. */
  int32_t (*call_metadata)(civitas_call_host* call_host_ptr, const char* key, size_t key_size,
                           void* sink_module_ptr, civitas_bytes_sink sink);
  /* The call's deadline, INT64_MAX if none. */
  int64_t (*call_deadline_unix_micros)(civitas_call_host* call_host_ptr);
  /* Non-zero once the client cancelled or the deadline passed; stop work and return. */
  int32_t (*call_is_cancelled)(civitas_call_host* call_host_ptr);
  /* Unary: sets the response (copied). Call once before returning CIVITAS_OK. */
  void (*call_reply)(civitas_call_host* call_host_ptr, const uint8_t* message, size_t size);
  /* Sets the message that accompanies a non-OK return code (copied, UTF-8). A message that starts
   * with a reason in brackets, "[EVENT_FULL] no seats left", names the google.rpc.ErrorInfo reason
   * the client receives (in the module's domain); the gateway strips the prefix. See
   * civitas/error_reason.h. */
  void (*call_error)(civitas_call_host* call_host_ptr, const char* message, size_t size);
  /* Streaming: sends one response message (copied). May wait while the client reads slowly;
   * returns CIVITAS_CANCELLED once the client is gone. */
  int32_t (*call_send)(civitas_call_host* call_host_ptr, const uint8_t* message, size_t size);
  /* Streaming: after the handler returns OK, keep the stream open and forward every message that
   * this city's instance publishes on `topic`, until the client cancels or its deadline passes.
   * What is published from this call on is sent after every message the handler sends itself
   * (follow first, then send a snapshot: nothing is missed, nothing older arrives after it). */
  int32_t (*call_follow)(civitas_call_host* call_host_ptr, const char* topic, size_t topic_size);

  /* ---- ABI 1.3: push notifications (docs/push.md) ---------------------------------------------
   * A module sends through the gateway's outbox: the message and one delivery per receiving
   * device are written into the module's open transaction, so they are committed with the change
   * that caused them, or not at all. The gateway's delivery workers take over after the commit. */

  /* Queues `message` (its fields borrowed for the call) in `txn_host_ptr`. Its topics must be ones
   * the module declares (civitas_module_def.push_topics), without the module-id prefix. The
   * message's name ("messages/<32 hex digits>") goes through the sink, for push_cancel.
   * Returns CIVITAS_OK; CIVITAS_INVALID_ARGUMENT with nothing queued for a message outside the
   * bounds of NotifyService.SendMessage (texts, sizes, deep link, image, send time) or a
   * truncated struct; CIVITAS_NOT_FOUND for a topic the module does not declare; or a storage
   * error. On failure a NUL-terminated reason naming the field is written into `error` (at most
   * error_size bytes; may be NULL). */
  int32_t (*push_send)(civitas_txn_host* txn_host_ptr, const civitas_push_message* message,
                       void* sink_module_ptr, civitas_bytes_sink sink, char* error,
                       size_t error_size);
  /* Withdraws the deliveries of a message this module queued that have not been made yet (an
   * event registration was cancelled before its reminder). CIVITAS_NOT_FOUND if there is no such
   * message of this module; cancelling twice is OK. */
  int32_t (*push_cancel)(civitas_txn_host* txn_host_ptr, const char* message_name,
                         size_t message_name_size);
} civitas_host_api;

/* True if the host table has entry `field` (for modules built against a newer minor). */
#define CIVITAS_HOST_HAS(host, field) \
  ((host)->struct_size >= offsetof(civitas_host_api, field) + sizeof((host)->field))

typedef struct civitas_method_def {
  const char* name;      /* method name only, e.g. "ListNotices" */
  int32_t kind;          /* civitas_method_kind */
  int32_t required_role; /* civitas_role */
} civitas_method_def;

typedef struct civitas_service_def {
  const char* full_name; /* e.g. "civitas.noticeboard.v1.NoticeboardService" */
  const civitas_method_def* methods;
  size_t method_count;
} civitas_service_def;

/*
 * What a module declares. Returned by the entry symbol; the struct and everything it points to
 * are owned by the module and must stay valid and unchanged for the life of the process.
 */
typedef struct civitas_module_def {
  uint32_t struct_size;  /* sizeof(civitas_module_def) as the module was built */
  uint16_t abi_major;    /* CIVITAS_ABI_MAJOR the module was built against */
  uint16_t abi_minor;    /* CIVITAS_ABI_MINOR the module was built against */
  uint32_t pointer_size; /* sizeof(void*) */
  const char* build_id;  /* free text: compiler, SDK version, commit */
  const char* module_id; /* stable id, e.g. "civitas.noticeboard" */
  const char* version;   /* semantic version, e.g. "1.0.0" */

  /* Serialized google.protobuf.FileDescriptorSet with the files of every service below and all
   * their imports. The gateway serves reflection and JSON from it. */
  const uint8_t* descriptor_set;
  size_t descriptor_set_size;

  const civitas_service_def* services;
  size_t service_count;

  /* Creates the instance for one city. `host` and `city_host_ptr` stay valid until destroy.
   * On failure return a non-OK code and write a NUL-terminated reason into error (at most
   * error_size bytes). */
  int32_t (*init)(const civitas_host_api* host, civitas_city_host* city_host_ptr,
                  void** instance_module_ptr_out, char* error, size_t error_size);

  /* Handles one call. `request` is borrowed until return. The return value is the call's status;
   * use host->call_reply / call_send / call_error for the payload. */
  int32_t (*handle)(void* instance_module_ptr, civitas_call_host* call_host_ptr,
                    uint32_t service_index, uint32_t method_index, const uint8_t* request,
                    size_t request_size);

  /* Releases the instance. Called at orderly shutdown or after the city was removed, once the
   * last call returned. The city's storage may already be closed: do not call kv_ or txn_ here. */
  void (*destroy)(void* instance_module_ptr);

  /* ---- ABI 1.1 ------------------------------------------------------------------------------ */

  /* Optional (NULL: nothing to migrate). Runs once per city when this version replaces another
   * one, after init and before the instance receives calls. The gateway holds the module's calls
   * in that city and waits for running ones to finish, so no write of the old version races the
   * migration; it takes a checkpoint of the city's data first, and if migrate fails the module's
   * keys are restored from it. `from_version`: the version the city ran before (borrowed,
   * NUL-terminated). On failure return a non-OK code and write a NUL-terminated reason into
   * error. */
  int32_t (*migrate)(void* instance_module_ptr, const char* from_version, char* error,
                     size_t error_size);

  /* ---- ABI 1.2 ------------------------------------------------------------------------------ */

  /* CIVITAS_MODULE_FLAG_* bits. */
  uint32_t flags;

  /* Optional (NULL: none). Runs once per city when the gateway returns the city from this version
   * to an older one (`to_version`, borrowed, NUL-terminated), while the module's calls in that city
   * are held, and before the older version starts. It must leave the module's data in a shape the
   * older version reads, keeping every record citizens wrote. With neither migrate_down nor
   * CIVITAS_MODULE_FLAG_ROLLBACK_COMPATIBLE, a rollback keeps the data only if the operator
   * explicitly restores the checkpoint taken before the upgrade (which loses later writes).
   * On failure return a non-OK code and write a NUL-terminated reason into error. */
  int32_t (*migrate_down)(void* instance_module_ptr, const char* to_version, char* error,
                          size_t error_size);

  /* Optional (NULL: the module does not support export/erasure, and the admin API says so).
   * Writes everything the module stores about `subject` (borrowed, not NUL-terminated) as one
   * JSON value (UTF-8) through `sink`; the host concatenates the bytes of every sink call. Runs on
   * a host worker thread, outside any call: use the kv_/txn_ entries, not the call_ ones. */
  int32_t (*export_personal_data)(void* instance_module_ptr, const char* subject,
                                  size_t subject_size, void* sink_host_ptr, civitas_bytes_sink sink,
                                  char* error, size_t error_size);
  /* Optional, together with export_personal_data. Removes or anonymises, in as few transactions
   * as the module can, every personal value it stores about `subject`: names, contact data,
   * free text the subject wrote, and the subject itself in keys and values. Records the city must
   * keep (a tally, a report's location) keep their non-personal part. Idempotent. */
  int32_t (*erase_personal_data)(void* instance_module_ptr, const char* subject,
                                 size_t subject_size, char* error, size_t error_size);

  /* ---- ABI 1.3 ------------------------------------------------------------------------------ */

  /* Optional (NULL: the module sends no push notifications). Writes the push topics this instance
   * offers in its city as a JSON array (UTF-8) through `sink`:
   *   [{"id": "verkehr", "titles": {"de": "Verkehr", "en": "Traffic"}}, ...]
   * An id is 1 to 48 characters of a-z, 0-9, '-' and '_'; devices and ListTopics see it as
   * "<module_id>.<id>" (e.g. "civitas.news.verkehr"). At most 64 topics. The gateway calls it from
   * any thread, also from inside push_send on the thread of the handler that called it, and keeps
   * the answer until the module's next committed write: it must not wait for locks a handler may
   * hold, and must not call kv_ or txn_ entries that write. */
  int32_t (*push_topics)(void* instance_module_ptr, void* sink_host_ptr, civitas_bytes_sink sink,
                         char* error, size_t error_size);
} civitas_module_def;

/* Data written by this version is read correctly by the version it replaced, so a rollback needs
 * no down-migration and keeps every write. */
#define CIVITAS_MODULE_FLAG_ROLLBACK_COMPATIBLE (1u << 0)

/* True if the module definition has entry `field` (for hosts reading older modules). */
#define CIVITAS_MODULE_HAS(def, field) \
  ((def)->struct_size >= offsetof(civitas_module_def, field) + sizeof((def)->field))

typedef const civitas_module_def* (*civitas_module_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CIVITAS_ABI_H_ */
