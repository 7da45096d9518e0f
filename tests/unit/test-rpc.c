/* RPC semantics end to end, with two real nodes linked over loopback TCP
 * inside one process (nothing in a node is global, so this works). */
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>

#include "glow/common.pb-c.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"
#include "glow/process.pb-c.h"
#include "glow/user.pb-c.h"
#include "node/node.h"
#include "services/diag/diag.h"

typedef struct {
	GMainContext *ctx;
	char *dir_a, *dir_b;
	GlowNode *a, *b;
	GlowIfaceRegistry *reg;
} Net;

typedef struct {
	gboolean done;
	guint8 type;
	guint32 code;
	char *message;
	GByteArray *payload;
	guint items;
	guint64 item_bytes;
	guint64 cancel_after; /* cancel the call after this many items (0 = never) */
	GlowRpc *rpc;
	guint64 id;
} Result;

static gboolean expired_cb(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

static void run_until(GMainContext *ctx, gboolean *flag, guint ms)
{
	gboolean expired = FALSE;
	GSource *t = glow_timer_new(ctx, ms, expired_cb, &expired);
	while (!*flag && !expired)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(t);
	g_source_unref(t);
}

static void on_connected(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	gboolean *done = data;
	(void)n;
	(void)error;
	g_assert_nonnull(link);
	g_assert_cmpint(code, ==, GLOW_OK);
	*done = TRUE;
}

/* The user key both test nodes share (as `glow join` leaves it), made once. */
static const char *test_user_key(void)
{
	static char text[sizeof "GLOW-USER-V1\n" + 65];
	if (!text[0]) {
		uint8_t seed[32];
		char hex[65];
		randombytes_buf(seed, sizeof seed);
		sodium_bin2hex(hex, sizeof hex, seed, sizeof seed);
		g_snprintf(text, sizeof text, "GLOW-USER-V1\n%s\n", hex);
	}
	return text;
}

/* A node in a fresh state dir; same_user: a device of the test user, else
 * the first device of a user of its own. */
static GlowNode *start_node_as(GMainContext *ctx, char **dir, const char *name, gboolean same_user)
{
	GlowNodeConfig cfg;
	GError *err = NULL;
	GlowNode *n;
	char *listen[] = { "127.0.0.1:0", NULL };

	*dir = g_dir_make_tmp("glow-test-XXXXXX", NULL);
	if (same_user) {
		g_autofree char *key = g_build_filename(*dir, "user.key", NULL);
		g_assert_true(g_file_set_contents_full(key, test_user_key(), -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
	}
	glow_node_config_init(&cfg);
	cfg.state_dir = *dir;
	cfg.name = (char *)name;
	cfg.listen = listen;
	cfg.control = FALSE;
	cfg.discovery = FALSE; /* no beacons on this machine's interfaces */
	n = glow_node_new(ctx, &cfg, &err);
	g_assert_no_error(err);
	g_assert_nonnull(glow_diag_start(glow_node_resources(n), ctx, &err));
	g_assert_no_error(err);
	return n;
}

static GlowNode *start_node(GMainContext *ctx, char **dir, const char *name)
{
	return start_node_as(ctx, dir, name, TRUE);
}

static void net_up_as(Net *net, gboolean same_user)
{
	gboolean done = FALSE;
	memset(net, 0, sizeof *net);
	net->ctx = g_main_context_new();
	net->reg = glow_iface_registry_new();
	net->a = start_node(net->ctx, &net->dir_a, "a");
	net->b = start_node_as(net->ctx, &net->dir_b, "b", same_user);
	glow_node_connect(net->a, g_ptr_array_index(glow_node_listen_addresses(net->b), 0), glow_node_id(net->b), NULL,
	                  3000, on_connected, &done);
	run_until(net->ctx, &done, 5000);
	g_assert_true(done);
}

static void net_up(Net *net)
{
	net_up_as(net, TRUE);
}

static void rm_rf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;
	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_unlink(path);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(dir);
}

static void net_down(Net *net)
{
	glow_node_free(net->a);
	glow_node_free(net->b);
	while (g_main_context_iteration(net->ctx, FALSE))
		;
	g_main_context_unref(net->ctx);
	glow_iface_registry_free(net->reg);
	rm_rf(net->dir_a);
	rm_rf(net->dir_b);
	g_free(net->dir_a);
	g_free(net->dir_b);
}

static void on_response(const GlowResponse *r, gpointer data)
{
	Result *res = data;
	if (r->type == GLOW_PKT_ITEM) {
		res->items++;
		res->item_bytes += r->len;
		if (res->cancel_after && res->items == res->cancel_after) {
			glow_rpc_cancel(res->rpc, res->id);
			res->done = TRUE;
		}
		return;
	}
	res->done = TRUE;
	res->type = r->type;
	res->code = r->code;
	res->message = g_strdup(r->message);
	res->payload = g_byte_array_new();
	if (r->len)
		g_byte_array_append(res->payload, r->payload, (guint)r->len);
}

/* Calls dst from node a with msg; waits for the end. */
static void call(Net *net, GlowNode *from, const GlowAddr *dst, const char *iface, const char *method,
                 const ProtobufCMessage *msg, guint deadline_ms, Result *res)
{
	const GlowInterface *i = glow_iface_by_name(net->reg, iface);
	const GlowMethod *m = glow_iface_method_by_name(i, method);
	GlowAddr src = { *glow_node_id(from), 1000 };
	GlowCallOptions opt = { .deadline_ms = deadline_ms, .stream = m->server_streaming, .window = 4 };
	size_t len = protobuf_c_message_get_packed_size(msg);
	g_autofree uint8_t *buf = g_malloc(len + 1);
	GlowErrorCode code;
	g_autofree char *err = NULL;

	protobuf_c_message_pack(msg, buf);
	res->rpc = glow_node_rpc(from);
	res->id = glow_rpc_call(res->rpc, &src, dst, i->id, m->id, buf, len, &opt, on_response, res, &code, &err);
	if (!res->id) {
		res->done = TRUE;
		res->type = GLOW_PKT_ERROR;
		res->code = code;
		res->message = g_strdup(err);
		return;
	}
	run_until(net->ctx, &res->done, 20000);
	g_assert_true(res->done);
}

static void result_clear(Result *r)
{
	g_free(r->message);
	if (r->payload)
		g_byte_array_unref(r->payload);
	memset(r, 0, sizeof *r);
}

static GlowAddr addr_of(GlowNode *n, guint64 id)
{
	GlowAddr a = { *glow_node_id(n), id };
	return a;
}

static void test_unary(void)
{
	Net net;
	Result r = { 0 };
	Glow__Empty empty = GLOW__EMPTY__INIT;
	GlowAddr b0;
	net_up(&net);
	b0 = addr_of(net.b, GLOW_RESOURCE_NODE);
	call(&net, net.a, &b0, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	Glow__NodeInfo *info = glow__node_info__unpack(NULL, r.payload->len, r.payload->data);
	g_assert_nonnull(info);
	g_assert_cmpstr(info->name, ==, "b");
	g_assert_cmpuint(info->links, ==, 1);
	glow__node_info__free_unpacked(info, NULL);
	result_clear(&r);

	/* Describe works on every resource, remote too. */
	GlowAddr b3 = addr_of(net.b, GLOW_RESOURCE_DIAG);
	call(&net, net.a, &b3, "glow.Resource", "Describe", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	Glow__InterfaceInfo *ii = glow__interface_info__unpack(NULL, r.payload->len, r.payload->data);
	g_assert_cmpstr(ii->name, ==, "glow.Diag");
	g_assert_cmpuint(ii->n_methods, ==, 3);
	g_assert_true(ii->methods[1]->server_streaming); /* Source */
	g_assert_false(ii->methods[0]->server_streaming);
	glow__interface_info__free_unpacked(ii, NULL);
	result_clear(&r);
	net_down(&net);
}

static void test_errors(void)
{
	Net net;
	Result r = { 0 };
	Glow__Empty empty = GLOW__EMPTY__INIT;
	net_up(&net);

	GlowAddr missing = addr_of(net.b, 4242);
	call(&net, net.a, &missing, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_ERROR);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_NOT_FOUND);
	g_assert_nonnull(strstr(r.message, "no such resource glow://"));
	result_clear(&r);

	/* The diag resource does not implement glow.Node. */
	GlowAddr diag = addr_of(net.b, GLOW_RESOURCE_DIAG);
	call(&net, net.a, &diag, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_UNIMPLEMENTED);
	result_clear(&r);

	/* Garbage where an EchoRequest should be. */
	{
		const GlowInterface *i = glow_iface_by_name(net.reg, "glow.Diag");
		GlowAddr src = { *glow_node_id(net.a), 1000 };
		const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1 };
		GlowErrorCode code;
		g_autofree char *err = NULL;
		r.rpc = glow_node_rpc(net.a);
		r.id = glow_rpc_call(r.rpc, &src, &diag, i->id, glow_iface_method_by_name(i, "Echo")->id, junk,
		                     sizeof junk, NULL, on_response, &r, &code, &err);
		run_until(net.ctx, &r.done, 5000);
		g_assert_cmpuint(r.code, ==, GLOW_ERR_BAD_REQUEST);
		result_clear(&r);
	}

	/* No link to that node. */
	GlowAddr nowhere = { { { 7 } }, 0 };
	call(&net, net.a, &nowhere, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_UNREACHABLE);
	result_clear(&r);

	/* Methods that change a node are for its own callers only. */
	GlowAddr b0 = addr_of(net.b, GLOW_RESOURCE_NODE);
	call(&net, net.a, &b0, "glow.Node", "Shutdown", &empty.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(r.message, "only be called from that node"));
	result_clear(&r);
	GlowAddr dproc = addr_of(net.b, GLOW_RESOURCE_DIAG_PROCESS);
	call(&net, net.a, &dproc, "glow.Process", "Terminate", &empty.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_PERMISSION_DENIED);
	result_clear(&r);

	/* Locally: the core process refuses to die; diag may. */
	GlowAddr core = addr_of(net.b, GLOW_RESOURCE_CORE_PROCESS);
	call(&net, net.b, &core, "glow.Process", "Terminate", &empty.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(r.message, "cannot be terminated"));
	result_clear(&r);
	call(&net, net.b, &dproc, "glow.Process", "Terminate", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	result_clear(&r);
	Glow__EchoRequest echo = GLOW__ECHO_REQUEST__INIT;
	call(&net, net.a, &diag, "glow.Diag", "Echo", &echo.base, 0, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_NOT_FOUND);
	result_clear(&r);
	net_down(&net);
}

static void test_deadline_and_cancel(void)
{
	Net net;
	Result r = { 0 };
	Glow__EchoRequest echo = GLOW__ECHO_REQUEST__INIT;
	gint64 t0;
	net_up(&net);
	GlowAddr diag = addr_of(net.b, GLOW_RESOURCE_DIAG);

	echo.delay_ms = 2000;
	t0 = g_get_monotonic_time();
	call(&net, net.a, &diag, "glow.Diag", "Echo", &echo.base, 200, &r);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_TIMEOUT);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1500 * 1000);
	result_clear(&r);

	/* In time: the delayed answer arrives intact. */
	echo.delay_ms = 50;
	echo.data.data = (uint8_t *)"hello";
	echo.data.len = 5;
	call(&net, net.a, &diag, "glow.Diag", "Echo", &echo.base, 5000, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	Glow__EchoReply *rep = glow__echo_reply__unpack(NULL, r.payload->len, r.payload->data);
	g_assert_cmpmem(rep->data.data, rep->data.len, "hello", 5);
	glow__echo_reply__free_unpacked(rep, NULL);
	result_clear(&r);
	net_down(&net);
}

static void test_stream(void)
{
	Net net;
	Result r = { 0 };
	Glow__SourceRequest req = GLOW__SOURCE_REQUEST__INIT;
	net_up(&net);
	GlowAddr diag = addr_of(net.b, GLOW_RESOURCE_DIAG);

	/* 300 items through a window of 4: only credit flow lets it finish. */
	req.count = 300;
	req.size = 1000;
	call(&net, net.a, &diag, "glow.Diag", "Source", &req.base, 5000, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_END);
	g_assert_cmpuint(r.items, ==, 300);
	result_clear(&r);

	/* Cancel mid-stream: the server stops (no more items arrive). */
	req.count = 1000000;
	req.size = 10;
	req.interval_ms = 5;
	r.cancel_after = 3;
	call(&net, net.a, &diag, "glow.Diag", "Source", &req.base, 5000, &r);
	g_assert_cmpuint(r.items, ==, 3);
	{
		gboolean never = FALSE;
		run_until(net.ctx, &never, 200);
	}
	g_assert_cmpuint(glow_rpc_pending_calls(glow_node_rpc(net.a)), ==, 0);
	result_clear(&r);
	net_down(&net);
}

static void test_node_lost(void)
{
	Net net;
	Result r = { 0 };
	Glow__SourceRequest req = GLOW__SOURCE_REQUEST__INIT;
	const GlowInterface *i;
	GlowAddr src, diag;
	GlowErrorCode code;
	g_autofree char *err = NULL;
	gint64 t0;
	net_up(&net);
	diag = addr_of(net.b, GLOW_RESOURCE_DIAG);
	src = addr_of(net.a, 1000);
	i = glow_iface_by_name(net.reg, "glow.Diag");
	/* A slow endless stream, then the serving node goes away. */
	req.count = 1000000;
	req.size = 10;
	req.interval_ms = 20;
	size_t len = protobuf_c_message_get_packed_size(&req.base);
	uint8_t buf[64];
	protobuf_c_message_pack(&req.base, buf);
	GlowCallOptions opt = { .stream = TRUE };
	r.id = glow_rpc_call(glow_node_rpc(net.a), &src, &diag, i->id, glow_iface_method_by_name(i, "Source")->id, buf,
	                     len, &opt, on_response, &r, &code, &err);
	g_assert_cmpuint(r.id, !=, 0);
	while (r.items < 2)
		g_main_context_iteration(net.ctx, TRUE);
	t0 = g_get_monotonic_time();
	glow_node_free(net.b);
	net.b = NULL;
	run_until(net.ctx, &r.done, 3000);
	g_assert_true(r.done);
	g_assert_cmpuint(r.code, ==, GLOW_ERR_UNREACHABLE);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 1000 * 1000); /* told at once by CLOSE */
	result_clear(&r);
	net_down(&net);
}

static void on_connect_dropped(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	guint *calls = data;
	(void)n;
	(void)error;
	g_assert_null(link);
	g_assert_cmpint(code, ==, GLOW_ERR_CANCELLED);
	(*calls)++;
}

/* A node freed while a dial is in flight: GIO reports the cancelled dial
 * later, after the node is gone (ASan would see a use-after-free). */
static void test_free_while_dialing(void)
{
	GMainContext *ctx = g_main_context_new();
	char *dir, *dir2;
	guint calls = 0;
	GlowNode *n = start_node(ctx, &dir, "x");
	GlowNode *peer = start_node(ctx, &dir2, "y");
	glow_node_connect(n, g_ptr_array_index(glow_node_listen_addresses(peer), 0), NULL, NULL, 3000,
	                  on_connect_dropped, &calls);
	glow_node_free(n);
	g_assert_cmpuint(calls, ==, 1);
	for (int i = 0; i < 50; i++)
		g_main_context_iteration(ctx, FALSE);
	glow_node_free(peer);
	while (g_main_context_iteration(ctx, FALSE))
		;
	g_assert_cmpuint(calls, ==, 1);
	g_main_context_unref(ctx);
	rm_rf(dir);
	rm_rf(dir2);
	g_free(dir);
	g_free(dir2);
}

/* A node of another user may link (and relay), but every private method
 * answers PERMISSION_DENIED; public ones (pairing) still answer. */
static void test_foreign_user(void)
{
	Net net;
	Result r = { 0 };
	Glow__Empty empty = GLOW__EMPTY__INIT;
	Glow__PairStart st = GLOW__PAIR_START__INIT;
	uint8_t junk[32] = { 0xff };
	GlowAddr b0, b3, b4;

	net_up_as(&net, FALSE);
	b0 = addr_of(net.b, GLOW_RESOURCE_NODE);
	b3 = addr_of(net.b, GLOW_RESOURCE_DIAG);
	b4 = addr_of(net.b, GLOW_RESOURCE_PAIRING);
	call(&net, net.a, &b0, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_ERROR);
	g_assert_cmpint(r.code, ==, GLOW_ERR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(r.message, "private to its user's devices"));
	result_clear(&r);
	call(&net, net.a, &b3, "glow.Resource", "Describe", &empty.base, 0, &r);
	g_assert_cmpint(r.code, ==, GLOW_ERR_PERMISSION_DENIED);
	result_clear(&r);
	call(&net, net.a, &b4, "glow.Resource", "Describe", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	result_clear(&r);
	/* No invite is open on b: a join attempt is refused, and b keeps serving. */
	st.invite_id = 1;
	st.share.data = junk;
	st.share.len = sizeof junk;
	call(&net, net.a, &b4, "glow.Pairing", "Start", &st.base, 0, &r);
	g_assert_cmpint(r.code, ==, GLOW_ERR_NOT_FOUND);
	result_clear(&r);
	call(&net, net.b, &b0, "glow.Node", "Info", &empty.base, 0, &r);
	g_assert_cmpint(r.type, ==, GLOW_PKT_REPLY);
	result_clear(&r);
	net_down(&net);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(sodium_init(), >=, 0);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
	g_test_add_func("/rpc/unary-and-describe", test_unary);
	g_test_add_func("/rpc/foreign-user", test_foreign_user);
	g_test_add_func("/rpc/errors", test_errors);
	g_test_add_func("/rpc/deadline", test_deadline_and_cancel);
	g_test_add_func("/rpc/stream", test_stream);
	g_test_add_func("/rpc/node-lost", test_node_lost);
	g_test_add_func("/rpc/free-while-dialing", test_free_while_dialing);
	return g_test_run();
}
