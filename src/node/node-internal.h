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
	guint64 rejected_packets;
	GHashTable *session_calls; /* SessionCall key -> SessionCall: local clients' calls to other nodes */
	GlowUser *user;            /* this node's user and device certificate (peers.c) */
	GlowBook *book;            /* the address book */
	GHashTable *peer_dials;    /* node id -> PeerDial: own devices being (re)dialed */
	gint64 book_saved_us, peers_checked_us;
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
void glow_peers_link_down(GlowNode *n, GlowLink *l);
void glow_peers_sync_received(GlowNode *n, const GlowNodeId *from, const struct Glow__PeerList *list);
void glow_peers_reply_list(GlowNode *n, GlowCall *call);
/* Dial id (one of our devices) if it is not linked; fresh: news of it, start over now. */
void glow_peers_want(GlowNode *n, const GlowNodeId *id, gboolean fresh);
/* Tells every linked device of ours what this node knows. */
void glow_peers_announce(GlowNode *n);
void glow_peers_tick(GlowNode *n);

