#include "glow/client.h"
#include "glow/plugin.h"
#include "glow/process.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "glow/node.pb-c.h"
#include "glow/process.pb-c.h"
#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "transport/transport.h"

G_DEFINE_QUARK(glow-error-quark, glow_error)

#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000

/* A resource this client serves. */
typedef struct {
	guint64 id;
	char *name;
	const ProtobufCServiceDescriptor *svc;
	uint32_t iface_id;
	uint32_t *method_ids;        /* indexed like svc->methods */
	GlowMethodImpl *impl;        /* indexed like svc->methods; fn NULL = not implemented */
	gpointer data;
} Served;

struct GlowClient {
	GMainContext *ctx;
	char *path;      /* NULL for a client made from an fd: it cannot reconnect */
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
	/* Being a process (glow/process.h). */
	char *proc_name, *proc_token, *proc_kind;
	GlowAddr proc;
	gboolean registered;
	GPtrArray *served;  /* Served* */
	gboolean reconnect;
	guint reconnect_ms;
	GSource *reconnect_timer;
	GlowClientStateFn state_fn;
	gpointer state_data;
	gboolean quit;
};

static void served_free(gpointer p)
{
	Served *s = p;
	g_free(s->name);
	g_free(s->method_ids);
	g_free(s->impl);
	g_free(s);
}

char *glow_client_default_socket(void)
{
	const char *env = g_getenv("GLOW_SOCKET");
	if (env && *env)
		return g_strdup(env);
	return g_build_filename(g_get_user_data_dir(), "glow", GLOW_CONTROL_SOCKET_NAME, NULL);
}

uint32_t glow_interface_id(const char *interface_name) { return glow_firefly_name_id(interface_name); }
uint32_t glow_method_id(const char *interface_name, const char *method_name)
{
	return glow_firefly_method_id(interface_name, method_name);
}

gboolean glow_addr_parse(const char *text, GlowAddr *out, GError **error)
{
	GlowIdError e = glow_addr_from_text(text, out);
	if (e == GLOW_ID_OK)
		return TRUE;
	g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "bad address \"%s\": %s", text, glow_id_strerror(e));
	return FALSE;
}

static void schedule_reconnect(GlowClient *c);

static void client_broken(GlowClient *c, const char *why)
{
	if (c->broken)
		return;
	c->broken = TRUE;
	c->registered = FALSE;
	/* A hung-up fd stays ready: drop the watch, or the loop would spin. */
	glow_fd_watch_free(c->watch);
	c->watch = NULL;
	/* Every call in progress needs an answer: the node is gone. Calls being
	 * served are cancelled (their callers will get UNAVAILABLE from the node). */
	glow_rpc_node_lost(c->rpc, NULL, GLOW_ERR_UNAVAILABLE, why);
	if (c->state_fn)
		c->state_fn(c, FALSE, c->state_data);
	if (c->reconnect && c->path)
		schedule_reconnect(c);
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
	/* Bounded like the node's side: a client that produces faster than the
	 * node reads gets TOO_FAST instead of unbounded memory. */
	if (c->wbuf->len - c->woff > GLOW_CONTROL_SENDQ_MAX)
		return GLOW_ERR_TOO_FAST;
	glow_packet_encode_header(h, hdr);
	g_byte_array_append(c->wbuf, hdr, sizeof hdr);
	if (h->payload_len)
		g_byte_array_append(c->wbuf, payload, h->payload_len);
	glow_fd_watch_set(c->watch, G_IO_IN | G_IO_OUT);
	return GLOW_OK;
}

/* --- serving -------------------------------------------------------------------- */

static Served *served_by_id(GlowClient *c, guint64 id)
{
	for (guint i = 0; i < c->served->len; i++) {
		Served *s = c->served->pdata[i];
		if (s->id == id)
			return s;
	}
	return NULL;
}

