#include "services/diag/diag.h"

#include <stdlib.h>
#include <string.h>

#include "glow/diag.pb-c.h"

#define MAX_ITEM (GLOW_PACKET_MAX_PAYLOAD - 1024)
#define MAX_DELAY_MS 60000
#define MAX_DELAYED_ECHO (64 * 1024) /* bytes a delayed echo may hold */
#define MAX_MEASURE_COUNT 10000000
#define MAX_INFLIGHT 1024

typedef struct Diag Diag;

typedef enum { OP_ECHO, OP_SOURCE, OP_MEASURE } OpKind;

typedef struct {
	Diag *diag;
	OpKind kind;
	GlowCall *call;
	GSource *timer;
	/* echo */
	GByteArray *data;
	/* source */
	guint64 count, sent;
	guint32 size, interval_ms;
	/* measure */
	GlowAddr target;
	Glow__MeasureRequest__Mode mode;
	guint64 started, done, total;
	guint window;      /* calls kept in flight (RATE) */
	gint64 t0;
	gint64 *lat;      /* per-call latency (LATENCY) */
	GHashTable *calls; /* call id -> start time */
	guint64 bytes;
	uint8_t *echo_payload;
	size_t echo_len;
} Op;

struct Diag {
	uint8_t *pattern; /* MAX_ITEM bytes every Source stream sends from; made on first use */
	GlowResourceTable *t;
	GMainContext *ctx;
	GlowResource *res;
	GList *ops;
};

/* One read-only buffer for all streams: a stream costs no memory while it
 * waits for credit, however large its items. */
static void diag_pattern(Diag *d)
{
	if (d->pattern)
		return;
	d->pattern = g_malloc(MAX_ITEM);
	for (guint32 i = 0; i < MAX_ITEM; i++)
		d->pattern[i] = (uint8_t)(i * 31 + 7);
}

static void op_free(Op *op)
{
	op->diag->ops = g_list_remove(op->diag->ops, op);
	if (op->timer) {
		g_source_destroy(op->timer);
		g_source_unref(op->timer);
	}
	if (op->calls) {
		GHashTableIter it;
		gpointer k;
		g_hash_table_iter_init(&it, op->calls);
		while (g_hash_table_iter_next(&it, &k, NULL))
			glow_rpc_cancel(glow_resources_rpc(op->diag->t), *(guint64 *)k);
		g_hash_table_destroy(op->calls);
	}
	if (op->data)
		g_byte_array_unref(op->data);
	g_free(op->lat);
	g_free(op->echo_payload);
	g_free(op);
}

static Op *op_new(Diag *d, OpKind kind, GlowCall *call);

static void op_cancelled(GlowCall *call, gpointer data)
{
	Op *op = data;
	(void)call;
	op->call = NULL;
	op_free(op);
}

static Op *op_new(Diag *d, OpKind kind, GlowCall *call)
{
	Op *op = g_new0(Op, 1);
	op->diag = d;
	op->kind = kind;
	op->call = call;
	d->ops = g_list_prepend(d->ops, op);
	return op;
}

static void set_timer(Op *op, guint ms, GSourceFunc fn)
{
	op->timer = g_timeout_source_new(ms);
	g_source_set_callback(op->timer, fn, op, NULL);
	g_source_attach(op->timer, op->diag->ctx);
}

/* --- Echo -------------------------------------------------------------------------- */

static void echo_reply(GlowCall *call, const uint8_t *data, size_t len)
{
	Glow__EchoReply reply = GLOW__ECHO_REPLY__INIT;
	reply.data.data = (uint8_t *)data;
	reply.data.len = len;
	glow_call_reply(call, &reply.base);
}

static gboolean echo_later(gpointer p)
{
	Op *op = p;
	g_source_unref(op->timer);
	op->timer = NULL;
	echo_reply(op->call, op->data->data, op->data->len);
	op->call = NULL;
	op_free(op);
	return G_SOURCE_REMOVE;
}

static void diag_echo(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	const Glow__EchoRequest *req = (const Glow__EchoRequest *)in;
	Op *op;
	if (!req->delay_ms) {
		echo_reply(call, req->data.data, req->data.len);
		return;
	}
	if (req->delay_ms > MAX_DELAY_MS || req->data.len > MAX_DELAYED_ECHO) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "a delayed echo waits at most %d ms and holds at most %d bytes",
		                MAX_DELAY_MS, MAX_DELAYED_ECHO);
		return;
	}
	op = op_new(data, OP_ECHO, call);
	op->data = g_byte_array_new();
	g_byte_array_append(op->data, req->data.data, (guint)req->data.len);
	glow_call_set_handlers(call, NULL, op_cancelled, op);
	set_timer(op, req->delay_ms, echo_later);
}

