#include "glow/client.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/transport.h"

G_DEFINE_QUARK(glow-error-quark, glow_error)

struct GlowClient {
	GMainContext *ctx;
	GlowConn *conn;
	GlowFdWatch *watch;
	GlowRpc *rpc;
	GlowIfaceRegistry *reg;
	GlowAddr self;   /* our address on the node, from the Welcome */
	gboolean welcomed;
	gboolean broken;
	GByteArray *rbuf;
	GByteArray *wbuf;
	gsize woff;
};

char *glow_client_default_socket(void)
{
	return g_build_filename(g_get_user_data_dir(), "glow", GLOW_CONTROL_SOCKET_NAME, NULL);
}

static void client_broken(GlowClient *c, const char *why)
{
	if (c->broken)
		return;
	c->broken = TRUE;
	/* A hung-up fd stays ready: drop the watch, or the loop would spin. */
	glow_fd_watch_free(c->watch);
	c->watch = NULL;
	/* Every call in progress needs an answer: the node is gone. */
	glow_rpc_node_lost(c->rpc, NULL, GLOW_ERR_UNAVAILABLE, why);
}

static void flush(GlowClient *c)
{
	while (c->woff < c->wbuf->len) {
		ssize_t n = send(c->conn->fd, c->wbuf->data + c->woff, c->wbuf->len - c->woff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_broken(c, "lost the connection to glowd");
			return;
		}
		c->woff += (gsize)n;
	}
	if (c->broken)
		return;
	if (c->woff == c->wbuf->len) {
		g_byte_array_set_size(c->wbuf, 0);
		c->woff = 0;
		glow_fd_watch_set(c->watch, G_IO_IN);
	} else {
		glow_fd_watch_set(c->watch, G_IO_IN | G_IO_OUT);
	}
}

static GlowErrorCode send_packet(const GlowPacketHeader *h, const uint8_t *payload, gpointer user)
{
	GlowClient *c = user;
	uint8_t hdr[GLOW_PACKET_HEADER_LEN];
	if (c->broken)
		return GLOW_ERR_UNAVAILABLE;
	glow_packet_encode_header(h, hdr);
	g_byte_array_append(c->wbuf, hdr, sizeof hdr);
	if (h->payload_len)
		g_byte_array_append(c->wbuf, payload, h->payload_len);
	glow_fd_watch_set(c->watch, G_IO_IN | G_IO_OUT);
	return GLOW_OK;
}

static void handle_packet(GlowClient *c, const GlowPacketHeader *h, const uint8_t *payload)
{
	if (h->type == GLOW_PKT_MESSAGE && h->interface_id == glow_firefly_name_id("glow.Control") &&
	    h->method_id == glow_firefly_method_id("glow.Control", "Welcome")) {
		c->self = h->dst;
		c->welcomed = TRUE;
		return;
	}
	glow_rpc_handle_response(c->rpc, h, payload);
}

static void parse(GlowClient *c)
{
	gsize off = 0;
	while (!c->broken && c->rbuf->len - off >= GLOW_PACKET_HEADER_LEN) {
		GlowPacketHeader h;
		if (glow_packet_decode_header(c->rbuf->data + off, c->rbuf->len - off, GLOW_PACKET_MAX_PAYLOAD, &h) !=
		    GLOW_PKT_DECODE_OK) {
			client_broken(c, "glowd sent a malformed packet");
			return;
		}
		gsize total = GLOW_PACKET_HEADER_LEN + h.payload_len;
		if (c->rbuf->len - off < total)
			break;
		handle_packet(c, &h, c->rbuf->data + off + GLOW_PACKET_HEADER_LEN);
		off += total;
	}
	if (off)
		g_byte_array_remove_range(c->rbuf, 0, (guint)off);
}

static gboolean on_io(int fd, GIOCondition cond, gpointer data)
{
	GlowClient *c = data;
	(void)fd;
	if (c->broken)
		return TRUE;
	if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
		guint old = c->rbuf->len;
		g_byte_array_set_size(c->rbuf, old + 256 * 1024);
		ssize_t n = read(c->conn->fd, c->rbuf->data + old, 256 * 1024);
		g_byte_array_set_size(c->rbuf, old + (n > 0 ? (guint)n : 0));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_broken(c, "glowd closed the connection");
			return TRUE;
		}
		if (n > 0)
			parse(c);
	}
	if (!c->broken && (cond & G_IO_OUT))
		flush(c);
	return TRUE;
}

