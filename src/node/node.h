/* node.h — a Glow node: identity, links, router, RPC and resources together.
 *
 * Layer: node. A GlowNode is everything one glowd runs, hanging off one
 * GMainContext and no global state, so tests can run several in a process.
 * It listens for links (TCP), dials, accepts local clients on the control
 * socket, routes packets (router.h) and dispatches calls to resources
 * (resource.h). Resource 0 is the node itself (glow.Node, node_service.c),
 * owned by the core process (resource 1). Services (src/services/) add
 * their own processes through glow_node_resources().
 */
#pragma once

#include <glib.h>

#include "link/identity.h"
#include "link/link.h"
#include "node/resource.h"
#include "rpc/rpc.h"

typedef struct GlowNode GlowNode;

/* Whose traffic this node forwards (docs/routing.md "Relay policy"). */
typedef enum {
	GLOW_RELAY_ANYONE = 0,  /* any node we have a link with (default) */
	GLOW_RELAY_SAME_USER,   /* only nodes of this node's user (users: a later issue; until then, nobody) */
	GLOW_RELAY_NONE,        /* nobody: no routes through this node are advertised */
} GlowRelayMode;

typedef struct {
	char *state_dir;   /* required */
	char *name;        /* human name; default: the host name */
	char **listen;     /* "host:port" (NULL-terminated); NULL = no listener */
	char **connect;    /* "host:port[/NODE-ID]" dialed at start */
	gboolean control;  /* open the control socket (default TRUE) */
	GlowLinkConfig link;
	GlowRelayMode relay;
	gboolean relay_set;   /* relay came from a flag (the config file does not override it) */
	guint64 relay_rate;   /* relayed bytes per second, 0 = no limit */
	guint busy_poll_us;   /* for the loop that runs the node (transport/loop.h); the node itself ignores it */
	gboolean discovery;   /* LAN beacons (default TRUE) */
	guint discovery_port; /* UDP port of the beacons (default GLOW_BEACON_PORT) */
	guint beacon_interval_ms;
	gboolean dnssd;       /* DNS-SD through avahi-daemon when one runs (default TRUE) */
	gboolean beacons;     /* with discovery on: LAN beacons (default TRUE; FALSE = DNS-SD only) */
	char *config_path;    /* where `glow config set` writes; default <state_dir>/glowd.conf */
} GlowNodeConfig;

void glow_node_config_init(GlowNodeConfig *cfg);
void glow_node_config_clear(GlowNodeConfig *cfg);
/* Reads <state_dir>/glowd.conf if it exists (GKeyFile); values already set
 * in cfg (from flags) win. See docs/config.md. */
gboolean glow_node_config_load(GlowNodeConfig *cfg, const char *path, GError **error);

/* Loads/creates the identity and opens listeners and the control socket. */
GlowNode *glow_node_new(GMainContext *ctx, const GlowNodeConfig *cfg, GError **error);
void glow_node_free(GlowNode *n);

typedef void (*GlowNodeShutdownFn)(GlowNode *n, gpointer data);
typedef void (*GlowNodeConfigFn)(GlowNode *n, const GlowNodeConfig *cfg, gpointer data);
/* Called after a setting changed at run time (for what the node does not
 * run itself, e.g. the loop's busy polling). */
void glow_node_set_config_handler(GlowNode *n, GlowNodeConfigFn fn, gpointer data);
/* Called (from the main loop) when a client asks the node to stop. */
void glow_node_set_shutdown_handler(GlowNode *n, GlowNodeShutdownFn fn, gpointer data);

const GlowNodeId *glow_node_id(const GlowNode *n);
/* The user this node is a device of (docs/users.md). */
const GlowNodeId *glow_node_user_id(const GlowNode *n);
/* "host:port" a linked peer's link comes from, as seen here (g_free), or NULL when not linked. */
char *glow_node_peer_address(GlowNode *n, const GlowNodeId *peer);
GMainContext *glow_node_context(const GlowNode *n);
GlowResourceTable *glow_node_resources(GlowNode *n);
GlowRpc *glow_node_rpc(GlowNode *n);
const char *glow_node_control_path(const GlowNode *n);
/* "host:port" of each listener. */
const GPtrArray *glow_node_listen_addresses(const GlowNode *n);

typedef void (*GlowConnectFn)(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error,
                              gpointer data);
const char *glow_relay_mode_name(GlowRelayMode m);
gboolean glow_relay_mode_parse(const char *text, GlowRelayMode *out);

/* Dials address and links; fn gets the established link or an error. */
void glow_node_connect(GlowNode *n, const char *address, const GlowNodeId *expect, const char *expect_prefix,
                       guint timeout_ms, GlowConnectFn fn, gpointer data);
