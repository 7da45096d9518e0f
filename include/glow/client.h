/* glow/client.h — the C client API: talk to the local glowd and, through
 * it, call any resource in the mesh.
 *
 * A GlowClient is one connection to a node's control socket. Calls are
 * asynchronous (callbacks run on the GMainContext given at connect) or
 * synchronous (glow_client_call_sync iterates that context until the
 * answer). Errors come back as GError in domain GLOW_ERROR with a
 * GlowErrorCode, plus GLOW_ERR_DAEMON (no node running on the socket).
 *
 * Ownership: the caller owns the GlowClient and frees it with
 * glow_client_free(), which ends every call in progress (their callbacks
 * get CANCELLED). Not thread-safe: use it from its context's thread.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "wire/nodeid.h"

#define GLOW_ERROR (glow_error_quark())
GQuark glow_error_quark(void);
/* Extra code, beside GlowErrorCode values, for "cannot reach the daemon". */
#define GLOW_ERR_DAEMON 100

typedef struct GlowClient GlowClient;

/* The default control socket: $XDG_DATA_HOME/glow/glowd.sock. */
char *glow_client_default_socket(void);
/* Connects and waits for the node's greeting (at most timeout_ms). */
GlowClient *glow_client_connect(GMainContext *ctx, const char *socket_path, guint timeout_ms, GError **error);
void glow_client_free(GlowClient *c);

const GlowNodeId *glow_client_node(const GlowClient *c);
const GlowIfaceRegistry *glow_client_registry(const GlowClient *c);
/* TRUE while the connection to the node is up. */
gboolean glow_client_connected(const GlowClient *c);

/* Starts a call; packet-level API (payload already protobuf-encoded). An
 * all-zero dst->node means the local node. Returns the call id, or 0 with
 * error set (fn is then never called). */
guint64 glow_client_call(GlowClient *c, const GlowAddr *dst, uint32_t interface_id, uint32_t method_id,
                         const uint8_t *payload, size_t len, const GlowCallOptions *opt, GlowResponseFn fn,
                         gpointer user, GError **error);
void glow_client_cancel(GlowClient *c, guint64 call_id);

/* Unary call by names, with messages: *out gets the unpacked reply (free it
 * with protobuf_c_message_free_unpacked). */
gboolean glow_client_call_sync(GlowClient *c, const GlowAddr *dst, const char *interface_name,
                               const char *method, const ProtobufCMessage *in, guint deadline_ms,
                               ProtobufCMessage **out, GError **error);
