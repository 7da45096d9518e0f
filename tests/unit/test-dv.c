/* The routing protocol in a simulator: many GlowDv instances joined by
 * virtual links with delays, in virtual time. Checks reachability after
 * convergence, loop freedom at every step while links fail and join, no
 * counting to infinity after a partition, and hostile messages. */
#include <stdlib.h>
#include <string.h>

#include "../sim/dvsim.h"
#include "router/dv.h"

/* Every pair in one component reaches each other; no pair across does. */
static void check_converged(Sim *s)
{
	g_autofree int *comp = g_new(int, s->n);
	dvsim_components(s, comp);
	for (int a = 0; a < s->n; a++)
		for (int b = 0; b < s->n; b++) {
			if (a == b)
				continue;
			int hops = dvsim_walk(s, a, b);
			if ((comp[a] == comp[b]) != (hops > 0))
				g_test_message("%d -> %d: %d hops", a, b, hops);
			if (comp[a] == comp[b])
				g_assert_cmpint(hops, >, 0);
			else
				g_assert_cmpint(hops, <, 0);
		}
	g_assert_cmpuint(s->loops_found, ==, 0);
}

static void test_line(void)
{
	Sim *s = dvsim_new(3, 1);
	guint64 neigh;
	guint metric;
	dvsim_link(s, 0, 1, 10);
	dvsim_link(s, 1, 2, 20);
	dvsim_run(s, 1000, 1, 3);
	g_assert_true(glow_dv_lookup(s->nodes[0].dv, &s->nodes[2].id, &neigh, &metric));
	g_assert_cmpuint(metric, ==, 30);
	g_assert_cmpint(dvsim_walk(s, 0, 2), ==, 2);
	g_assert_cmpint(dvsim_walk(s, 2, 0), ==, 2);
	check_converged(s);
	dvsim_free(s);
}

static void test_ring_failover(void)
{
	Sim *s = dvsim_new(5, 2);
	guint64 ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = dvsim_link(s, i, (i + 1) % 5, 10);
	dvsim_run(s, 1000, 1, 5);
	g_assert_cmpint(dvsim_walk(s, 0, 1), ==, 1);
	/* Cut 0-1: 0 must reach 1 the long way round, and soon. */
	dvsim_cut(s, ids[0]);
	guint64 t0 = s->now;
	while (dvsim_walk(s, 0, 1) != 4 && s->now < t0 + 5000)
		dvsim_run(s, s->now + 10, 1, 5);
	g_test_message("ring of 5: alternate route after %" G_GUINT64_FORMAT " ms (virtual)", s->now - t0);
	g_assert_cmpint(dvsim_walk(s, 0, 1), ==, 4);
	g_assert_cmpuint(s->now - t0, <, 1000);
	check_converged(s);
	dvsim_free(s);
}

/* X's only alternative to O is a stale offer from N, made before N began
 * to route through X (split horizon: N then stopped advertising O to X,
 * and nothing withdrew the old offer). When X-O dies, X asks N for a newer
 * seqno, and N drops the request: it routes through X. N then turns to M
 * and says so; X must ask again at once, not after its retry timer.
 *
 *   O(0) --10-- X(1) --50, then 5-- N(2) --15-- M(3) --10-- O(0)  */
static void test_request_dropped_by_neighbour(void)
{
	Sim *s = dvsim_new(4, 5);
	guint64 xo = dvsim_link(s, 1, 0, 10);
	guint64 xn = dvsim_link(s, 1, 2, 50);
	dvsim_link(s, 2, 3, 15);
	dvsim_link(s, 3, 0, 10);
	dvsim_run(s, 1000, 1, 4);
	guint64 neigh;
	guint metric;
	g_assert_true(glow_dv_lookup(s->nodes[2].dv, &s->nodes[0].id, &neigh, &metric));
	g_assert_cmpuint(metric, ==, 25); /* N -> M -> O */
	dvsim_link_by_id(s, xn)->cost = 5;
	glow_dv_neighbour_cost(s->nodes[1].dv, xn, 5, s->now);
	glow_dv_neighbour_cost(s->nodes[2].dv, xn, 5, s->now);
	dvsim_run(s, s->now + 1000, 1, 4);
	g_assert_true(glow_dv_lookup(s->nodes[2].dv, &s->nodes[0].id, &neigh, &metric));
	g_assert_cmpuint(neigh, ==, xn); /* N now goes through X */
	dvsim_cut(s, xo);
	guint64 t0 = s->now;
	while (dvsim_walk(s, 1, 0) <= 0 && s->now < t0 + 5000)
		dvsim_run(s, s->now + 5, 1, 4);
	g_test_message("X reaches O again after %" G_GUINT64_FORMAT " ms (virtual)", s->now - t0);
	g_assert_cmpint(dvsim_walk(s, 1, 0), ==, 3);
	g_assert_cmpuint(s->now - t0, <, 200); /* the 500 ms retry would be later */
	check_converged(s);
	dvsim_free(s);
}