static gboolean on_timeout(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

GlowClient *glow_client_connect(GMainContext *ctx, const char *socket_path, guint timeout_ms, GError **error)
{
	g_autoptr(GError) e = NULL;
	GlowConn *conn = glow_unix_connect(socket_path, &e);
	GlowClient *c;
	gboolean timed_out = FALSE;
	GSource *t;

	if (!conn) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_DAEMON,
		            "glowd is not running (no node answers on %s: %s); start one with `glowd` "
		            "or `make run`, or pass --state-dir/--socket",
		            socket_path, e->message);
		return NULL;
	}
	c = g_new0(GlowClient, 1);
	c->ctx = g_main_context_ref(ctx);
	c->conn = conn;
	c->rbuf = g_byte_array_new();
	c->wbuf = g_byte_array_new();
	c->reg = glow_iface_registry_new();
	c->rpc = glow_rpc_new(ctx, send_packet, c);
	c->watch = glow_fd_watch_new(ctx, conn->fd, G_IO_IN, on_io, c);
	t = glow_timer_new(ctx, timeout_ms ? timeout_ms : 5000, on_timeout, &timed_out);
	while (!c->welcomed && !c->broken && !timed_out)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	if (!c->welcomed) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_DAEMON, "glowd on %s did not greet us%s", socket_path,
		            timed_out ? " in time" : " (it closed the connection)");
		glow_client_free(c);
		return NULL;
	}
	return c;
}

void glow_client_free(GlowClient *c)
{
	if (!c)
		return;
	glow_rpc_free(c->rpc);
	glow_fd_watch_free(c->watch);
	glow_conn_free(c->conn);
	glow_iface_registry_free(c->reg);
	g_byte_array_unref(c->rbuf);
	g_byte_array_unref(c->wbuf);
	g_main_context_unref(c->ctx);
	g_free(c);
}

const GlowNodeId *glow_client_node(const GlowClient *c) { return &c->self.node; }
const GlowIfaceRegistry *glow_client_registry(const GlowClient *c) { return c->reg; }
gboolean glow_client_connected(const GlowClient *c) { return !c->broken; }

guint64 glow_client_call(GlowClient *c, const GlowAddr *dst, uint32_t interface_id, uint32_t method_id,
                         const uint8_t *payload, size_t len, const GlowCallOptions *opt, GlowResponseFn fn,
                         gpointer user, GError **error)
{
	GlowAddr to = *dst;
	GlowErrorCode code;
	g_autofree char *msg = NULL;
	guint64 id;

	if (glow_node_id_is_zero(&to.node))
		to.node = c->self.node;
	id = glow_rpc_call(c->rpc, &c->self, &to, interface_id, method_id, payload, len, opt, fn, user, &code, &msg);
	if (!id)
		g_set_error_literal(error, GLOW_ERROR, (gint)code, msg);
	return id;
}

void glow_client_cancel(GlowClient *c, guint64 call_id)
{
	glow_rpc_cancel(c->rpc, call_id);
}

typedef struct {
	gboolean done;
	GlowErrorCode code;
	char *message;
	GBytes *payload;
} SyncResult;

static void on_sync(const GlowResponse *r, gpointer data)
{
	SyncResult *s = data;
	s->done = TRUE;
	s->code = r->type == GLOW_PKT_ERROR ? r->code : GLOW_OK;
	s->message = g_strdup(r->message);
	s->payload = g_bytes_new(r->payload, r->len);
}

gboolean glow_client_call_sync(GlowClient *c, const GlowAddr *dst, const char *interface_name,
                               const char *method, const ProtobufCMessage *in, guint deadline_ms,
                               ProtobufCMessage **out, GError **error)
{
	const GlowInterface *iface = glow_iface_by_name(c->reg, interface_name);
	const GlowMethod *m = iface ? glow_iface_method_by_name(iface, method) : NULL;
	GlowCallOptions opt = { .deadline_ms = deadline_ms };
	SyncResult res = { 0 };
	g_autofree uint8_t *buf = NULL;
	size_t len;
	gboolean ok = FALSE;

	if (!m) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_UNIMPLEMENTED, "unknown method %s.%s", interface_name, method);
		return FALSE;
	}
	if (in->descriptor != m->input) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "%s.%s takes %s, not %s", interface_name, method,
		            m->input->name, in->descriptor->name);
		return FALSE;
	}
	len = protobuf_c_message_get_packed_size(in);
	buf = g_malloc(len ? len : 1);
	protobuf_c_message_pack(in, buf);
	if (!glow_client_call(c, dst, iface->id, m->id, buf, len, &opt, on_sync, &res, error))
		return FALSE;
	while (!res.done)
		g_main_context_iteration(c->ctx, TRUE);
	if (res.code != GLOW_OK) {
		g_set_error_literal(error, GLOW_ERROR, (gint)res.code, res.message);
		goto out;
	}
	*out = protobuf_c_message_unpack(m->output, NULL, g_bytes_get_size(res.payload),
	                                 g_bytes_get_data(res.payload, NULL));
	if (!*out) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "malformed %s in the reply", m->output->name);
		goto out;
	}
	ok = TRUE;
out:
	g_free(res.message);
	if (res.payload)
		g_bytes_unref(res.payload);
	return ok;
}
