#include "transport/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- connections ---------------------------------------------------------- */

static ssize_t fd_read(GlowConn *c, void *buf, size_t len)
{
	return read(c->fd, buf, len);
}

/* sendmsg + MSG_NOSIGNAL: a peer that hung up must not SIGPIPE the node. */
static ssize_t fd_writev(GlowConn *c, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	return sendmsg(c->fd, &m, MSG_NOSIGNAL);
}

/* The kernel knows whether the peer acknowledges what we sent, however
 * slow the path and however much is queued: the best liveness signal a
 * TCP link has. Bytes the kernel could not send at all (the peer's window
 * is closed, or the route is gone) are not "outstanding"; for them the
 * kernel sends probes, and a live peer answers every probe, so unanswered
 * probes pile up only on a dead path. */
static gboolean tcp_path_info(GlowConn *c, GlowPathInfo *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < offsetof(struct tcp_info, tcpi_total_retrans))
		return FALSE;
	out->outstanding = ti.tcpi_unacked > 0;
	out->probes = ti.tcpi_probes;
	out->last_ack_ms = ti.tcpi_last_ack_recv;
	out->rtt_us = ti.tcpi_rtt;
	out->rttvar_us = ti.tcpi_rttvar;
	out->retransmits = ti.tcpi_total_retrans;
	out->mss = ti.tcpi_snd_mss;
	return TRUE;
}

const GlowConnOps glow_tcp_ops = { "tcp", fd_read, fd_writev, tcp_path_info };
const GlowConnOps glow_unix_ops = { "unix", fd_read, fd_writev, NULL };

static char *sockaddr_text(const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		return g_strdup_printf("%s:%u", host, ntohs(in->sin_port));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		return g_strdup_printf("[%s]:%u", host, ntohs(in6->sin6_port));
	}
	if (sa->sa_family == AF_UNIX)
		return g_strdup(((const struct sockaddr_un *)sa)->sun_path);
	return g_strdup("?");
}

static void fill_names(GlowConn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
		c->local = sockaddr_text((struct sockaddr *)&ss);
	len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0)
		c->remote = sockaddr_text((struct sockaddr *)&ss);
	if (!c->local)
		c->local = g_strdup("?");
	if (!c->remote)
		c->remote = g_strdup("?");
}

static void set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	fl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

GlowConn *glow_conn_new(const GlowConnOps *ops, int fd)
{
	GlowConn *c = g_new0(GlowConn, 1);
	c->ops = ops;
	c->fd = fd;
	set_nonblock_cloexec(fd);
	if (ops == &glow_tcp_ops) {
		int one = 1;
		/* Links batch their own writes; Nagle would only add latency. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	fill_names(c);
	return c;
}

void glow_conn_free(GlowConn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	g_free(c->local);
	g_free(c->remote);
	g_free(c);
}

/* --- addresses ------------------------------------------------------------ */

gboolean glow_parse_host_port(const char *text, char **host, guint16 *port, GError **error)
{
	const char *colon;
	g_autofree char *h = NULL;

	if (!text || !*text)
		goto bad;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':')
			goto bad;
		h = g_strndup(text + 1, (gsize)(end - text - 1));
		colon = end + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			goto bad;
		h = g_strndup(text, (gsize)(colon - text));
		if (strchr(h, ':'))
			goto bad; /* a bare IPv6 address needs brackets */
	}
	{
		char *endp = NULL;
		guint64 p;
		if (!colon[1] || !g_ascii_isdigit(colon[1]))
			goto bad;
		p = g_ascii_strtoull(colon + 1, &endp, 10);
		if (*endp || p > 65535)
			goto bad;
		*port = (guint16)p;
	}
	*host = g_strdup(*h ? h : "0.0.0.0");
	return TRUE;
bad:
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
	            "bad address \"%s\": expected HOST:PORT, e.g. 127.0.0.1:7177 or [::1]:7177",
	            text ? text : "");
	return FALSE;
}

/* --- TCP -------------------------------------------------------------------- */

int glow_tcp_listen(const char *host, guint16 port, char **bound_out, GError **error)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1;

	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		sslen = sizeof *in;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		sslen = sizeof *in6;
	} else if (!strcmp(host, "localhost")) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof *in;
	} else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "cannot listen on \"%s\": give a numeric IP address", host);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 128) < 0)
		goto fail;
	if (bound_out) {
		sslen = sizeof ss;
		getsockname(fd, (struct sockaddr *)&ss, &sslen);
		*bound_out = sockaddr_text((struct sockaddr *)&ss);
	}
	return fd;
fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot listen on %s:%u: %s", host,
	            port, g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

GlowConn *glow_tcp_accept(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	return glow_conn_new(&glow_tcp_ops, fd);
}

typedef struct {
	GlowDialFn fn;
	gpointer user;
	GCancellable *cancel;
	GMainContext *ctx;
} Dial;

