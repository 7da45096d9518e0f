/* dv-sim — the routing protocol at scale, in the simulator (tests/sim/):
 * for 50, 200 and 500 nodes (random connected graphs, mean degree ~4),
 * how long the first convergence takes, how long re-convergence takes after
 * each of many random link failures and joins, whether any packet would
 * loop (walks of random pairs all along), whether every pair reaches each
 * other once quiet, and the control traffic per node per minute when idle.
 * It prints figures; it exits 1 only on a correctness failure (a loop, or a
 * pair in one component that cannot reach each other once quiet), so CI
 * runs `dv-sim --quick`. Virtual time throughout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/sim/dvsim.h"

typedef struct {
	int n;
	guint64 converge_ms;
	double reconverge_mean_ms;
	guint64 reconverge_max_ms;
	guint64 loops;
	guint64 unreachable_pairs;
	guint64 pairs_checked;
	double idle_bytes_per_node_min;
	double churn_bytes_per_node_min;
	guint64 messages;
} Result;

static void random_graph(Sim *s, int n)
{
	for (int i = 1; i < n; i++)
		dvsim_link(s, g_rand_int_range(s->rand, 0, i), i, (guint)g_rand_int_range(s->rand, 10, 100));
	for (int k = 0; k < n; k++) {
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			dvsim_link(s, a, b, (guint)g_rand_int_range(s->rand, 10, 100));
	}
}

/* Runs until no route has changed for quiet_ms; returns when the last change was. */
static guint64 run_until_quiet(Sim *s, guint64 quiet_ms, guint64 limit_ms, guint probes)
{
	guint64 start = s->now;
	s->last_route_change = s->now;
	while (s->now - s->last_route_change < quiet_ms && s->now - start < limit_ms)
		dvsim_run(s, s->now + 50, 50, probes);
	return s->last_route_change;
}

static void check_pairs(Sim *s, Result *r, int samples)
{
	int *comp = g_new(int, s->n);
	dvsim_components(s, comp);
	for (int k = 0; k < samples; k++) {
		int a = g_rand_int_range(s->rand, 0, s->n), b = g_rand_int_range(s->rand, 0, s->n);
		if (a == b || comp[a] != comp[b])
			continue;
		r->pairs_checked++;
		if (dvsim_walk(s, a, b) < 0)
			r->unreachable_pairs++;
	}
	g_free(comp);
}

static Result run(int n, guint32 seed, int churn_events)
{
	Result r = { .n = n };
	Sim *s = dvsim_new(n, seed);
	guint64 t0, b0, total = 0;

	random_graph(s, n);
	r.converge_ms = run_until_quiet(s, 2000, 120000, 4);
	check_pairs(s, &r, 20000);

	/* Idle: a quiet minute costs only the periodic updates. */
	b0 = dvsim_bytes_sent(s);
	dvsim_run(s, s->now + 60000, 200, 4);
	r.idle_bytes_per_node_min = (double)(dvsim_bytes_sent(s) - b0) / n;

	/* Churn: a link dies and another appears, then wait for quiet. */
	b0 = dvsim_bytes_sent(s);
	t0 = s->now;
	for (int e = 0; e < churn_events; e++) {
		guint i = (guint)g_rand_int_range(s->rand, 0, (gint32)s->links->len);
		Link *l = &g_array_index(s->links, Link, i);
		guint64 at = s->now;
		if (l->up)
			dvsim_cut(s, l->id);
		int a = g_rand_int_range(s->rand, 0, n), b = g_rand_int_range(s->rand, 0, n);
		if (a != b)
			dvsim_link(s, a, b, (guint)g_rand_int_range(s->rand, 10, 100));
		guint64 last = run_until_quiet(s, 1000, 60000, 8);
		guint64 took = last > at ? last - at : 0;
		total += took;
		r.reconverge_max_ms = MAX(r.reconverge_max_ms, took);
	}
	r.churn_bytes_per_node_min = (double)(dvsim_bytes_sent(s) - b0) / n / ((double)(s->now - t0) / 60000.0);
	r.reconverge_mean_ms = churn_events ? (double)total / churn_events : 0;
	check_pairs(s, &r, 20000);
	r.loops = s->loops_found;
	r.messages = s->delivered;
	dvsim_free(s);
	return r;
}

int main(int argc, char **argv)
{
	int sizes[] = { 50, 200, 500 };
	int events = 20;
	gboolean quick = FALSE;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			quick = TRUE;
		} else {
			fprintf(stderr, "usage: dv-sim [--quick]\n"
			                "  Runs the routing protocol simulator at 50, 200 and 500 nodes (--quick: 50 and 200,\n"
			                "  fewer churn events) and prints convergence, loops and control traffic.\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (quick)
		events = 5;
	printf("dv-sim: routing protocol (src/router/dv.c) in virtual time; links 1-3 ms; costs 10-99;\n"
	       "        random connected graphs, mean degree ~4; %d churn events (a link dies, one appears)\n\n",
	       events);
	printf("%6s %12s %14s %14s %7s %12s %16s %16s %10s\n", "nodes", "converge", "reconv. mean",
	       "reconv. max", "loops", "unreachable", "idle B/node/min", "churn B/node/min", "messages");
	int rc = 0;
	for (size_t k = 0; k < (quick ? 2 : G_N_ELEMENTS(sizes)); k++) {
		Result r = run(sizes[k], 1000 + (guint32)k, events);
		/* Figures are figures; a loop or a lost pair is a bug. */
		if (r.loops || r.unreachable_pairs)
			rc = 1;
		printf("%6d %10" G_GUINT64_FORMAT "ms %12.0fms %12" G_GUINT64_FORMAT "ms %7" G_GUINT64_FORMAT
		       " %5" G_GUINT64_FORMAT "/%-6" G_GUINT64_FORMAT " %16.0f %16.0f %10" G_GUINT64_FORMAT "\n",
		       r.n, r.converge_ms, r.reconverge_mean_ms, r.reconverge_max_ms, r.loops, r.unreachable_pairs,
		       r.pairs_checked, r.idle_bytes_per_node_min, r.churn_bytes_per_node_min, r.messages);
		fflush(stdout);
	}
	if (rc)
		printf("\nFAILED: a forwarding loop or an unreachable pair inside a component\n");
	return rc;
}
