/* transport.h — byte-stream transports under links: TCP and Unix sockets.
 *
 * Layer: transport (knows nothing of links, packets or routing). A
 * transport turns an address into a connected, non-blocking fd, and
 * listens. WebSocket and WebRTC transports (later) plug in by providing a
 * GlowConnOps of their own; the link layer only ever calls the ops.
 *
 * GlowFdWatch is the one event-loop primitive every layer uses: a GSource
 * on one fd whose interest mask can change cheaply (no source churn), so a
 * link can ask for G_IO_OUT only while it has bytes queued.
 *
 * Ownership: GlowConn owns its fd; glow_conn_free() closes it.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct GlowConn GlowConn;

/* What a transport knows of its path, for liveness and route costs. */
typedef struct {
	gboolean outstanding;   /* bytes sent that the peer has not acknowledged */
	guint probes;           /* unanswered probes for bytes that could not be sent (window, no route) */
	guint last_ack_ms;      /* since the peer last acknowledged anything */
	guint rtt_us;           /* the transport's smoothed round trip (0: none yet) */
	guint rttvar_us;        /* and its variation */
	guint64 retransmits;    /* segments sent again, in all */
	guint mss;              /* segment size, to turn bytes into segments */
} GlowPathInfo;

typedef struct {
	const char *name; /* "tcp", "unix" */
	ssize_t (*read)(GlowConn *c, void *buf, size_t len);
	ssize_t (*writev)(GlowConn *c, const struct iovec *iov, int iovcnt);
	/* Optional (NULL, or FALSE: not known). TCP reads TCP_INFO. */
	gboolean (*path_info)(GlowConn *c, GlowPathInfo *out);
} GlowConnOps;

struct GlowConn {
	const GlowConnOps *ops;
	int fd;
	char *local;  /* "host:port" or socket path, for display */
	char *remote;
};

/* Wraps a connected fd (takes ownership). */
GlowConn *glow_conn_new(const GlowConnOps *ops, int fd);
void glow_conn_free(GlowConn *c);

extern const GlowConnOps glow_tcp_ops;
extern const GlowConnOps glow_unix_ops;

/* "host:port", "[v6]:port" or ":port" -> host (g_free) + port. */
gboolean glow_parse_host_port(const char *text, char **host, guint16 *port, GError **error);

/* Binds and listens on host:port (port 0 = any). Returns the fd (non-blocking,
 * CLOEXEC) or -1 with error set. bound_out receives "host:port" actually bound. */
int glow_tcp_listen(const char *host, guint16 port, char **bound_out, GError **error);
/* Accepts one connection; returns a GlowConn or NULL (EAGAIN or error: errno set). */
GlowConn *glow_tcp_accept(int listen_fd);

typedef void (*GlowDialFn)(GlowConn *conn, GError *error, gpointer user);
/* Connects to "host:port" asynchronously (name resolution included). Calls
 * fn exactly once from ctx, with a conn (ownership passed) or an error. The
 * returned cancellable cancels the attempt (fn then gets G_IO_ERROR_CANCELLED). */
GCancellable *glow_tcp_dial(GMainContext *ctx, const char *address, guint timeout_ms, GlowDialFn fn,
                            gpointer user);

/* Unix-domain listening socket at path, mode 0600; an existing stale socket
 * is replaced only if nothing answers on it. */
int glow_unix_listen(const char *path, GError **error);
GlowConn *glow_unix_accept(int listen_fd, uid_t *peer_uid);
/* Blocking connect to a Unix socket (client side), then made non-blocking. */
GlowConn *glow_unix_connect(const char *path, GError **error);

/* --- fd watch ------------------------------------------------------------ */

typedef struct GlowFdWatch GlowFdWatch;
/* cond: what happened (G_IO_IN/OUT/HUP/ERR). Return FALSE to stop watching.
 * Either way the owner releases the watch with glow_fd_watch_free(). */
typedef gboolean (*GlowFdWatchFn)(int fd, GIOCondition cond, gpointer user);

GlowFdWatch *glow_fd_watch_new(GMainContext *ctx, int fd, GIOCondition events, GlowFdWatchFn fn,
                               gpointer user);
void glow_fd_watch_set(GlowFdWatch *w, GIOCondition events);
void glow_fd_watch_free(GlowFdWatch *w);

/* A timer on ctx (ms). Returns the source; g_source_destroy + unref to stop. */
GSource *glow_timer_new(GMainContext *ctx, guint ms, GSourceFunc fn, gpointer user);
/* Monotonic time in microseconds. */
static inline gint64 glow_now_us(void) { return g_get_monotonic_time(); }