static void dial_done(GObject *src, GAsyncResult *res, gpointer data)
{
	Dial *d = data;
	GError *err = NULL;
	GSocketConnection *sc = g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(src), res, &err);
	GlowConn *conn = NULL;

	if (sc) {
		/* Links drive raw fds; dup() keeps the socket once GIO lets go. */
		int fd = dup(g_socket_get_fd(g_socket_connection_get_socket(sc)));
		if (fd >= 0)
			conn = glow_conn_new(&glow_tcp_ops, fd);
		else
			g_set_error(&err, G_IO_ERROR, g_io_error_from_errno(errno), "dup: %s",
			            g_strerror(errno));
		g_object_unref(sc);
	}
	d->fn(conn, err, d->user);
	g_clear_error(&err);
	g_object_unref(d->cancel);
	g_free(d);
}

GCancellable *glow_tcp_dial(GMainContext *ctx, const char *address, guint timeout_ms, GlowDialFn fn,
                            gpointer user)
{
	Dial *d = g_new0(Dial, 1);
	g_autoptr(GSocketClient) client = g_socket_client_new();

	d->fn = fn;
	d->user = user;
	d->cancel = g_cancellable_new();
	d->ctx = ctx;
	g_socket_client_set_timeout(client, (timeout_ms + 999) / 1000);
	g_main_context_push_thread_default(ctx);
	g_socket_client_connect_to_host_async(client, address, 0, d->cancel, dial_done, d);
	g_main_context_pop_thread_default(ctx);
	return d->cancel;
}

/* --- Unix sockets ----------------------------------------------------------- */

static gboolean fill_sun(struct sockaddr_un *sun, const char *path, GError **error)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun->sun_path) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
		            "socket path too long (%zu bytes, limit %zu): %s", strlen(path),
		            sizeof sun->sun_path - 1, path);
		return FALSE;
	}
	strcpy(sun->sun_path, path);
	return TRUE;
}

int glow_unix_listen(const char *path, GError **error)
{
	struct sockaddr_un sun;
	int fd;
	mode_t old;

	if (!fill_sun(&sun, path, error))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(fd);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
		            "another glowd is already running on %s", path);
		return -1;
	}
	unlink(path); /* stale socket from a node that died */
	/* The umask makes the socket 0600 from birth: no window where others could connect. */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	chmod(path, 0600);
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot listen on %s: %s", path,
	            g_strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

GlowConn *glow_unix_accept(int listen_fd, uid_t *peer_uid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		errno = EPERM;
		return NULL;
	}
	*peer_uid = cred.uid;
	return glow_conn_new(&glow_unix_ops, fd);
}

GlowConn *glow_unix_connect(const char *path, GError **error)
{
	struct sockaddr_un sun;
	int fd;

	if (!fill_sun(&sun, path, error))
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "%s: %s", path, g_strerror(e));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return glow_conn_new(&glow_unix_ops, fd);
}

/* --- fd watch ----------------------------------------------------------------- */

struct GlowFdWatch {
	GSource source;
	gpointer tag;
	int fd;
	GIOCondition events;
	GlowFdWatchFn fn;
	gpointer user;
};

static gboolean watch_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
	GlowFdWatch *w = (GlowFdWatch *)source;
	GIOCondition cond = g_source_query_unix_fd(source, w->tag);
	(void)cb;
	(void)data;
	if (!cond)
		return G_SOURCE_CONTINUE;
	return w->fn(w->fd, cond, w->user) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static GSourceFuncs watch_funcs = { NULL, NULL, watch_dispatch, NULL, NULL, NULL };

GlowFdWatch *glow_fd_watch_new(GMainContext *ctx, int fd, GIOCondition events, GlowFdWatchFn fn,
                               gpointer user)
{
	GlowFdWatch *w = (GlowFdWatch *)g_source_new(&watch_funcs, sizeof *w);
	w->fd = fd;
	w->fn = fn;
	w->user = user;
	w->events = events;
	w->tag = g_source_add_unix_fd(&w->source, fd, events);
	g_source_attach(&w->source, ctx);
	return w;
}

void glow_fd_watch_set(GlowFdWatch *w, GIOCondition events)
{
	/* Modifying a source wakes its context (an eventfd write): only on change. */
	if (w->events == events)
		return;
	w->events = events;
	g_source_modify_unix_fd(&w->source, w->tag, events);
}

void glow_fd_watch_free(GlowFdWatch *w)
{
	if (!w)
		return;
	g_source_destroy(&w->source);
	g_source_unref(&w->source);
}

GSource *glow_timer_new(GMainContext *ctx, guint ms, GSourceFunc fn, gpointer user)
{
	GSource *s = g_timeout_source_new(ms);
	g_source_set_callback(s, fn, user, NULL);
	g_source_attach(s, ctx);
	return s;
}