/* --- Source ------------------------------------------------------------------------- */

static gboolean source_tick(gpointer p);

static void source_pump(Op *op)
{
	Glow__SourceItem item = GLOW__SOURCE_ITEM__INIT;
	item.data.data = op->diag->pattern;
	item.data.len = op->size;
	while (op->sent < op->count) {
		if (op->interval_ms && op->timer)
			return;
		item.seq = op->sent;
		if (!glow_call_stream_send(op->call, &item.base))
			return; /* out of credit: on_credit resumes; caller gone: on_cancel frees */
		op->sent++;
		if (op->interval_ms) {
			set_timer(op, op->interval_ms, source_tick);
			return;
		}
	}
	glow_call_stream_end(op->call);
	op->call = NULL;
	op_free(op);
}

static gboolean source_tick(gpointer p)
{
	Op *op = p;
	g_source_unref(op->timer);
	op->timer = NULL;
	source_pump(op);
	return G_SOURCE_REMOVE;
}

static void source_credit(GlowCall *call, gpointer data)
{
	(void)call;
	source_pump(data);
}

static void diag_source(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	const Glow__SourceRequest *req = (const Glow__SourceRequest *)in;
	Op *op;
	if (req->size > MAX_ITEM) {
		glow_call_error(call, GLOW_ERR_TOO_BIG, "size is at most %d bytes", MAX_ITEM);
		return;
	}
	op = op_new(data, OP_SOURCE, call);
	op->count = req->count;
	op->size = req->size;
	op->interval_ms = MIN(req->interval_ms, MAX_DELAY_MS);
	diag_pattern(op->diag);
	glow_call_set_handlers(call, source_credit, op_cancelled, op);
	source_pump(op);
}

