#include "node/control.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/transport.h"

#define RBUF_CHUNK (64 * 1024)

struct GlowSession {
	GlowControl *ctl;
	GlowConn *conn;
	GlowFdWatch *watch;
	guint64 endpoint;
	GByteArray *rbuf;
	GByteArray *wbuf;
	gsize woff;
	gboolean closing;
};

struct GlowControl {
	GMainContext *ctx;
	char *path;
	int fd;
	GlowFdWatch *watch;
	GlowControlCallbacks cb;
	gpointer user;
	GHashTable *sessions; /* GlowSession* set */
};

static void session_free(GlowSession *s)
{
	glow_fd_watch_free(s->watch);
	glow_conn_free(s->conn);
	s->watch = NULL;
	s->conn = NULL;
	g_byte_array_unref(s->rbuf);
	g_byte_array_unref(s->wbuf);
	g_free(s);
}

static gboolean session_close_idle(gpointer data)
{
	GlowSession *s = data;
	session_free(s);
	return G_SOURCE_REMOVE;
}

/* Closing from inside the session's own callback: the free waits for an idle. */
static void session_close(GlowSession *s)
{
	GlowControl *c = s->ctl;
	if (s->closing)
		return;
	s->closing = TRUE;
	g_hash_table_remove(c->sessions, s);
	/* The fd goes now (a hung-up fd would keep its watch ready forever);
	 * only the struct waits, since we may be inside its own callback. */
	glow_fd_watch_free(s->watch);
	glow_conn_free(s->conn);
	s->watch = NULL;
	s->conn = NULL;
	if (s->endpoint)
		c->cb.closed(s, c->user);
	GSource *idle = g_idle_source_new();
	g_source_set_priority(idle, G_PRIORITY_DEFAULT);
	g_source_set_callback(idle, session_close_idle, s, NULL);
	g_source_attach(idle, c->ctx);
	g_source_unref(idle);
}

static void session_flush(GlowSession *s)
{
	while (s->woff < s->wbuf->len) {
		ssize_t n = send(s->conn->fd, s->wbuf->data + s->woff, s->wbuf->len - s->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			session_close(s);
			return;
		}
		s->woff += (gsize)n;
	}
	if (s->woff == s->wbuf->len) {
		g_byte_array_set_size(s->wbuf, 0);
		s->woff = 0;
		glow_fd_watch_set(s->watch, G_IO_IN);
	} else {
		glow_fd_watch_set(s->watch, G_IO_IN | G_IO_OUT);
	}
}

static void append_packet(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload)
{
	uint8_t hdr[GLOW_PACKET_HEADER_LEN];
	glow_packet_encode_header(h, hdr);
	g_byte_array_append(s->wbuf, hdr, sizeof hdr);
	if (h->payload_len)
		g_byte_array_append(s->wbuf, payload, h->payload_len);
	if (s->watch)
		glow_fd_watch_set(s->watch, G_IO_IN | G_IO_OUT);
}

void glow_session_send_urgent(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload)
{
	g_assert(h->payload_len <= 1024);
	if (!s->closing)
		append_packet(s, h, payload);
}

gboolean glow_session_send(GlowSession *s, const GlowPacketHeader *h, const uint8_t *payload)
{
	if (s->closing || s->wbuf->len - s->woff + GLOW_PACKET_HEADER_LEN + h->payload_len > GLOW_CONTROL_SENDQ_MAX)
		return FALSE;
	append_packet(s, h, payload);
	return TRUE;
}