static void serve_call(GlowClient *c, const GlowPacketHeader *h, const uint8_t *payload)
{
	Served *s = served_by_id(c, h->dst.resource);
	GlowErrorCode code;
	ProtobufCMessage *in;
	GlowCall *call;
	guint i;

	/* The node checked access and that the resource is ours; what is left
	 * is what only the program knows: its methods and their messages. */
	if (!s) {
		glow_rpc_reject(c->rpc, h, GLOW_ERR_UNAVAILABLE, "resource %" G_GUINT64_FORMAT " is not served any more",
		                h->dst.resource);
		return;
	}
	for (i = 0; i < s->svc->n_methods; i++)
		if (s->method_ids[i] == h->method_id)
			break;
	if (h->interface_id != s->iface_id || i == s->svc->n_methods || !s->impl[i].fn) {
		glow_rpc_reject(c->rpc, h, GLOW_ERR_UNIMPLEMENTED, "%s \"%s\" does not implement method 0x%08x",
		                s->svc->name, s->name, h->method_id);
		return;
	}
	if (h->type == GLOW_PKT_CALL && s->impl[i].stream != ((h->flags & GLOW_PKT_F_STREAM) != 0)) {
		glow_rpc_reject(c->rpc, h, GLOW_ERR_BAD_REQUEST, "%s.%s %s", s->svc->name, s->svc->methods[i].name,
		                s->impl[i].stream ? "is a stream: set the stream flag" : "is not a stream");
		return;
	}
	in = protobuf_c_message_unpack(s->svc->methods[i].input, NULL, h->payload_len, payload);
	if (!in) {
		glow_rpc_reject(c->rpc, h, GLOW_ERR_BAD_REQUEST, "malformed %s for %s.%s",
		                s->svc->methods[i].input->name, s->svc->name, s->svc->methods[i].name);
		return;
	}
	call = glow_rpc_server_begin(c->rpc, h, &code);
	if (!call) {
		glow_rpc_reject(c->rpc, h, code, "%s", code == GLOW_ERR_TOO_FAST ? "too many calls in progress"
		                                                                 : "duplicate call id");
	} else {
		s->impl[i].fn(call, in, s->data);
	}
	protobuf_c_message_free_unpacked(in, NULL);
}

