/* loop.h — the event loop a node runs: GLib's main context, iterated by
 * hand, with adaptive busy polling.
 *
 * Layer: transport (the lowest; knows nothing of links). g_main_loop_run()
 * sleeps in poll() whenever nothing is ready. On a VM, waking a halted vCPU
 * costs an IPI and a VM exit, tens of µs: more than a whole Glow round trip
 * on loopback. GlowLoop runs the same prepare / query / poll / check /
 * dispatch cycle and, before it sleeps, polls without blocking for a short
 * window. The window adapts as Linux's guest haltpoll driver does: it grows
 * (to at most busy_poll_us) while wakeups come soon after the loop went to
 * sleep, and shrinks on every sleep longer than busy_poll_us, so a node
 * that is idle, or whose traffic is sparse, does not spin at all.
 *
 * Spinning never delays anything: timers due within the window end it, and
 * an fd that becomes ready ends it at once. busy_poll_us = 0 is plain
 * g_main_loop_run() behaviour.
 *
 * Ownership: the loop refs the context; single-threaded like the context.
 */
#pragma once

#include <glib.h>

#define GLOW_LOOP_BUSY_POLL_DEFAULT_US 50
#define GLOW_LOOP_BUSY_POLL_MAX_US 1000

typedef struct GlowLoop GlowLoop;

typedef struct {
	guint64 iterations;   /* main-context iterations */
	guint64 sleeps;       /* iterations that went to sleep in poll() */
	guint64 spin_hits;    /* ... that found an fd ready while spinning */
	guint64 spin_us;      /* time spent spinning, in all */
	guint window_us;      /* the current spin window */
} GlowLoopStats;

GlowLoop *glow_loop_new(GMainContext *ctx, guint busy_poll_us);
void glow_loop_free(GlowLoop *l);
/* Iterates the context until glow_loop_quit() (from a callback). */
void glow_loop_run(GlowLoop *l);
void glow_loop_quit(GlowLoop *l);
/* Takes effect at the next iteration; clamped to GLOW_LOOP_BUSY_POLL_MAX_US. */
void glow_loop_set_busy_poll(GlowLoop *l, guint busy_poll_us);
void glow_loop_get_stats(const GlowLoop *l, GlowLoopStats *out);
