/* control.h — the node's local control socket.
 *
 * Layer: node. A Unix-domain stream socket (<state-dir>/glowd.sock, mode
 * 0600) carrying plain Firefly packets back to back: no Noise, since the
 * kernel vouches for the peer; only connections from this user (or root)
 * are kept (SO_PEERCRED). Each connection is a session with its own
 * ephemeral address on the node; the node greets it with a MESSAGE
 * glow.Control.Welcome from the node to that address (docs/firefly.md).
 *
 * Ownership: the control server owns its sessions; the node learns of them
 * through the callbacks and must forget a session in `closed`.
 */
#pragma once

#include <glib.h>

#include "wire/packet.h"

typedef struct GlowControl GlowControl;
typedef struct GlowSession GlowSession;

typedef struct {
	/* A new session; return its endpoint resource id (0 refuses it). */
	guint64 (*opened)(GlowSession *s, gpointer user);
	void (*packet)(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload, gpointer user);
	void (*closed)(GlowSession *s, gpointer user);
} GlowControlCallbacks;

GlowControl *glow_control_new(GMainContext *ctx, const char *path, const GlowControlCallbacks *cb,
                              gpointer user, GError **error);
void glow_control_free(GlowControl *c);
const char *glow_control_path(const GlowControl *c);

/* FALSE when the session's send queue is full (the packet is dropped). */
gboolean glow_session_send(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload);
/* Queues a payload-less packet (an ERROR that ends a call) even over the
 * queue bound, so a client always learns why a call ended. */
void glow_session_send_urgent(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload);
guint64 glow_session_endpoint(const GlowSession *s);
guint glow_control_sessions(const GlowControl *c);