static void handle_packet(GlowClient *c, const GlowPacketHeader *h, const uint8_t *payload)
{
	switch (h->type) {
	case GLOW_PKT_MESSAGE:
		if (h->interface_id == glow_firefly_name_id("glow.Control") &&
		    h->method_id == glow_firefly_method_id("glow.Control", "Welcome")) {
			c->self = h->dst;
			c->welcomed = TRUE;
			return;
		}
		serve_call(c, h, payload);
		return;
	case GLOW_PKT_CALL:
		serve_call(c, h, payload);
		return;
	case GLOW_PKT_CANCEL:
	case GLOW_PKT_CREDIT:
		glow_rpc_handle_control(c->rpc, h);
		return;
	default:
		glow_rpc_handle_response(c->rpc, h, payload);
	}
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

/* Takes conn; waits for the Welcome. */
static gboolean attach(GlowClient *c, GlowConn *conn, guint timeout_ms, GError **error)
{
	gboolean timed_out = FALSE;
	GSource *t;

	c->conn = conn;
	c->broken = FALSE;
	c->welcomed = FALSE;
	g_byte_array_set_size(c->rbuf, 0);
	g_byte_array_set_size(c->wbuf, 0);
	c->woff = 0;
	c->watch = glow_fd_watch_new(c->ctx, conn->fd, G_IO_IN, on_io, c);
	t = glow_timer_new(c->ctx, timeout_ms ? timeout_ms : 5000, on_timeout, &timed_out);
	while (!c->welcomed && !c->broken && !timed_out)
		g_main_context_iteration(c->ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
	if (c->welcomed)
		return TRUE;
	g_set_error(error, GLOW_ERROR, GLOW_ERR_DAEMON, "glowd on %s did not greet us%s",
	            c->path ? c->path : "its socket", timed_out ? " in time" : " (it closed the connection)");
	return FALSE;
}

static GlowClient *client_new(GMainContext *ctx, const char *path)
{
	GlowClient *c = g_new0(GlowClient, 1);
	c->ctx = g_main_context_ref(ctx);
	c->path = g_strdup(path);
	c->rbuf = g_byte_array_new();
	c->wbuf = g_byte_array_new();
	c->reg = glow_iface_registry_new();
	c->rpc = glow_rpc_new(ctx, send_packet, c);
	c->served = g_ptr_array_new_with_free_func(served_free);
	return c;
}

static GlowConn *dial(const char *path, GError **error)
{
	g_autoptr(GError) e = NULL;
	GlowConn *conn = glow_unix_connect(path, &e);
	if (!conn)
		g_set_error(error, GLOW_ERROR, GLOW_ERR_DAEMON,
		            "glowd is not running (no node answers on %s: %s); start one with `glowd` "
		            "or `make run`, or pass --state-dir/--socket",
		            path, e->message);
	return conn;
}

GlowClient *glow_client_connect(GMainContext *ctx, const char *socket_path, guint timeout_ms, GError **error)
{
	g_autofree char *def = socket_path ? NULL : glow_client_default_socket();
	const char *path = socket_path ? socket_path : def;
	GlowConn *conn = dial(path, error);
	GlowClient *c;

	if (!conn)
		return NULL;
	c = client_new(ctx, path);
	if (!attach(c, conn, timeout_ms, error)) {
		glow_client_free(c);
		return NULL;
	}
	return c;
}

GlowClient *glow_client_connect_fd(GMainContext *ctx, int fd, guint timeout_ms, GError **error)
{
	GlowClient *c = client_new(ctx, NULL);
	if (!g_unix_set_fd_nonblocking(fd, TRUE, NULL)) {
		close(fd);
		g_set_error(error, GLOW_ERROR, GLOW_ERR_DAEMON, "cannot use fd %d: %s", fd, g_strerror(errno));
		glow_client_free(c);
		return NULL;
	}
	if (!attach(c, glow_conn_new(&glow_unix_ops, fd), timeout_ms, error)) {
		glow_client_free(c);
		return NULL;
	}
	return c;
}

void glow_client_free(GlowClient *c)
{
	if (!c)
		return;
	if (c->reconnect_timer) {
		g_source_destroy(c->reconnect_timer);
		g_source_unref(c->reconnect_timer);
	}
	c->state_fn = NULL;
	glow_rpc_free(c->rpc);
	glow_fd_watch_free(c->watch);
	glow_conn_free(c->conn);
	glow_iface_registry_free(c->reg);
	g_ptr_array_unref(c->served);
	g_byte_array_unref(c->rbuf);
	g_byte_array_unref(c->wbuf);
	g_main_context_unref(c->ctx);
	g_free(c->path);
	g_free(c->proc_name);
	g_free(c->proc_token);
	g_free(c->proc_kind);
	g_free(c);
}

const GlowNodeId *glow_client_node(const GlowClient *c) { return &c->self.node; }
const GlowAddr *glow_client_address(const GlowClient *c) { return &c->self; }
const GlowIfaceRegistry *glow_client_registry(const GlowClient *c) { return c->reg; }
GMainContext *glow_client_context(const GlowClient *c) { return c->ctx; }
gboolean glow_client_connected(const GlowClient *c) { return !c->broken; }
const GlowAddr *glow_client_process(const GlowClient *c) { return c->registered ? &c->proc : NULL; }

guint64 glow_client_call(GlowClient *c, const GlowAddr *dst, uint32_t interface_id, uint32_t method_id,
                         const uint8_t *payload, size_t len, const GlowCallOptions *opt, GlowResponseFn fn,
                         gpointer user, GError **error)
{
	GlowAddr to = *dst;
	GlowErrorCode code;
	g_autofree char *msg = NULL;
	guint64 id;

	if (c->broken) {
		g_set_error_literal(error, GLOW_ERROR, GLOW_ERR_DAEMON, "not connected to glowd");
		return 0;
	}
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

static gboolean call_sync(GlowClient *c, const GlowAddr *dst, uint32_t iface_id, uint32_t method_id,
                          const ProtobufCMessageDescriptor *output, const ProtobufCMessage *in, guint deadline_ms,
                          ProtobufCMessage **out, GError **error)
{
	GlowCallOptions opt = { .deadline_ms = deadline_ms };
	SyncResult res = { 0 };
	g_autofree uint8_t *buf = NULL;
	size_t len;
	gboolean ok = FALSE;

	len = protobuf_c_message_get_packed_size(in);
	buf = g_malloc(len ? len : 1);
	protobuf_c_message_pack(in, buf);
	if (!glow_client_call(c, dst, iface_id, method_id, buf, len, &opt, on_sync, &res, error))
		return FALSE;
	while (!res.done)
		g_main_context_iteration(c->ctx, TRUE);
	if (res.code != GLOW_OK) {
		g_set_error_literal(error, GLOW_ERROR, (gint)res.code, res.message);
		goto out;
	}
	*out = protobuf_c_message_unpack(output, NULL, g_bytes_get_size(res.payload), g_bytes_get_data(res.payload, NULL));
	if (!*out) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "malformed %s in the reply", output->name);
		goto out;
	}
	ok = TRUE;
out:
	g_free(res.message);
	if (res.payload)
		g_bytes_unref(res.payload);
	return ok;
}

gboolean glow_client_call_sync(GlowClient *c, const GlowAddr *dst, const char *interface_name,
                               const char *method, const ProtobufCMessage *in, guint deadline_ms,
                               ProtobufCMessage **out, GError **error)
{
	const GlowInterface *iface = glow_iface_by_name(c->reg, interface_name);
	const GlowMethod *m = iface ? glow_iface_method_by_name(iface, method) : NULL;

	if (!m) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_UNIMPLEMENTED, "unknown method %s.%s", interface_name, method);
		return FALSE;
	}
	if (in->descriptor != m->input) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "%s.%s takes %s, not %s", interface_name, method,
		            m->input->name, in->descriptor->name);
		return FALSE;
	}
	return call_sync(c, dst, iface->id, m->id, m->output, in, deadline_ms, out, error);
}