/* --- Measure ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static void measure_finish(Op *op, GlowErrorCode code, const char *error)
{
	Glow__MeasureReply reply = GLOW__MEASURE_REPLY__INIT;
	gint64 elapsed = g_get_monotonic_time() - op->t0;

	if (code != GLOW_OK) {
		glow_call_error(op->call, code, "measuring %s", error);
	} else {
		reply.count = op->done;
		reply.elapsed_us = (uint64_t)elapsed;
		reply.bytes = op->bytes;
		if (elapsed > 0) {
			reply.calls_per_sec = (double)op->done * 1e6 / (double)elapsed;
			reply.bytes_per_sec = (double)op->bytes * 1e6 / (double)elapsed;
		}
		if (op->lat && op->done) {
			qsort(op->lat, op->done, sizeof(gint64), cmp_i64);
			reply.p50_us = (uint64_t)op->lat[op->done / 2];
			reply.p99_us = (uint64_t)op->lat[MIN(op->done - 1, op->done * 99 / 100)];
		}
		glow_call_reply(op->call, &reply.base);
	}
	op->call = NULL;
	op_free(op);
}

static void measure_next(Op *op);

typedef struct {
	Op *op;
	guint64 id;
	gint64 start;
} Pending;

static void on_answer(const GlowResponse *r, gpointer data)
{
	Pending *p = data;
	Op *op = p->op;
	gint64 now = g_get_monotonic_time();

	if (r->type == GLOW_PKT_ITEM) {
		op->bytes += r->len;
		op->done++;
		return;
	}
	gpointer key = NULL;
	if (g_hash_table_steal_extended(op->calls, &p->id, &key, NULL))
		g_free(key);
	if (r->type == GLOW_PKT_ERROR) {
		g_autofree char *why = g_strdup_printf("call failed: %s", r->message);
		g_free(p);
		measure_finish(op, r->code, why);
		return;
	}
	if (op->mode == GLOW__MEASURE_REQUEST__MODE__THROUGHPUT) {
		g_free(p);
		measure_finish(op, GLOW_OK, NULL);
		return;
	}
	if (op->lat)
		op->lat[op->done] = now - p->start;
	op->done++;
	op->bytes += r->len;
	g_free(p);
	if (op->done == op->total) {
		measure_finish(op, GLOW_OK, NULL);
		return;
	}
	measure_next(op);
}

static gboolean start_call(Op *op, const GlowMethod *m, const ProtobufCMessage *msg, gboolean stream)
{
	GlowRpc *rpc = glow_resources_rpc(op->diag->t);
	GlowAddr src = { *glow_resources_node(op->diag->t), op->diag->res->id };
	GlowCallOptions opt = { .deadline_ms = 30000, .stream = stream, .window = 32 };
	Pending *p = g_new0(Pending, 1);
	GlowErrorCode code;
	g_autofree char *err = NULL;
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = g_malloc(len ? len : 1);

	protobuf_c_message_pack(msg, buf);
	p->op = op;
	p->start = g_get_monotonic_time();
	p->id = glow_rpc_call(rpc, &src, &op->target, glow_firefly_name_id("glow.Diag"), m->id, buf, len, &opt,
	                      on_answer, p, &code, &err);
	g_free(buf);
	if (!p->id) {
		g_free(p);
		measure_finish(op, code, err);
		return FALSE;
	}
	g_hash_table_insert(op->calls, g_memdup2(&p->id, sizeof p->id), p);
	op->started++;
	return TRUE;
}

static void measure_next(Op *op)
{
	const GlowInterface *iface = glow_iface_by_name(glow_resources_registry(op->diag->t), "glow.Diag");
	Glow__EchoRequest req = GLOW__ECHO_REQUEST__INIT;
	guint limit = op->mode == GLOW__MEASURE_REQUEST__MODE__LATENCY ? 1 : op->window;
	req.data.data = op->echo_payload;
	req.data.len = op->echo_len;
	while (op->started < op->total && g_hash_table_size(op->calls) < limit) {
		if (!start_call(op, glow_iface_method_by_name(iface, "Echo"), &req.base, FALSE))
			return;
	}
}

static void diag_measure(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	const Glow__MeasureRequest *req = (const Glow__MeasureRequest *)in;
	const GlowInterface *iface;
	Op *op;
	Diag *d = data;

	if (glow_addr_from_text(req->target, &(GlowAddr){ 0 }) != GLOW_ID_OK) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "target \"%s\" is not a glow:// resource address",
		                req->target);
		return;
	}
	if (req->count == 0 || req->count > MAX_MEASURE_COUNT || req->size > MAX_ITEM ||
	    req->inflight > MAX_INFLIGHT) {
		glow_call_error(call, GLOW_ERR_BAD_REQUEST, "count must be 1..%d, size <= %d, inflight <= %d",
		                MAX_MEASURE_COUNT, MAX_ITEM, MAX_INFLIGHT);
		return;
	}
	iface = glow_iface_by_name(glow_resources_registry(d->t), "glow.Diag");
	op = op_new(d, OP_MEASURE, call);
	glow_addr_from_text(req->target, &op->target);
	op->mode = req->mode;
	op->total = req->count;
	op->calls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	op->t0 = g_get_monotonic_time();
	glow_call_set_handlers(call, NULL, op_cancelled, op);
	if (req->mode == GLOW__MEASURE_REQUEST__MODE__THROUGHPUT) {
		Glow__SourceRequest sreq = GLOW__SOURCE_REQUEST__INIT;
		sreq.count = req->count;
		sreq.size = req->size;
		start_call(op, glow_iface_method_by_name(iface, "Source"), &sreq.base, TRUE);
		return;
	}
	op->echo_len = req->size;
	op->echo_payload = g_malloc0(req->size ? req->size : 1);
	op->window = req->mode == GLOW__MEASURE_REQUEST__MODE__RATE ? MAX(req->inflight, 1u) : 1;
	if (req->mode == GLOW__MEASURE_REQUEST__MODE__LATENCY)
		op->lat = g_new0(gint64, req->count);
	measure_next(op);
}

static const GlowHandlerEntry diag_handlers[] = {
	{ "Echo", diag_echo, GLOW_ACCESS_USER },
	{ "Source", diag_source, GLOW_ACCESS_USER },
	{ "Measure", diag_measure, GLOW_ACCESS_LOCAL }, /* it makes this node act */
	{ NULL, NULL, GLOW_ACCESS_USER },
};

static void diag_stop(GlowProcess *p, gpointer data)
{
	Diag *d = data;
	(void)p;
	while (d->ops) {
		Op *op = d->ops->data;
		GlowCall *call = op->call;
		op->call = NULL;
		if (call)
			glow_call_error(call, GLOW_ERR_UNAVAILABLE, "the diag process was terminated");
		op_free(op);
	}
	g_free(d->pattern);
	g_free(d);
}

GlowProcess *glow_diag_start(GlowResourceTable *t, GMainContext *ctx, GError **error)
{
	Diag *d = g_new0(Diag, 1);
	GlowProcess *p = glow_process_new(t, GLOW_RESOURCE_DIAG_PROCESS, "diag", "builtin", TRUE, error);
	if (!p) {
		g_free(d);
		return NULL;
	}
	d->t = t;
	d->ctx = ctx;
	glow_process_set_stop(p, diag_stop, d);
	d->res = glow_resource_add(p, GLOW_RESOURCE_DIAG, "diag", "glow.Diag", diag_handlers, d, error);
	if (!d->res) {
		glow_process_terminate(p);
		return NULL;
	}
	return p;
}
