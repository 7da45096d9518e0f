/* node-internal.h — GlowNode's insides, shared by node.c and node_service.c only. */
#pragma once

#include "node/book.h"
#include "node/control.h"
#include "node/node.h"
#include "router/e2e.h"
#include "router/router.h"
#include "node/user.h"

struct Glow__PeerList;

typedef struct {
	guint64 packets, bytes;       /* forwarded for other nodes */
	guint64 refused_policy;       /* relay policy says no */
	guint64 refused_rate;         /* over relay_rate, with the shaping queue full */
	guint64 dropped_queue;        /* next hop's queue past the relay share */
	guint64 dropped_no_route;     /* no route, or hop limit reached */
} GlowRelayStats;

struct GlowNode {
	GMainContext *ctx;
	GlowNodeConfig cfg;
	GlowIdentity *identity;
	char *name;
	gint64 started_us;
	GlowIfaceRegistry *reg;
	GlowRouter *router;
	GlowE2e *e2e;
	GSource *tick;             /* link costs, e2e timers */
	GHashTable *link_costs;    /* link id -> cost last given to the router (GUINT_TO_POINTER) */
	GPtrArray *wanted;         /* Wanted*: configured peers, redialed while down */
	GPtrArray *wanted_removed; /* Wanted*: dropped from the config, their dial still running */
	GQueue events;             /* router events waiting for the main loop */
	GSource *events_idle;
	gboolean stopping;
	double relay_tokens;       /* relay_rate token bucket, bytes */
	gint64 relay_refill_us;
	GQueue relay_queue;        /* Queued: relayed packets waiting for tokens */
	gsize relay_queued;
	GSource *relay_timer;
	GlowRelayStats relay;
	GlowRpc *rpc;
	GlowResourceTable *resources;
	GlowProcess *core;
	GlowControl *control;
	GPtrArray *listeners;      /* Listener* */
	GPtrArray *listen_addrs;   /* char* */
	GHashTable *links;         /* link id -> GlowLink* (one ref) */
	guint64 next_link_id;
	guint pending_inbound;     /* inbound links still in handshake */
	GHashTable *sessions;      /* endpoint id -> GlowSession* */
	guint64 next_endpoint;
	GQueue local_queue;        /* packets from this node to itself, delivered from an idle */
	GSource *local_idle;
	GPtrArray *pending_connects;
	GlowNodeShutdownFn shutdown_fn;
	gpointer shutdown_data;
	GlowNodeConfigFn config_fn;
	gpointer config_data;
	guint64 rejected_packets;
	GHashTable *session_calls; /* SessionCall key -> SessionCall: local clients' calls to other nodes */
	GlowUser *user;            /* this node's user and device certificate (peers.c) */
	GlowBook *book;            /* the address book */
	GHashTable *peer_dials;    /* node id -> PeerDial: own devices being (re)dialed */
	gint64 book_saved_us, peers_checked_us;
	struct GlowDiscovery *discovery; /* NULL when off (discovery.c) */
	GHashTable *introduced;    /* node id -> gint64*: when our certificate last went to it */
	GPtrArray *invites;        /* GlowInvite*: open invites (pairing.c) */
	GPtrArray *pair_sessions;  /* pairings in progress with joiners */
	struct JoinOp *join;       /* this node joining another's user, or NULL */
	guint64 join_gen;
	gint64 pair_rate_start_us; /* Pairing.Start calls in the current second */
	guint pair_rate_count;
	GQueue refused;            /* dials refused over the link bound, answered from an idle */
	GSource *refuse_idle;
};

/* Starts the built-in core process and the glow.Node resource. */
gboolean glow_node_service_start(GlowNode *n, GError **error);
void glow_node_links_snapshot(GlowNode *n, GPtrArray *out);
/* Resolves a typed node ID or >= 8 char prefix among this node and its
 * links. Returns FALSE with a message (g_free) when unknown or ambiguous. */
gboolean glow_node_resolve(GlowNode *n, const char *text, GlowNodeId *out, char **message);

