/* avahi.h — DNS-SD (_glow._tcp) through the system's avahi-daemon: a
 * second, unauthenticated source of peer hints beside Glow's own signed
 * UDP beacons.
 *
 * Layer: transport (knows nothing of links or node identities beyond an
 * opaque id string). A GlowAvahi publishes one service, instance name =
 * the node's human name, type _glow._tcp, the node's TCP port, TXT "v=1"
 * and "id=<node id text>", and browses and resolves _glow._tcp on every
 * interface and protocol. Every resolved service other than our own is
 * reported to found(); nothing is believed: the node authenticates a peer
 * itself when it links, so a hint may be stale, wrong or hostile.
 *
 * Runtime-optional: glow_avahi_new() succeeds without a system bus or a
 * daemon (one g_info line says so); publishing and browsing start by
 * themselves when a daemon appears, and again after it restarts.
 *
 * Callbacks run from ctx. found() may be called again for the same service
 * when its address, port or TXT change; id_txt is NULL when the service
 * carries no usable id (missing, too long, not printable ASCII, or a TXT
 * version other than 1). found() must not free the GlowAvahi.
 *
 * Bounds: at most GLOW_AVAHI_MAX_RESOLVERS services are followed at once;
 * further browse results are dropped (logged once).
 *
 * Ownership: the GlowAvahi owns its avahi client and everything under it;
 * glow_avahi_free() withdraws the publication. Single-threaded, like ctx.
 */
#pragma once

#include <glib.h>

#define GLOW_AVAHI_SERVICE_TYPE "_glow._tcp"
#define GLOW_AVAHI_MAX_RESOLVERS 64
#define GLOW_AVAHI_MAX_ID_LEN 100

typedef void (*GlowAvahiFoundFn)(const char *node_id_text, const char *address, guint16 port,
				 gint ifindex, gpointer user);
typedef struct GlowAvahi GlowAvahi;

/* name: the DNS-SD instance name (made valid UTF-8 and cut to 63 bytes;
 * "glow" if empty). node_id_text: published as id=..., and services
 * carrying the same id are not reported. Never returns NULL. */
GlowAvahi *glow_avahi_new(GMainContext *ctx, const char *name, const char *node_id_text, guint16 port,
			  GlowAvahiFoundFn fn, gpointer user);
/* Re-publishes under a new name and/or port (no-op if both unchanged). */
void glow_avahi_update(GlowAvahi *a, const char *name, guint16 port);
/* Connected to a daemon and our service established. */
gboolean glow_avahi_running(const GlowAvahi *a);
void glow_avahi_free(GlowAvahi *a);