gboolean glow_client_call_service_sync(GlowClient *c, const GlowAddr *dst, const ProtobufCServiceDescriptor *svc,
                                       const char *method, const ProtobufCMessage *in, guint deadline_ms,
                                       ProtobufCMessage **out, GError **error)
{
	for (unsigned i = 0; i < svc->n_methods; i++) {
		const ProtobufCMethodDescriptor *m = &svc->methods[i];
		if (strcmp(m->name, method) != 0)
			continue;
		if (in->descriptor != m->input) {
			g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "%s.%s takes %s, not %s", svc->name, method,
			            m->input->name, in->descriptor->name);
			return FALSE;
		}
		return call_sync(c, dst, glow_firefly_name_id(svc->name), glow_firefly_method_id(svc->name, m->name),
		                 m->output, in, deadline_ms, out, error);
	}
	g_set_error(error, GLOW_ERROR, GLOW_ERR_UNIMPLEMENTED, "%s has no method %s", svc->name, method);
	return FALSE;
}

/* --- being a process -------------------------------------------------------------- */

static gboolean do_register(GlowClient *c, GError **error)
{
	Glow__RegisterProcessRequest req = GLOW__REGISTER_PROCESS_REQUEST__INIT;
	Glow__ProcessInfo *info = NULL;
	GlowAddr node = { c->self.node, GLOW_RESOURCE_NODE };
	gboolean ok;

	req.name = c->proc_name;
	req.token = c->proc_token ? c->proc_token : (char *)"";
	req.kind = c->proc_kind ? c->proc_kind : (char *)"external";
	if (!glow_client_call_sync(c, &node, "glow.Node", "RegisterProcess", &req.base, 5000,
	                           (ProtobufCMessage **)&info, error))
		return FALSE;
	ok = glow_addr_parse(info->address, &c->proc, error);
	protobuf_c_message_free_unpacked(&info->base, NULL);
	c->registered = ok;
	return ok;
}

gboolean glow_client_register(GlowClient *c, const char *name, GError **error)
{
	const char *env_name = g_getenv("GLOW_PROCESS");
	const char *env_token = g_getenv("GLOW_PROCESS_TOKEN");

	if (c->registered) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "already registered as process %s", c->proc_name);
		return FALSE;
	}
	if (!name)
		name = env_name;
	if (!name || !*name) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST,
		            "no process name: pass one, or run the program with `glow spawn`");
		return FALSE;
	}
	g_free(c->proc_name);
	c->proc_name = g_strdup(name);
	/* The token is for the process the node started under that name only. */
	if (!c->proc_token && env_token && env_name && strcmp(env_name, name) == 0)
		c->proc_token = g_strdup(env_token);
	return do_register(c, error);
}