/* The established link to id, if any. */
GlowLink *glow_node_link_to(GlowNode *n, const GlowNodeId *id);

/* peers.c: the user, the address book and links to the own user's devices. */
gboolean glow_peers_start(GlowNode *n, GError **error);
void glow_peers_stop(GlowNode *n);
gboolean glow_peers_same_user(GlowNode *n, const GlowNodeId *id);
void glow_peers_link_up(GlowNode *n, GlowLink *l);
/* The reason a link closed by `glow disconnect` carries (in its CLOSE
 * record): neither side redials the other on its own then. */
#define GLOW_CLOSE_REQUESTED "disconnected by request"
void glow_peers_link_down(GlowNode *n, GlowLink *l, gboolean requested);
void glow_peers_sync_received(GlowNode *n, const GlowNodeId *from, const struct Glow__PeerList *list);
void glow_peers_reply_list(GlowNode *n, GlowCall *call);
/* Dial id (one of our devices) if it is not linked; fresh: news of it, start over now. */
void glow_peers_want(GlowNode *n, const GlowNodeId *id, gboolean fresh);
/* Disconnected on request: do not redial id until there is news of it. */
void glow_peers_hold(GlowNode *n, const GlowNodeId *id);
/* Tells every linked device of ours what this node knows. */
void glow_peers_announce(GlowNode *n);
void glow_peers_tick(GlowNode *n);

/* pairing.c: invites, joining, glow.Pairing. */
#define GLOW_INVITE_MAX_ATTEMPTS 5
typedef struct GlowInvite GlowInvite;
gboolean glow_pairing_start(GlowNode *n, GError **error);
void glow_pairing_stop(GlowNode *n);
/* The open invite the beacons announce, if any. */
GlowInvite *glow_pairing_open_invite(GlowNode *n, guint32 *id);
void glow_pairing_node_invite(GlowCall *call, const ProtobufCMessage *in, gpointer data);
void glow_pairing_node_join(GlowCall *call, const ProtobufCMessage *in, gpointer data);
void glow_pairing_node_create_user(GlowCall *call, const ProtobufCMessage *in, gpointer data);
/* After this node's user changed: tell the devices it is linked to. */
void glow_peers_relink_user(GlowNode *n);

/* discovery.c: beacons and DNS-SD. */
typedef struct GlowDiscovery GlowDiscovery;
typedef struct {
	guint64 sent, send_errors, received, accepted, rejected, replayed, dnssd_found;
	guint interfaces;
	gboolean dnssd_running;
} GlowDiscoveryStats;
gboolean glow_discovery_start(GlowNode *n, GError **error);
void glow_discovery_stop(GlowNode *n);
/* Something a beacon carries changed (name, invite): announce now. */
void glow_discovery_changed(GlowNode *n);
guint16 glow_discovery_port(GlowNode *n);
/* A node heard recently whose beacon carries an open invite with this id,
 * other than those in skip (GlowNodeId*, may be NULL). */
gboolean glow_discovery_find_invite(GlowNode *n, guint32 invite_id, GPtrArray *skip, GlowNodeId *id,
                                    GPtrArray *addrs);
void glow_discovery_get_stats(GlowNode *n, GlowDiscoveryStats *out);
/* Non-loopback addresses of this machine ("a.b.c.d", "[v6]"). */
GPtrArray *glow_local_addresses(void);

/* config.c: glow config get/set. */
void glow_config_node_get(GlowCall *call, const ProtobufCMessage *in, gpointer data);
void glow_config_node_set(GlowCall *call, const ProtobufCMessage *in, gpointer data);
/* Checks, applies live and saves one setting; *why (g_free) on failure. */
gboolean glow_config_set(GlowNode *n, const char *key, const char *value, char **why);

/* node.c: the running config. */
void glow_node_config_copy(GlowNodeConfig *dst, const GlowNodeConfig *src);
gboolean glow_node_config_check(const GlowNodeConfig *cfg, char **why);
/* Makes next (which differs from n->cfg in key) the running config. */
gboolean glow_node_apply_config(GlowNode *n, const GlowNodeConfig *next, const char *key, GError **error);

