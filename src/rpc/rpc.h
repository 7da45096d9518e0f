/* rpc.h — Firefly call semantics: call ids, replies, errors, deadlines,
 * cancellation, and server-to-client streams with credit flow control.
 *
 * Layer: rpc. Knows packets and addresses; knows nothing of links, routing
 * or the resource table. Packets leave through the send function given at
 * creation (the node routes them); packets for calls arrive through
 * glow_rpc_handle_*(). The same object serves both sides: a node answers
 * calls (server) and makes calls (client); the CLI's library uses only the
 * client side. See docs/firefly.md "RPC semantics".
 *
 * Rules:
 *  - A client call ends exactly once: its GlowResponseFn gets ITEMs (streams
 *    only) and then one final REPLY, END or ERROR. A call that fails to start
 *    returns 0 and never calls its callback. glow_rpc_cancel() ends a call
 *    silently (no callback), also from inside its own callback.
 *  - A server GlowCall is owned by the GlowRpc. It is freed when the handler
 *    completes it (reply/error/end) or when it is cancelled (caller's CANCEL,
 *    deadline passed, caller unreachable): the cancel handler runs first and
 *    must drop every reference to the call.
 *  - Everything runs on one GMainContext; nothing here is thread-safe.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

#include "glow/call.h"
#include "wire/packet.h"

typedef struct GlowRpc GlowRpc;

/* Sends one packet; returns GLOW_OK or the error to report (e.g. UNREACHABLE). */
typedef GlowErrorCode (*GlowRpcSendFn)(const GlowPacketHeader *h, const uint8_t *payload, gpointer user);

GlowRpc *glow_rpc_new(GMainContext *ctx, GlowRpcSendFn send, gpointer user);
/* Fails every pending client call with CANCELLED and cancels every server call. */
void glow_rpc_free(GlowRpc *rpc);

/* --- client side -------------------------------------------------------------- */

/* Starts a call from src to dst. Returns its call id, or 0 with *code and
 * *message (g_free) set, in which case fn is never called. */
guint64 glow_rpc_call(GlowRpc *rpc, const GlowAddr *src, const GlowAddr *dst, uint32_t interface_id,
                      uint32_t method_id, const uint8_t *payload, size_t len, const GlowCallOptions *opt,
                      GlowResponseFn fn, gpointer user, GlowErrorCode *code, char **message);
/* Sends a one-way MESSAGE (no answer, no error). */
GlowErrorCode glow_rpc_message(GlowRpc *rpc, const GlowAddr *src, const GlowAddr *dst, uint32_t interface_id,
                               uint32_t method_id, const uint8_t *payload, size_t len);
/* Abandons a call: sends CANCEL, never calls its callback again. */
void glow_rpc_cancel(GlowRpc *rpc, guint64 call_id);
/* A REPLY, ERROR, ITEM or END packet addressed to this rpc's calls.
 * Returns FALSE when no call matches (stale or forged: drop it). */
gboolean glow_rpc_handle_response(GlowRpc *rpc, const GlowPacketHeader *h, const uint8_t *payload);
guint glow_rpc_pending_calls(GlowRpc *rpc);

/* --- server side -------------------------------------------------------------- */

/* Registers an incoming CALL. NULL when it duplicates a call in progress or
 * the server is at its limit of calls (*code says which; answer with an error). */
GlowCall *glow_rpc_server_begin(GlowRpc *rpc, const GlowPacketHeader *h, GlowErrorCode *code);
/* Answers a CALL that never became a GlowCall (not found, bad request...). */
void glow_rpc_reject(GlowRpc *rpc, const GlowPacketHeader *call, GlowErrorCode code, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
/* CANCEL and CREDIT packets for server calls. */
void glow_rpc_handle_control(GlowRpc *rpc, const GlowPacketHeader *h);

/* A node became unreachable: client calls to it fail with code, server
 * calls from it are cancelled. node NULL means every node (the connection
 * everything went through is gone). */
void glow_rpc_node_lost(GlowRpc *rpc, const GlowNodeId *node, GlowErrorCode code, const char *message);
/* One caller address is gone (a local client disconnected): its server
 * calls are cancelled. */
void glow_rpc_caller_lost(GlowRpc *rpc, const GlowAddr *caller);

/* The GlowCall API (reply, error, streams): glow/call.h. */
GlowRpc *glow_call_rpc(const GlowCall *c);