static gboolean create_resource(GlowClient *c, Served *s, GError **error)
{
	Glow__CreateResourceRequest req = GLOW__CREATE_RESOURCE_REQUEST__INIT;
	Glow__ResourceInfo *info = NULL;
	g_autofree Glow__MethodDecl *decls = g_new0(Glow__MethodDecl, s->svc->n_methods + 1);
	g_autofree Glow__MethodDecl **ptrs = g_new0(Glow__MethodDecl *, s->svc->n_methods + 1);
	size_t n = 0;

	for (unsigned i = 0; i < s->svc->n_methods; i++) {
		if (!s->impl[i].fn)
			continue;
		glow__method_decl__init(&decls[n]);
		decls[n].name = (char *)s->svc->methods[i].name;
		decls[n].server_streaming = s->impl[i].stream;
		decls[n].access = s->impl[i].access;
		ptrs[n] = &decls[n];
		n++;
	}
	req.name = s->name;
	req.interface = (char *)s->svc->name;
	req.n_methods = n;
	req.methods = ptrs;
	if (!glow_client_call_sync(c, &c->proc, "glow.Process", "CreateResource", &req.base, 5000,
	                           (ProtobufCMessage **)&info, error))
		return FALSE;
	s->id = info->id;
	protobuf_c_message_free_unpacked(&info->base, NULL);
	return TRUE;
}

guint64 glow_client_serve(GlowClient *c, const char *name, const ProtobufCServiceDescriptor *svc,
                          const GlowMethodImpl *methods, gpointer data, GError **error)
{
	Served *s;

	if (!c->registered) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "register the process first (glow_client_register)");
		return 0;
	}
	s = g_new0(Served, 1);
	s->name = g_strdup(name);
	s->svc = svc;
	s->data = data;
	s->iface_id = glow_firefly_name_id(svc->name);
	s->method_ids = g_new0(uint32_t, svc->n_methods ? svc->n_methods : 1);
	s->impl = g_new0(GlowMethodImpl, svc->n_methods ? svc->n_methods : 1);
	for (unsigned i = 0; i < svc->n_methods; i++)
		s->method_ids[i] = glow_firefly_method_id(svc->name, svc->methods[i].name);
	for (const GlowMethodImpl *m = methods; m && m->method; m++) {
		unsigned i;
		for (i = 0; i < svc->n_methods; i++)
			if (strcmp(svc->methods[i].name, m->method) == 0)
				break;
		if (i == svc->n_methods) {
			g_set_error(error, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "%s has no method %s", svc->name, m->method);
			served_free(s);
			return 0;
		}
		s->impl[i] = *m;
	}
	if (!create_resource(c, s, error)) {
		served_free(s);
		return 0;
	}
	g_ptr_array_add(c->served, s);
	return s->id;
}

gboolean glow_client_unserve(GlowClient *c, guint64 id, GError **error)
{
	Glow__RemoveResourceRequest req = GLOW__REMOVE_RESOURCE_REQUEST__INIT;
	ProtobufCMessage *out = NULL;
	Served *s = served_by_id(c, id);

	if (!s) {
		g_set_error(error, GLOW_ERROR, GLOW_ERR_NOT_FOUND, "this client serves no resource %" G_GUINT64_FORMAT, id);
		return FALSE;
	}
	g_ptr_array_remove(c->served, s);
	req.id = id;
	if (!glow_client_call_sync(c, &c->proc, "glow.Process", "RemoveResource", &req.base, 5000, &out, error))
		return FALSE;
	protobuf_c_message_free_unpacked(out, NULL);
	return TRUE;
}

void glow_client_ready(GlowClient *c)
{
	const GlowInterface *iface = glow_iface_by_name(c->reg, "glow.Process");
	Glow__Empty e = GLOW__EMPTY__INIT;
	uint8_t buf[1];
	if (!c->registered || !iface)
		return;
	(void)e;
	glow_rpc_message(c->rpc, &c->self, &c->proc, iface->id, glow_iface_method_by_name(iface, "Ready")->id, buf, 0);
}

void glow_client_set_state_handler(GlowClient *c, GlowClientStateFn fn, gpointer data)
{
	c->state_fn = fn;
	c->state_data = data;
}

void glow_client_set_reconnect(GlowClient *c, gboolean on)
{
	c->reconnect = on;
	if (on && c->broken && c->path && !c->reconnect_timer)
		schedule_reconnect(c);
}

