/* glow/client.h — libglow: talk to the local glowd, call any resource in
 * the mesh, and (glow/process.h) be a process that owns resources.
 *
 * A GlowClient is one connection to a node's control socket. Calls are
 * asynchronous (callbacks run on the GMainContext given at connect) or
 * synchronous (the *_sync functions iterate that context until the
 * answer). Errors come back as GError in domain GLOW_ERROR with a
 * GlowErrorCode, plus GLOW_ERR_DAEMON (no node running on the socket).
 * See docs/sdk.md.
 *
 * Ownership: the caller owns the GlowClient and frees it with
 * glow_client_free(), which ends every call in progress (their callbacks
 * get CANCELLED). Not thread-safe: use it from its context's thread.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

#include "glow/call.h"
#include "glow/types.h"

#define GLOW_ERROR (glow_error_quark())
GQuark glow_error_quark(void);
/* Extra code, beside GlowErrorCode values, for "cannot reach the daemon". */
#define GLOW_ERR_DAEMON 100

typedef struct GlowClient GlowClient;
typedef struct GlowIfaceRegistry GlowIfaceRegistry; /* the node's built-in interfaces (internal) */

/* The default control socket: $GLOW_SOCKET if set, else $XDG_DATA_HOME/glow/glowd.sock. */
char *glow_client_default_socket(void);
/* Connects and waits for the node's greeting (at most timeout_ms; 0 = 5 s).
 * socket_path NULL = the default. */
GlowClient *glow_client_connect(GMainContext *ctx, const char *socket_path, guint timeout_ms, GError **error);
/* Same over an already connected stream socket (the client owns fd then,
 * also on failure). Plugins are handed theirs this way. */
GlowClient *glow_client_connect_fd(GMainContext *ctx, int fd, guint timeout_ms, GError **error);
void glow_client_free(GlowClient *c);

/* The node this client is connected to, and this client's own address. */
const GlowNodeId *glow_client_node(const GlowClient *c);
const GlowAddr *glow_client_address(const GlowClient *c);
const GlowIfaceRegistry *glow_client_registry(const GlowClient *c);
GMainContext *glow_client_context(const GlowClient *c);
/* TRUE while the connection to the node is up. */
gboolean glow_client_connected(const GlowClient *c);

/* Starts a call; packet-level API (payload already protobuf-encoded). An
 * all-zero dst->node means the local node. Returns the call id, or 0 with
 * error set (fn is then never called). */
guint64 glow_client_call(GlowClient *c, const GlowAddr *dst, uint32_t interface_id, uint32_t method_id,
                         const uint8_t *payload, size_t len, const GlowCallOptions *opt, GlowResponseFn fn,
                         gpointer user, GError **error);
void glow_client_cancel(GlowClient *c, guint64 call_id);

/* Unary call to one of the node's built-in interfaces ("glow.Node"), by
 * names: *out gets the unpacked reply (free it with
 * protobuf_c_message_free_unpacked). */
gboolean glow_client_call_sync(GlowClient *c, const GlowAddr *dst, const char *interface_name,
                               const char *method, const ProtobufCMessage *in, guint deadline_ms,
                               ProtobufCMessage **out, GError **error);
/* Unary call to any interface, described by its protoc-c service
 * descriptor (your own .proto compiled with protoc-c). */
gboolean glow_client_call_service_sync(GlowClient *c, const GlowAddr *dst, const ProtobufCServiceDescriptor *svc,
                                       const char *method, const ProtobufCMessage *in, guint deadline_ms,
                                       ProtobufCMessage **out, GError **error);

/* Interface and method ids of the wire (FNV-1a 32, docs/firefly.md). */
uint32_t glow_interface_id(const char *interface_name);
uint32_t glow_method_id(const char *interface_name, const char *method_name);
/* Parses "glow://<node-id>/<resource-id>" (or "glow://<node-id>"). */
gboolean glow_addr_parse(const char *text, GlowAddr *out, GError **error);