/* Two starving neighbours of R ask for the same newer seqno of O within
 * a few ms: R forwards one copy toward O; a retry after the window goes.
 *
 *   A(0) --\
 *           R(1) -- C(2) -- O(3)
 *   B(4) --/                     */
static void test_request_dedup(void)
{
	Sim *s = dvsim_new(5, 5);
	guint64 ar = dvsim_link(s, 0, 1, 10), br = dvsim_link(s, 4, 1, 10);
	dvsim_link(s, 1, 2, 10);
	dvsim_link(s, 2, 3, 10);
	dvsim_run(s, 1000, 1, 4);
	GlowDv *r = s->nodes[1].dv;
	guint16 seq = (guint16)(glow_dv_seqno(s->nodes[3].dv) + 1);
	uint8_t m[39] = { 1, 2, 36, (uint8_t)(seq >> 8), (uint8_t)seq, 64, 0 };
	memcpy(m + 7, s->nodes[3].id.b, 32);
	guint64 before = glow_dv_stats(r)->requests_sent;
	g_assert_true(glow_dv_receive(r, ar, m, sizeof m, s->now));
	g_assert_true(glow_dv_receive(r, br, m, sizeof m, s->now + 10));
	g_assert_cmpuint(glow_dv_stats(r)->requests_sent - before, ==, 1);
	g_assert_true(glow_dv_receive(r, ar, m, sizeof m, s->now + 600));
	g_assert_cmpuint(glow_dv_stats(r)->requests_sent - before, ==, 2);
	dvsim_run(s, s->now + 1000, 1, 4);
	check_converged(s);
	dvsim_free(s);
}

static void test_partition_no_count_to_infinity(void)
{
	Sim *s = dvsim_new(6, 3);
	guint64 bridge;
	/* Two triangles joined by one bridge. */
	dvsim_link(s, 0, 1, 10);
	dvsim_link(s, 1, 2, 10);
	dvsim_link(s, 2, 0, 10);
	dvsim_link(s, 3, 4, 10);
	dvsim_link(s, 4, 5, 10);
	dvsim_link(s, 5, 3, 10);
	bridge = dvsim_link(s, 2, 3, 10);
	dvsim_run(s, 2000, 1, 6);
	check_converged(s);
	dvsim_cut(s, bridge);
	/* No route across may survive; count-to-infinity would keep them bouncing. */
	dvsim_run(s, s->now + 2000, 1, 6);
	check_converged(s);
	for (int i = 0; i < 3; i++) {
		guint64 neigh;
		guint metric;
		g_assert_false(glow_dv_lookup(s->nodes[i].dv, &s->nodes[4].id, &neigh, &metric));
	}
	/* And the partition heals when a bridge appears. */
	dvsim_link(s, 1, 4, 10);
	dvsim_run(s, s->now + 1000, 1, 6);
	check_converged(s);
	dvsim_free(s);
}

static void test_random_churn(void)
{
	const int n = 60;
	Sim *s = dvsim_new(n, g_getenv("DV_SEED") ? (guint32)atoi(g_getenv("DV_SEED")) : 4);
	/* A connected random graph: a spanning chain plus random chords. */
	for (int i = 1; i < n; i++)
		dvsim_link(s, i - 1, i, (guint)g_rand_int_range(s->rand, 1, 50));
	for (int k = 0; k < n; k++) {
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			dvsim_link(s, a, b, (guint)g_rand_int_range(s->rand, 1, 50));
	}
	dvsim_run(s, 3000, 7, 4);
	check_converged(s);
	/* Churn: links die and new ones appear; loops are checked all along. */
	for (int round = 0; round < 30; round++) {
		guint i = (guint)g_rand_int_range(s->rand, 0, (gint32)s->links->len);
		Link *l = &g_array_index(s->links, Link, i);
		if (l->up)
			dvsim_cut(s, l->id);
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			dvsim_link(s, a, b, (guint)g_rand_int_range(s->rand, 1, 50));
		dvsim_run(s, s->now + 200, 3, 4);
	}
	g_assert_cmpuint(s->loops_found, ==, 0);
	dvsim_run(s, s->now + 5000, 7, 4);
	check_converged(s);
	g_test_message("random churn: %" G_GUINT64_FORMAT " messages delivered, 0 loops", s->delivered);
	dvsim_free(s);
}

static void test_hostile_messages(void)
{
	Sim *s = dvsim_new(2, 5);
	guint64 id = dvsim_link(s, 0, 1, 10);
	GlowDv *dv = s->nodes[0].dv;
	uint8_t m[64] = { 1, 1, 36 };
	dvsim_run(s, 500, 0, 0);
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
	dvsim_free(s);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/dv/line", test_line);
	g_test_add_func("/dv/ring-failover", test_ring_failover);
	g_test_add_func("/dv/request-dropped-by-neighbour", test_request_dropped_by_neighbour);
	g_test_add_func("/dv/request-dedup", test_request_dedup);
	g_test_add_func("/dv/partition", test_partition_no_count_to_infinity);
	g_test_add_func("/dv/random-churn", test_random_churn);
	g_test_add_func("/dv/hostile", test_hostile_messages);
	return g_test_run();
}
