#include "transport/loop.h"

#include <sched.h>

/* How the window moves (haltpoll's defaults, scaled to µs): start at a
 * fifth of the maximum, double on a short sleep, halve on a long one. */
#define GROW_START_DIV 5
#define FDS_INITIAL 16

struct GlowLoop {
	GMainContext *ctx;
	gboolean quit;
	guint max_us;
	guint window_us;
	GPollFD *fds;
	gint nfds_alloc;
	GlowLoopStats stats;
};

GlowLoop *glow_loop_new(GMainContext *ctx, guint busy_poll_us)
{
	GlowLoop *l = g_new0(GlowLoop, 1);
	l->ctx = g_main_context_ref(ctx);
	l->nfds_alloc = FDS_INITIAL;
	l->fds = g_new(GPollFD, l->nfds_alloc);
	glow_loop_set_busy_poll(l, busy_poll_us);
	return l;
}

void glow_loop_free(GlowLoop *l)
{
	if (!l)
		return;
	g_main_context_unref(l->ctx);
	g_free(l->fds);
	g_free(l);
}

void glow_loop_quit(GlowLoop *l)
{
	l->quit = TRUE;
	g_main_context_wakeup(l->ctx);
}

void glow_loop_set_busy_poll(GlowLoop *l, guint busy_poll_us)
{
	l->max_us = MIN(busy_poll_us, GLOW_LOOP_BUSY_POLL_MAX_US);
	l->window_us = MIN(l->window_us, l->max_us);
}

void glow_loop_get_stats(const GlowLoop *l, GlowLoopStats *out)
{
	*out = l->stats;
	out->window_us = l->window_us;
}

/* Polls without blocking for up to limit_us; TRUE if an fd became ready. */
static gboolean spin(GlowLoop *l, gint nfds, gint64 limit_us)
{
	gint64 start = g_get_monotonic_time(), now = start;
	gboolean hit = FALSE;

	while (now - start < limit_us) {
		if (g_poll(l->fds, (guint)nfds, 0) > 0) {
			hit = TRUE;
			break;
		}
		/* A peer process on this CPU (the other end of a loopback call,
		 * say) may be what we wait for: let it run. */
		sched_yield();
		now = g_get_monotonic_time();
	}
	l->stats.spin_us += (guint64)(g_get_monotonic_time() - start);
	return hit;
}

/* haltpoll's rule: a sleep that ended within the maximum means spinning a
 * little longer would have caught it; a longer one means traffic is sparse
 * and spinning is waste. */
static void adapt(GlowLoop *l, gint64 idle_us)
{
	if (idle_us > l->max_us) {
		l->window_us /= 2;
	} else if (idle_us > l->window_us) {
		guint grown = l->window_us ? l->window_us * 2 : MAX(l->max_us / GROW_START_DIV, 1u);
		l->window_us = MIN(grown, l->max_us);
	}
}

static void iterate(GlowLoop *l)
{
	gint prio, timeout, nfds;

	g_main_context_prepare(l->ctx, &prio);
	while ((nfds = g_main_context_query(l->ctx, prio, &timeout, l->fds, l->nfds_alloc)) > l->nfds_alloc) {
		l->nfds_alloc = nfds;
		l->fds = g_renew(GPollFD, l->fds, l->nfds_alloc);
	}
	l->stats.iterations++;
	if (timeout != 0) {
		gint64 start = g_get_monotonic_time();
		gint64 limit = timeout < 0 ? l->window_us : MIN((gint64)l->window_us, (gint64)timeout * 1000);
		if (limit > 0 && spin(l, nfds, limit)) {
			l->stats.spin_hits++;
		} else {
			gint rest = timeout;
			if (timeout > 0)
				rest = (gint)MAX(0, timeout - (g_get_monotonic_time() - start) / 1000);
			l->stats.sleeps++;
			g_poll(l->fds, (guint)nfds, rest);
			adapt(l, g_get_monotonic_time() - start);
		}
	}
	g_main_context_check(l->ctx, prio, l->fds, nfds);
	g_main_context_dispatch(l->ctx);
}

void glow_loop_run(GlowLoop *l)
{
	if (!g_main_context_acquire(l->ctx)) {
		g_critical("glow_loop_run: the main context is owned by another thread");
		return;
	}
	l->quit = FALSE;
	while (!l->quit)
		iterate(l);
	g_main_context_release(l->ctx);
}
