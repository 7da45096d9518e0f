/* The routing protocol in a simulator: many GlowDv instances joined by
 * virtual links with delays, in virtual time. Checks reachability after
 * convergence, loop freedom at every step while links fail and join, no
 * counting to infinity after a partition, and hostile messages. */
#include <stdlib.h>
#include <string.h>

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
};

static Link *link_by_id(Sim *s, guint64 id)
{
	guint i = GPOINTER_TO_UINT(g_hash_table_lookup(s->link_index, GSIZE_TO_POINTER(id)));
	return i ? &g_array_index(s->links, Link, i - 1) : NULL;
}

static gint event_cmp(gconstpointer a, gconstpointer b, gpointer u)
{
	const Event *x = a, *y = b;
	(void)u;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void on_send(gpointer user, guint64 neigh, const uint8_t *msg, size_t len)
{
	Node *node = user;
	Sim *s = node->sim;
	Link *l = link_by_id(s, neigh);
	Event *e;
	g_assert_nonnull(l);
	g_assert_cmpuint(len, <=, GLOW_DV_MAX_MSG);
	e = g_new0(Event, 1);
	e->from = node->index;
	e->to = l->a == node->index ? l->b : l->a;
	e->link = neigh;
	e->at = s->now + 1 + g_rand_int_range(s->rand, 0, 3); /* 1-3 ms */
	e->msg = g_memdup2(msg, len);
	e->len = len;
	e->order = s->sent++;
	g_sequence_insert_sorted(s->events, e, event_cmp, NULL);
}

static void on_route(gpointer user, const GlowNodeId *dst, guint64 neigh, guint metric)
{
	(void)user;
	(void)dst;
	(void)neigh;
	(void)metric;
}

static const GlowDvOutput out = { on_send, on_route };

static Sim *sim_new(int n, guint32 seed)
{
	Sim *s = g_new0(Sim, 1);
	GlowDvConfig cfg;
	glow_dv_config_default(&cfg);
	s->rand = g_rand_new_with_seed(seed);
	s->n = n;
	s->nodes = g_new0(Node, n);
	s->links = g_array_new(FALSE, TRUE, sizeof(Link));
	s->link_index = g_hash_table_new(NULL, NULL);
	s->next_link_id = 1;
	s->events = g_sequence_new(NULL);
	for (int i = 0; i < n; i++) {
		Node *nd = &s->nodes[i];
		nd->sim = s;
		nd->index = i;
		for (int k = 0; k < GLOW_NODE_ID_LEN; k++)
			nd->id.b[k] = (uint8_t)g_rand_int(s->rand);
		nd->dv = glow_dv_new(&nd->id, &cfg, &out, nd);
	}
	return s;
}

static void sim_free(Sim *s)
{
	for (int i = 0; i < s->n; i++)
		glow_dv_free(s->nodes[i].dv);
	for (GSequenceIter *it = g_sequence_get_begin_iter(s->events); !g_sequence_iter_is_end(it);
	     it = g_sequence_iter_next(it)) {
		Event *e = g_sequence_get(it);
		g_free(e->msg);
		g_free(e);
	}
	g_sequence_free(s->events);
	g_array_unref(s->links);
	g_hash_table_destroy(s->link_index);
	g_free(s->nodes);
	g_rand_free(s->rand);
	g_free(s);
}

static guint64 sim_link(Sim *s, int a, int b, guint cost)
{
	Link l = { .a = a, .b = b, .cost = cost, .up = TRUE, .id = s->next_link_id++ };
	g_array_append_val(s->links, l);
	g_hash_table_insert(s->link_index, GSIZE_TO_POINTER(l.id), GUINT_TO_POINTER(s->links->len));
	glow_dv_neighbour_up(s->nodes[a].dv, l.id, &s->nodes[b].id, cost, s->now);
	glow_dv_neighbour_up(s->nodes[b].dv, l.id, &s->nodes[a].id, cost, s->now);
	return l.id;
}

/* Both ends learn at once. */
static void sim_cut(Sim *s, guint64 id)
{
	Link *l = link_by_id(s, id);
	l->up = FALSE;
	glow_dv_neighbour_down(s->nodes[l->a].dv, id, s->now);
	glow_dv_neighbour_down(s->nodes[l->b].dv, id, s->now);
}

/* Follows next hops from `from` towards `to`. Returns the hop count, -1 if
 * the packet would be dropped (no route), and counts a loop if a node is
 * visited twice. */
static int sim_walk(Sim *s, int from, int to)
{
	g_autofree gboolean *seen = g_new0(gboolean, s->n);
	int at = from, hops = 0;
	while (at != to) {
		guint64 neigh;
		guint metric;
		if (seen[at]) {
			s->loops_found++;
			return -2;
		}
		seen[at] = TRUE;
		if (!glow_dv_lookup(s->nodes[at].dv, &s->nodes[to].id, &neigh, &metric))
			return -1;
		Link *l = link_by_id(s, neigh);
		if (!l || !l->up)
			return -1;
		at = l->a == at ? l->b : l->a;
		hops++;
	}
	return hops;
}

/* Runs until `until`, delivering messages and ticking nodes; every
 * `check_every` deliveries walks `probes` random pairs for loops. */
static void sim_run(Sim *s, guint64 until, guint check_every, guint probes)
{
	guint64 next_tick = s->now;
	while (s->now < until) {
		GSequenceIter *first = g_sequence_get_begin_iter(s->events);
		Event *e = g_sequence_iter_is_end(first) ? NULL : g_sequence_get(first);
		guint64 t = MIN(until, next_tick);
		if (e && e->at <= t) {
			g_sequence_remove(first);
			s->now = e->at;
			Link *l = link_by_id(s, e->link);
			if (l && l->up) {
				glow_dv_receive(s->nodes[e->to].dv, e->link, e->msg, e->len, s->now);
				s->delivered++;
				if (check_every && s->delivered % check_every == 0)
					for (guint p = 0; p < probes; p++)
						sim_walk(s, g_rand_int_range(s->rand, 0, s->n), g_rand_int_range(s->rand, 0, s->n));
			}
			g_free(e->msg);
			g_free(e);
			continue;
		}
		s->now = t;
		if (s->now >= next_tick) {
			for (int i = 0; i < s->n; i++)
				glow_dv_tick(s->nodes[i].dv, s->now);
			next_tick = s->now + 100;
		}
	}
}

/* Connected components by BFS over up links. */
static void components(Sim *s, int *comp)
{
	for (int i = 0; i < s->n; i++)
		comp[i] = -1;
	for (int i = 0; i < s->n; i++) {
		if (comp[i] >= 0)
			continue;
		GQueue q = G_QUEUE_INIT;
		comp[i] = i;
		g_queue_push_tail(&q, GINT_TO_POINTER(i));
		while (!g_queue_is_empty(&q)) {
			int x = GPOINTER_TO_INT(g_queue_pop_head(&q));
			for (guint k = 0; k < s->links->len; k++) {
				Link *l = &g_array_index(s->links, Link, k);
				int y = l->a == x ? l->b : l->b == x ? l->a : -1;
				if (l->up && y >= 0 && comp[y] < 0) {
					comp[y] = i;
					g_queue_push_tail(&q, GINT_TO_POINTER(y));
				}
			}
		}
	}
}

/* Every pair in one component reaches each other; no pair across does. */
static void check_converged(Sim *s)
{
	g_autofree int *comp = g_new(int, s->n);
	components(s, comp);
	for (int a = 0; a < s->n; a++)
		for (int b = 0; b < s->n; b++) {
			if (a == b)
				continue;
			int hops = sim_walk(s, a, b);
			if (comp[a] == comp[b])
				g_assert_cmpint(hops, >, 0);
			else
				g_assert_cmpint(hops, <, 0);
		}
	g_assert_cmpuint(s->loops_found, ==, 0);
}

static void test_line(void)
{
	Sim *s = sim_new(3, 1);
	guint64 neigh;
	guint metric;
	sim_link(s, 0, 1, 10);
	sim_link(s, 1, 2, 20);
	sim_run(s, 1000, 1, 3);
	g_assert_true(glow_dv_lookup(s->nodes[0].dv, &s->nodes[2].id, &neigh, &metric));
	g_assert_cmpuint(metric, ==, 30);
	g_assert_cmpint(sim_walk(s, 0, 2), ==, 2);
	g_assert_cmpint(sim_walk(s, 2, 0), ==, 2);
	check_converged(s);
	sim_free(s);
}

static void test_ring_failover(void)
{
	Sim *s = sim_new(5, 2);
	guint64 ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = sim_link(s, i, (i + 1) % 5, 10);
	sim_run(s, 1000, 1, 5);
	g_assert_cmpint(sim_walk(s, 0, 1), ==, 1);
	/* Cut 0-1: 0 must reach 1 the long way round, and soon. */
	sim_cut(s, ids[0]);
	guint64 t0 = s->now;
	while (sim_walk(s, 0, 1) != 4 && s->now < t0 + 5000)
		sim_run(s, s->now + 10, 1, 5);
	g_test_message("ring of 5: alternate route after %" G_GUINT64_FORMAT " ms (virtual)", s->now - t0);
	g_assert_cmpint(sim_walk(s, 0, 1), ==, 4);
	g_assert_cmpuint(s->now - t0, <, 1000);
	check_converged(s);
	sim_free(s);
}

static void test_partition_no_count_to_infinity(void)
{
	Sim *s = sim_new(6, 3);
	guint64 bridge;
	/* Two triangles joined by one bridge. */
	sim_link(s, 0, 1, 10);
	sim_link(s, 1, 2, 10);
	sim_link(s, 2, 0, 10);
	sim_link(s, 3, 4, 10);
	sim_link(s, 4, 5, 10);
	sim_link(s, 5, 3, 10);
	bridge = sim_link(s, 2, 3, 10);
	sim_run(s, 2000, 1, 6);
	check_converged(s);
	sim_cut(s, bridge);
	/* No route across may survive; count-to-infinity would keep them bouncing. */
	sim_run(s, s->now + 2000, 1, 6);
	check_converged(s);
	for (int i = 0; i < 3; i++) {
		guint64 neigh;
		guint metric;
		g_assert_false(glow_dv_lookup(s->nodes[i].dv, &s->nodes[4].id, &neigh, &metric));
	}
	/* And the partition heals when a bridge appears. */
	sim_link(s, 1, 4, 10);
	sim_run(s, s->now + 1000, 1, 6);
	check_converged(s);
	sim_free(s);
}

static void test_random_churn(void)
{
	const int n = 60;
	Sim *s = sim_new(n, g_getenv("DV_SEED") ? (guint32)atoi(g_getenv("DV_SEED")) : 4);
	/* A connected random graph: a spanning chain plus random chords. */
	for (int i = 1; i < n; i++)
		sim_link(s, i - 1, i, (guint)g_rand_int_range(s->rand, 1, 50));
	for (int k = 0; k < n; k++) {
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			sim_link(s, a, b, (guint)g_rand_int_range(s->rand, 1, 50));
	}
	sim_run(s, 3000, 7, 4);
	check_converged(s);
	/* Churn: links die and new ones appear; loops are checked all along. */
	for (int round = 0; round < 30; round++) {
		guint i = (guint)g_rand_int_range(s->rand, 0, (gint32)s->links->len);
		Link *l = &g_array_index(s->links, Link, i);
		if (l->up)
			sim_cut(s, l->id);
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			sim_link(s, a, b, (guint)g_rand_int_range(s->rand, 1, 50));
		sim_run(s, s->now + 200, 3, 4);
	}
	g_assert_cmpuint(s->loops_found, ==, 0);
	sim_run(s, s->now + 5000, 7, 4);
	check_converged(s);
	g_test_message("random churn: %" G_GUINT64_FORMAT " messages delivered, 0 loops", s->delivered);
	sim_free(s);
}

static void test_hostile_messages(void)
{
	Sim *s = sim_new(2, 5);
	guint64 id = sim_link(s, 0, 1, 10);
	GlowDv *dv = s->nodes[0].dv;
	uint8_t m[64] = { 1, 1, 36 };
	sim_run(s, 500, 0, 0);
	g_assert_false(glow_dv_receive(dv, id, m, 0, s->now));
	g_assert_false(glow_dv_receive(dv, id, (const uint8_t *)"\x02", 1, s->now)); /* version */
	g_assert_false(glow_dv_receive(dv, id, m, 3, s->now));                      /* truncated TLV */
	m[2] = 35;
	g_assert_false(glow_dv_receive(dv, id, m, 38, s->now)); /* wrong body length */
	g_assert_false(glow_dv_receive(dv, 999, m, 1, s->now)); /* unknown neighbour */
	m[1] = 77;
	m[2] = 1;
	g_assert_true(glow_dv_receive(dv, id, m, 4, s->now)); /* unknown TLV: skipped */
	m[2] = 0;
	g_assert_true(glow_dv_receive(dv, id, m, 3, s->now)); /* an empty one too (found by fuzz-dv) */
	g_assert_cmpuint(glow_dv_stats(dv)->malformed, ==, 5);
	check_converged(s);
	sim_free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dv/line", test_line);
	g_test_add_func("/dv/ring-failover", test_ring_failover);
	g_test_add_func("/dv/partition", test_partition_no_count_to_infinity);
	g_test_add_func("/dv/random-churn", test_random_churn);
	g_test_add_func("/dv/hostile", test_hostile_messages);
	return g_test_run();
}
