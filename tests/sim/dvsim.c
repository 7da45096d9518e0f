#include "dvsim.h"

#include <stdlib.h>
#include <string.h>

Link *dvsim_link_by_id(Sim *s, guint64 id)
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

static gboolean on_send(gpointer user, guint64 neigh, const uint8_t *msg, size_t len)
{
	Node *node = user;
	Sim *s = node->sim;
	Link *l = dvsim_link_by_id(s, neigh);
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
	return TRUE;
}

static void on_route(gpointer user, const GlowNodeId *dst, guint64 neigh, guint metric)
{
	Node *node = user;
	(void)dst;
	(void)neigh;
	(void)metric;
	node->sim->last_route_change = node->sim->now;
	node->sim->route_changes++;
}

static const GlowDvOutput out = { on_send, on_route };

Sim *dvsim_new(int n, guint32 seed)
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

void dvsim_free(Sim *s)
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

guint64 dvsim_link(Sim *s, int a, int b, guint cost)
{
	Link l = { .a = a, .b = b, .cost = cost, .up = TRUE, .id = s->next_link_id++ };
	g_array_append_val(s->links, l);
	g_hash_table_insert(s->link_index, GSIZE_TO_POINTER(l.id), GUINT_TO_POINTER(s->links->len));
	glow_dv_neighbour_up(s->nodes[a].dv, l.id, &s->nodes[b].id, cost, s->now);
	glow_dv_neighbour_up(s->nodes[b].dv, l.id, &s->nodes[a].id, cost, s->now);
	return l.id;
}

/* Both ends learn at once. */
void dvsim_cut(Sim *s, guint64 id)
{
	Link *l = dvsim_link_by_id(s, id);
	l->up = FALSE;
	glow_dv_neighbour_down(s->nodes[l->a].dv, id, s->now);
	glow_dv_neighbour_down(s->nodes[l->b].dv, id, s->now);
}

/* Follows next hops from `from` towards `to`. Returns the hop count, -1 if
 * the packet would be dropped (no route), and counts a loop if a node is
 * visited twice. */
int dvsim_walk(Sim *s, int from, int to)
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
		Link *l = dvsim_link_by_id(s, neigh);
		if (!l || !l->up)
			return -1;
		at = l->a == at ? l->b : l->a;
		hops++;
	}
	return hops;
}

/* Runs until `until`, delivering messages and ticking nodes; every
 * `check_every` deliveries walks `probes` random pairs for loops. */
void dvsim_run(Sim *s, guint64 until, guint check_every, guint probes)
{
	guint64 next_tick = s->now;
	while (s->now < until) {
		GSequenceIter *first = g_sequence_get_begin_iter(s->events);
		Event *e = g_sequence_iter_is_end(first) ? NULL : g_sequence_get(first);
		guint64 t = MIN(until, next_tick);
		if (e && e->at <= t) {
			g_sequence_remove(first);
			s->now = e->at;
			Link *l = dvsim_link_by_id(s, e->link);
			if (l && l->up) {
				glow_dv_receive(s->nodes[e->to].dv, e->link, e->msg, e->len, s->now);
				s->delivered++;
				if (check_every && s->delivered % check_every == 0)
					for (guint p = 0; p < probes; p++)
						dvsim_walk(s, g_rand_int_range(s->rand, 0, s->n), g_rand_int_range(s->rand, 0, s->n));
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
void dvsim_components(Sim *s, int *comp)
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


guint64 dvsim_bytes_sent(Sim *s)
{
	guint64 b = 0;
	for (int i = 0; i < s->n; i++)
		b += glow_dv_stats(s->nodes[i].dv)->bytes_sent;
	return b;
}
