/* dvsim.h — a network of GlowDv instances in one process: virtual links
 * with 1-3 ms delays, virtual time, and a walker that follows next hops to
 * find forwarding loops. Used by tests/unit/test-dv.c and bench/dv-sim.c.
 * Everything is driven by one seeded GRand, so a run is reproducible. */
#pragma once

#include <glib.h>

#include "router/dv.h"

typedef struct Sim Sim;

typedef struct {
	guint64 at;
	guint64 order; /* ties keep sending order */
	int from, to;
	guint64 link; /* the link id it travels on (dropped if the link died) */
	uint8_t *msg;
	size_t len;
} Event;

typedef struct {
	int a, b;
	guint cost;
	gboolean up;
	guint64 id;
} Link;

typedef struct {
	Sim *sim;
	int index;
	GlowNodeId id;
	GlowDv *dv;
} Node;

struct Sim {
	GRand *rand;
	guint64 now;
	int n;
	Node *nodes;
	GArray *links;   /* Link */
	GHashTable *link_index; /* link id -> index in links + 1 */
	GSequence *events; /* Event*, sorted by (time, order) */
	guint64 sent;
	guint64 next_link_id;
	guint64 delivered;
	guint64 loops_found;
	guint64 last_route_change; /* virtual time of the latest route change anywhere */
	guint64 route_changes;
};

Sim *dvsim_new(int n, guint32 seed);
void dvsim_free(Sim *s);
/* A link between a and b (both learn at once); returns its id. */
guint64 dvsim_link(Sim *s, int a, int b, guint cost);
/* The link dies; both ends learn at once, messages on it are lost. */
void dvsim_cut(Sim *s, guint64 id);
Link *dvsim_link_by_id(Sim *s, guint64 id);
/* Hops from `from` to `to` along next hops; -1 no route, -2 a loop (counted). */
int dvsim_walk(Sim *s, int from, int to);
/* Runs to virtual time `until`; every `check_every` deliveries walks
 * `probes` random pairs. */
void dvsim_run(Sim *s, guint64 until, guint check_every, guint probes);
/* comp[i] = a representative of i's connected component (up links). */
void dvsim_components(Sim *s, int *comp);
/* Bytes of routing messages sent by all nodes so far. */
guint64 dvsim_bytes_sent(Sim *s);
