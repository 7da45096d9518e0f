/* test-loop.c — GlowLoop (src/transport/loop.c): it runs sources like
 * g_main_loop_run, spins only while wakeups are dense, and stops spinning
 * when traffic goes sparse. Counts are asserted, never times: the only
 * time bound (spin time while sparse) is a CPU-budget property with a
 * wide margin, not a speed figure. */
#include "transport/loop.h"

#include <glib-unix.h>
#include <unistd.h>

#define MAX_US 1000
#define ROUND_TRIPS 2000

typedef struct {
	GlowLoop *loop;
	int to_loop[2], from_loop[2];
	guint echoed, ticks, stop_after;
} Fixture;

static gboolean on_ping(gint fd, GIOCondition cond, gpointer data)
{
	Fixture *f = data;
	char b;
	(void)cond;
	if (read(fd, &b, 1) != 1)
		return G_SOURCE_REMOVE;
	g_assert_cmpint(write(f->from_loop[1], &b, 1), ==, 1);
	if (++f->echoed == ROUND_TRIPS)
		glow_loop_quit(f->loop);
	return G_SOURCE_CONTINUE;
}

/* The other end of a loopback call: sends, waits for the echo, repeats. */
static gpointer pinger(gpointer data)
{
	Fixture *f = data;
	for (guint i = 0; i < ROUND_TRIPS; i++) {
		char b = (char)i;
		g_assert_cmpint(write(f->to_loop[1], &b, 1), ==, 1);
		g_assert_cmpint(read(f->from_loop[0], &b, 1), ==, 1);
	}
	return NULL;
}

static gboolean on_tick(gpointer data)
{
	Fixture *f = data;
	if (++f->ticks == f->stop_after)
		glow_loop_quit(f->loop);
	return G_SOURCE_CONTINUE;
}

static void test_dense_then_sparse(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	Fixture f = { 0 };
	GlowLoopStats dense, sparse;
	GSource *s;
	GThread *t;

	g_assert_true(g_unix_open_pipe(f.to_loop, FD_CLOEXEC, NULL));
	g_assert_true(g_unix_open_pipe(f.from_loop, FD_CLOEXEC, NULL));
	f.loop = glow_loop_new(ctx, MAX_US);
	s = g_unix_fd_source_new(f.to_loop[0], G_IO_IN);
	g_source_set_callback(s, G_SOURCE_FUNC(on_ping), &f, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);

	t = g_thread_new("pinger", pinger, &f);
	glow_loop_run(f.loop);
	g_thread_join(t);
	glow_loop_get_stats(f.loop, &dense);
	g_assert_cmpuint(f.echoed, ==, ROUND_TRIPS);
	/* Round trips of tens of µs against a 1 ms maximum: the window must
	 * have opened and caught most wakeups. */
	g_test_message("dense: %" G_GUINT64_FORMAT " iterations, %" G_GUINT64_FORMAT " sleeps, %" G_GUINT64_FORMAT
	               " spin hits, window %u µs",
	               dense.iterations, dense.sleeps, dense.spin_hits, dense.window_us);
	g_assert_cmpuint(dense.spin_hits, >, ROUND_TRIPS / 4);

	/* Sparse: a tick every 20 ms, nothing else. Each sleep longer than the
	 * maximum halves the window, so it closes and spinning stops. */
	f.stop_after = 25;
	g_source_attach(s = g_timeout_source_new(20), ctx);
	g_source_set_callback(s, on_tick, &f, NULL);
	g_source_unref(s);
	glow_loop_run(f.loop);
	glow_loop_get_stats(f.loop, &sparse);
	g_test_message("sparse: spun %" G_GUINT64_FORMAT " µs, window %u µs", sparse.spin_us - dense.spin_us,
	               sparse.window_us);
	g_assert_cmpuint(sparse.window_us, ==, 0);
	/* At most the window's geometric series (2 x max) plus one max per
	 * tick for wakeups that a loaded machine makes look dense. */
	g_assert_cmpuint(sparse.spin_us - dense.spin_us, <, 2 * MAX_US + f.stop_after * MAX_US);

	glow_loop_free(f.loop);
	for (int i = 0; i < 2; i++) {
		close(f.to_loop[i]);
		close(f.from_loop[i]);
	}
}

/* busy_poll_us = 0 never spins; sources and quit still work. */
static void test_off(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	Fixture f = { .stop_after = 5 };
	GlowLoopStats st;
	GSource *s = g_timeout_source_new(1);

	f.loop = glow_loop_new(ctx, 0);
	g_source_set_callback(s, on_tick, &f, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);
	glow_loop_run(f.loop);
	glow_loop_get_stats(f.loop, &st);
	g_assert_cmpuint(f.ticks, ==, 5);
	g_assert_cmpuint(st.spin_us, ==, 0);
	g_assert_cmpuint(st.spin_hits, ==, 0);
	g_assert_cmpuint(st.window_us, ==, 0);
	glow_loop_free(f.loop);
}

/* A timer due inside the window is not delayed by spinning: it fires. */
static void test_timer_during_spin(void)
{
	g_autoptr(GMainContext) ctx = g_main_context_new();
	Fixture f = { .stop_after = 50 };
	GSource *s = g_timeout_source_new(0);

	f.loop = glow_loop_new(ctx, GLOW_LOOP_BUSY_POLL_MAX_US);
	g_source_set_callback(s, on_tick, &f, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);
	glow_loop_run(f.loop);
	g_assert_cmpuint(f.ticks, ==, 50);
	glow_loop_free(f.loop);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/loop/dense-then-sparse", test_dense_then_sparse);
	g_test_add_func("/loop/off", test_off);
	g_test_add_func("/loop/timer-during-spin", test_timer_during_spin);
	return g_test_run();
}
