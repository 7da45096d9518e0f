/* glow/call.h — answering a call (server side) and the shape of an answer
 * (client side).
 *
 * Part of libglow's public API (docs/sdk.md). A GlowCall is one incoming
 * call to a resource a program serves. The handler (or code it hands the
 * call to) completes it exactly once with a reply, an error or, for a
 * stream, items then an end. Completing a call frees it. If the caller
 * goes away first (it cancelled, its deadline passed, its node became
 * unreachable), the cancel handler runs and the call is freed right after:
 * drop every reference to it there.
 *
 * Streams have credit flow control: glow_call_stream_send() returns FALSE
 * when the caller has no room; wait for the credit handler and send again.
 * Everything runs on one GMainContext; nothing here is thread-safe.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>

#include "glow/types.h"

typedef struct GlowCall GlowCall;

/* --- client side: what a call's callback receives ------------------------------ */

typedef struct {
	uint8_t type;            /* GLOW_PKT_REPLY, _ITEM, _END or _ERROR */
	uint32_t code;           /* ERROR: GlowErrorCode */
	const char *message;     /* ERROR: human text, never NULL */
	const uint8_t *payload;  /* REPLY / ITEM: the protobuf message */
	size_t len;
	const GlowAddr *from;    /* the resource that answered */
} GlowResponse;

typedef void (*GlowResponseFn)(const GlowResponse *r, gpointer user);

typedef struct {
	guint deadline_ms; /* 0 = GLOW_RPC_DEFAULT_DEADLINE_MS; streams: until the first item */
	gboolean stream;   /* expect ITEM* END */
	guint window;      /* stream credit, items; 0 = GLOW_RPC_STREAM_WINDOW */
} GlowCallOptions;

/* --- server side ---------------------------------------------------------------- */

/* Completing a call frees it. */
void glow_call_reply(GlowCall *c, const ProtobufCMessage *msg);
void glow_call_reply_raw(GlowCall *c, const uint8_t *payload, size_t len);
void glow_call_error(GlowCall *c, GlowErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Streams: TRUE when the item was sent; FALSE when there is no credit left
 * (wait for the credit handler) or the caller is gone (the cancel handler
 * will run from the main loop). */
gboolean glow_call_stream_send(GlowCall *c, const ProtobufCMessage *item);
void glow_call_stream_end(GlowCall *c);

typedef void (*GlowCallFn)(GlowCall *c, gpointer data);
void glow_call_set_handlers(GlowCall *c, GlowCallFn on_credit, GlowCallFn on_cancel, gpointer data);
guint glow_call_credit(const GlowCall *c);
gboolean glow_call_wants_stream(const GlowCall *c);
const GlowAddr *glow_call_caller(const GlowCall *c);
const GlowAddr *glow_call_target(const GlowCall *c);
/* The hop limit the CALL arrived with (GLOW_HOP_LIMIT_DEFAULT minus it is
 * the number of links it crossed, for callers that start from the default). */
guint glow_call_hop_limit(const GlowCall *c);