static void session_parse(GlowSession *s)
{
	gsize off = 0;
	while (!s->closing && s->rbuf->len - off >= GLOW_PACKET_HEADER_LEN) {
		GlowPacketHeader h;
		GlowPacketDecode d = glow_packet_decode_header(s->rbuf->data + off, s->rbuf->len - off,
		                                               GLOW_PACKET_MAX_PAYLOAD, &h);
		if (d == GLOW_PKT_DECODE_OK && !glow_packet_is_rpc(h.type))
			d = GLOW_PKT_DECODE_TYPE; /* routing and end-to-end packets are for links only */
		if (d != GLOW_PKT_DECODE_OK) {
			g_message("control: closing session %" G_GUINT64_FORMAT ": %s", s->endpoint,
			          glow_packet_decode_strerror(d));
			session_close(s);
			return;
		}
		gsize total = GLOW_PACKET_HEADER_LEN + h.payload_len;
		if (s->rbuf->len - off < total)
			break;
		s->ctl->cb.packet(s, &h, s->rbuf->data + off + GLOW_PACKET_HEADER_LEN, s->ctl->user);
		off += total;
	}
	if (off)
		g_byte_array_remove_range(s->rbuf, 0, (guint)off);
}

static gboolean on_session_io(int fd, GIOCondition cond, gpointer data)
{
	GlowSession *s = data;
	(void)fd;
	if (s->closing)
		return TRUE;
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
		guint old = s->rbuf->len;
		g_byte_array_set_size(s->rbuf, old + RBUF_CHUNK);
		ssize_t n = read(s->conn->fd, s->rbuf->data + old, RBUF_CHUNK);
		g_byte_array_set_size(s->rbuf, old + (n > 0 ? (guint)n : 0));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			session_close(s);
			return TRUE;
		}
		if (n > 0)
			session_parse(s);
	}
	if (!s->closing && (cond & G_IO_OUT))
		session_flush(s);
	return TRUE;
}

static gboolean on_accept(int fd, GIOCondition cond, gpointer data)
{
	GlowControl *c = data;
	uid_t uid;
	GlowConn *conn;
	(void)cond;

	while ((conn = glow_unix_accept(fd, &uid))) {
		GlowSession *s;
		if (uid != geteuid() && uid != 0) {
			g_message("control: refusing a connection from uid %u (only uid %u may control this node)",
			          (unsigned)uid, (unsigned)geteuid());
			glow_conn_free(conn);
			continue;
		}
		if (g_hash_table_size(c->sessions) >= GLOW_CONTROL_MAX_CLIENTS) {
			g_message("control: refusing a connection: %d sessions open", GLOW_CONTROL_MAX_CLIENTS);
			glow_conn_free(conn);
			continue;
		}
		s = g_new0(GlowSession, 1);
		s->ctl = c;
		s->conn = conn;
		s->rbuf = g_byte_array_new();
		s->wbuf = g_byte_array_new();
		s->watch = glow_fd_watch_new(c->ctx, conn->fd, G_IO_IN, on_session_io, s);
		g_hash_table_add(c->sessions, s);
		s->endpoint = c->cb.opened(s, c->user);
		if (!s->endpoint)
			session_close(s);
	}
	return TRUE;
}

GlowControl *glow_control_new(GMainContext *ctx, const char *path, const GlowControlCallbacks *cb,
                              gpointer user, GError **error)
{
	int fd = glow_unix_listen(path, error);
	GlowControl *c;
	if (fd < 0)
		return NULL;
	c = g_new0(GlowControl, 1);
	c->ctx = ctx;
	c->path = g_strdup(path);
	c->fd = fd;
	c->cb = *cb;
	c->user = user;
	c->sessions = g_hash_table_new(NULL, NULL);
	c->watch = glow_fd_watch_new(ctx, fd, G_IO_IN, on_accept, c);
	return c;
}

void glow_control_free(GlowControl *c)
{
	GHashTableIter it;
	gpointer s;
	if (!c)
		return;
	g_hash_table_iter_init(&it, c->sessions);
	while (g_hash_table_iter_next(&it, &s, NULL)) {
		g_hash_table_iter_steal(&it);
		((GlowSession *)s)->closing = TRUE;
		session_free(s);
	}
	g_hash_table_destroy(c->sessions);
	glow_fd_watch_free(c->watch);
	close(c->fd);
	unlink(c->path);
	g_free(c->path);
	g_free(c);
}

const char *glow_control_path(const GlowControl *c) { return c->path; }
guint64 glow_session_endpoint(const GlowSession *s) { return s->endpoint; }
guint glow_control_sessions(const GlowControl *c) { return g_hash_table_size(c->sessions); }