static gboolean try_reconnect(gpointer data)
{
	GlowClient *c = data;
	GlowConn *conn;

	g_source_unref(c->reconnect_timer);
	c->reconnect_timer = NULL;
	glow_conn_free(c->conn);
	c->conn = NULL;
	conn = dial(c->path, NULL);
	if (!conn || !attach(c, conn, 2000, NULL))
		goto again;
	if (c->proc_name) {
		if (!do_register(c, NULL))
			goto again;
		for (guint i = 0; i < c->served->len; i++)
			if (!create_resource(c, c->served->pdata[i], NULL))
				goto again;
		glow_client_ready(c);
	}
	c->reconnect_ms = 0;
	if (c->state_fn)
		c->state_fn(c, TRUE, c->state_data);
	return G_SOURCE_REMOVE;
again:
	if (!c->broken) {
		/* Connected but registering failed: drop this connection and retry. */
		c->reconnect = FALSE;
		client_broken(c, "registering again failed");
		c->reconnect = TRUE;
	}
	schedule_reconnect(c);
	return G_SOURCE_REMOVE;
}

static void schedule_reconnect(GlowClient *c)
{
	if (c->reconnect_timer)
		return;
	c->reconnect_ms = c->reconnect_ms ? MIN(c->reconnect_ms * 2, RECONNECT_MAX_MS) : RECONNECT_MIN_MS;
	c->reconnect_timer = glow_timer_new(c->ctx, c->reconnect_ms, try_reconnect, c);
}

static gboolean on_quit_signal(gpointer data)
{
	glow_client_quit(data);
	return G_SOURCE_CONTINUE;
}

void glow_client_quit(GlowClient *c)
{
	c->quit = TRUE;
	g_main_context_wakeup(c->ctx);
}

int glow_client_run(GlowClient *c)
{
	GSource *term = g_unix_signal_source_new(SIGTERM);
	GSource *intr = g_unix_signal_source_new(SIGINT);

	g_source_set_callback(term, on_quit_signal, c, NULL);
	g_source_set_callback(intr, on_quit_signal, c, NULL);
	g_source_attach(term, c->ctx);
	g_source_attach(intr, c->ctx);
	glow_client_set_reconnect(c, TRUE);
	glow_client_ready(c);
	while (!c->quit && (!c->broken || c->path))
		g_main_context_iteration(c->ctx, TRUE);
	g_source_destroy(term);
	g_source_destroy(intr);
	g_source_unref(term);
	g_source_unref(intr);
	return c->quit ? 0 : 1;
}

/* --- plugins: libglow's half of the host ------------------------------------------ */

static gboolean on_stop_fd(int fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	glow_client_quit(data);
	return FALSE;
}

int glow_plugin_run_v1(const GlowPlugin *p, int fd, const char *name, const char *token, int stop_fd)
{
	GMainContext *ctx = g_main_context_new();
	g_autoptr(GError) e = NULL;
	GlowClient *c;
	GlowFdWatch *stop;
	gpointer state = NULL;
	int rc = 1;

	g_main_context_push_thread_default(ctx);
	c = glow_client_connect_fd(ctx, fd, 5000, &e);
	if (!c)
		goto out;
	c->proc_name = g_strdup(name);
	c->proc_token = g_strdup(token);
	c->proc_kind = g_strdup("plugin");
	if (!do_register(c, &e))
		goto out;
	if (p->abi != GLOW_PLUGIN_ABI || !p->start) {
		g_set_error(&e, GLOW_ERROR, GLOW_ERR_BAD_REQUEST, "plugin ABI %u, this libglow runs %u", p->abi,
		            GLOW_PLUGIN_ABI);
		goto out;
	}
	state = p->start(c, &e);
	if (!state && e)
		goto out;
	stop = glow_fd_watch_new(ctx, stop_fd, G_IO_IN, on_stop_fd, c);
	glow_client_ready(c);
	rc = 0;
	while (!c->quit && !c->broken)
		g_main_context_iteration(ctx, TRUE);
	glow_fd_watch_free(stop);
	if (p->stop)
		p->stop(state);
out:
	if (e)
		g_printerr("glow plugin %s: %s\n", name, e->message);
	glow_client_free(c);
	g_main_context_pop_thread_default(ctx);
	g_main_context_unref(ctx);
	return rc;
}
