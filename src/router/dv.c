#include "router/dv.h"

#include <string.h>

/* Wire format (docs/routing.md): a message is a version byte then TLVs,
 * each u8 type | u8 body length | body, integers big-endian. */
#define DV_VERSION 1
#define TLV_UPDATE 1      /* u16 seqno | u16 metric | 32 origin */
#define TLV_REQUEST 2     /* u16 seqno | u8 hops | u8 0 | 32 origin */
#define TLV_BODY 36
#define MAX_SOURCES 65536
#define REQUEST_RETRY_MS 500
#define REQUEST_DEDUP_MS 250    /* a request forwarded this recently is not forwarded again (under the retry) */
#define DRIFT_INTERVAL_MS 30000 /* metrics that moved by less than a quarter are sent this often */

typedef struct {
	guint64 handle;
	GlowNodeId id;
	guint cost;
	gboolean want_dump; /* send it the whole table at the next flush */
} Neigh;

typedef struct {
	guint64 neigh;
	guint16 seqno;
	guint adv_metric;   /* what the neighbour advertised */
	guint64 refreshed_ms;
	guint64 requested_ms; /* when we last asked this neighbour for a newer seqno (0: not since its last update) */
} Route;

typedef struct {
	GlowNodeId origin;
	gboolean has_fd;    /* feasibility distance: best (seqno, metric) we advertised */
	guint16 fd_seqno;
	guint fd_metric;
	GArray *routes;     /* Route, one per neighbour that advertised it */
	gint selected;      /* index in routes, -1 = none */
	guint sel_metric;
	guint64 sel_neigh;
	guint advertised_metric; /* what we last told the neighbours */
	guint16 advertised_seqno;
	gboolean pending;   /* a triggered update is due */
	guint64 fwd_ms;     /* the last request for this origin we forwarded: when, which seqno, to whom */
	guint16 fwd_seqno;
	guint64 fwd_neigh;
	guint64 lost_ms;    /* when the last route went (0 = has one) */
} Source;

struct GlowDv {
	GlowNodeId self;
	guint16 seqno;
	gboolean self_pending;
	GlowDvConfig cfg;
	GlowDvOutput out;
	gpointer user;
	GHashTable *sources; /* GlowNodeId* -> Source* (key owned by the Source) */
	GHashTable *neighs;  /* guint64* -> Neigh* */
	guint64 next_periodic;
	guint64 next_drift;
	GlowDvStats stats;
};

void glow_dv_config_default(GlowDvConfig *cfg)
{
	/* Links are reliable and ordered, and a lost message is made up for at
	 * once (msg_send), so periodic updates are only a safety net. */
	cfg->update_interval_ms = 300000;
	cfg->route_expiry_ms = 1050000; /* 3.5 update intervals, as Babel */
	cfg->request_hops = 64;
	/* The FD must outlive every stale copy of our advertisements, which a
	 * neighbour may keep until its route expires (RFC 8966 3.7.3). */
	cfg->source_gc_ms = cfg->route_expiry_ms + 180000;
	cfg->transit = TRUE;
}

/* Sequence numbers wrap: a is newer than b within half the space. */
static gboolean seq_newer(guint16 a, guint16 b)
{
	return a != b && (guint16)(a - b) < 0x8000;
}

static void source_free(gpointer p)
{
	Source *s = p;
	g_array_unref(s->routes);
	g_free(s);
}

GlowDv *glow_dv_new(const GlowNodeId *self, const GlowDvConfig *cfg, const GlowDvOutput *out, gpointer user)
{
	GlowDv *dv = g_new0(GlowDv, 1);
	dv->self = *self;
	dv->cfg = *cfg;
	dv->out = *out;
	dv->user = user;
	dv->sources = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, source_free);
	dv->neighs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	/* Start from a number of our own, not 0: after a restart the network may
	 * still remember our old seqno, and a request will move us past it. */
	dv->seqno = (guint16)(self->b[0] << 8 | self->b[1]);
	return dv;
}

void glow_dv_free(GlowDv *dv)
{
	if (!dv)
		return;
	g_hash_table_destroy(dv->sources);
	g_hash_table_destroy(dv->neighs);
	g_free(dv);
}

static Neigh *neigh_get(const GlowDv *dv, guint64 handle)
{
	return g_hash_table_lookup(dv->neighs, &handle);
}

static guint add_metric(guint a, guint b)
{
	return a >= GLOW_DV_INFINITY || b >= GLOW_DV_INFINITY || a + b >= GLOW_DV_INFINITY ? GLOW_DV_INFINITY : a + b;
}

static guint route_metric(const GlowDv *dv, const Route *r)
{
	const Neigh *n = neigh_get(dv, r->neigh);
	return n ? add_metric(r->adv_metric, n->cost) : GLOW_DV_INFINITY;
}

/* RFC 8966 3.5.1: an update is feasible if it is a retraction, if we never
 * advertised this origin, or if it is newer, or as new and strictly better
 * than the best we advertised. Taking only feasible routes keeps the
 * routing graph loop-free at every moment. */
static gboolean feasible(const Source *s, guint16 seqno, guint adv_metric)
{
	if (adv_metric >= GLOW_DV_INFINITY || !s->has_fd)
		return TRUE;
	if (seq_newer(seqno, s->fd_seqno))
		return TRUE;
	return seqno == s->fd_seqno && adv_metric < s->fd_metric;
}

static Source *source_get(GlowDv *dv, const GlowNodeId *origin, gboolean create)
{
	Source *s = g_hash_table_lookup(dv->sources, origin);
	if (s || !create || g_hash_table_size(dv->sources) >= MAX_SOURCES)
		return s;
	s = g_new0(Source, 1);
	s->origin = *origin;
	s->routes = g_array_new(FALSE, FALSE, sizeof(Route));
	s->selected = -1;
	s->sel_metric = GLOW_DV_INFINITY;
	s->advertised_metric = GLOW_DV_INFINITY;
	g_hash_table_insert(dv->sources, &s->origin, s);
	return s;
}

/* --- messages ------------------------------------------------------------------ */

typedef struct {
	uint8_t buf[GLOW_DV_MAX_MSG];
	size_t len;
} Msg;

static void msg_send(GlowDv *dv, guint64 neigh, Msg *m)
{
	if (m->len <= 1)
		return;
	dv->stats.msgs_sent++;
	dv->stats.bytes_sent += m->len;
	if (!dv->out.send(dv->user, neigh, m->buf, m->len)) {
		/* Lost updates are not retried one by one: the next flush sends
		 * the neighbour the whole table, which says everything they did. */
		Neigh *n = neigh_get(dv, neigh);
		if (n)
			n->want_dump = TRUE;
		dv->stats.send_failures++;
	}
	m->len = 0;
}

static void msg_tlv(GlowDv *dv, guint64 neigh, Msg *m, uint8_t type, guint16 seqno, guint16 x,
                    const GlowNodeId *origin)
{
	if (m->len + 2 + TLV_BODY > sizeof m->buf)
		msg_send(dv, neigh, m);
	if (m->len == 0)
		m->buf[m->len++] = DV_VERSION;
	uint8_t *p = m->buf + m->len;
	p[0] = type;
	p[1] = TLV_BODY;
	p[2] = (uint8_t)(seqno >> 8);
	p[3] = (uint8_t)seqno;
	p[4] = (uint8_t)(x >> 8);
	p[5] = (uint8_t)x;
	memcpy(p + 6, origin->b, GLOW_NODE_ID_LEN);
	m->len += 2 + TLV_BODY;
}

/* Records what we advertise for s, moving its feasibility distance. */
static void note_advertised(Source *s, guint16 seqno, guint metric)
{
	s->advertised_metric = metric;
	s->advertised_seqno = seqno;
	if (metric >= GLOW_DV_INFINITY)
		return;
	if (!s->has_fd || seq_newer(seqno, s->fd_seqno) || (seqno == s->fd_seqno && metric < s->fd_metric)) {
		s->has_fd = TRUE;
		s->fd_seqno = seqno;
		s->fd_metric = metric;
	}
}

static guint16 source_seqno(const Source *s)
{
	return s->selected >= 0 ? g_array_index(s->routes, Route, s->selected).seqno : s->fd_seqno;
}

/* Adds s's update to m for neighbour n (split horizon: a route is not
 * advertised back through the neighbour it uses; retractions go to all). */
static void add_update(GlowDv *dv, Msg *m, const Neigh *n, Source *s)
{
	guint metric = s->selected >= 0 ? s->sel_metric : GLOW_DV_INFINITY;
	if (!dv->cfg.transit)
		return; /* a node that relays nothing offers no routes (and so holds no FD) */
	if (metric < GLOW_DV_INFINITY && s->sel_neigh == n->handle)
		return;
	if (metric >= GLOW_DV_INFINITY && !s->has_fd)
		return; /* never advertised: nothing to retract */
	msg_tlv(dv, n->handle, m, TLV_UPDATE, source_seqno(s), (guint16)metric, &s->origin);
	/* Whatever we tell anyone bounds what we may accept later (the FD). */
	note_advertised(s, source_seqno(s), metric);
}

static void send_table(GlowDv *dv, Neigh *n)
{
	Msg m = { .len = 0 };
	GHashTableIter it;
	gpointer v;
	msg_tlv(dv, n->handle, &m, TLV_UPDATE, dv->seqno, 0, &dv->self);
	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v))
		add_update(dv, &m, n, v);
	msg_send(dv, n->handle, &m);
}

static void send_request(GlowDv *dv, guint64 neigh, const GlowNodeId *origin, guint16 seqno, guint hops)
{
	Msg m = { .len = 0 };
	msg_tlv(dv, neigh, &m, TLV_REQUEST, seqno, (guint16)(MIN(hops, 255u) << 8), origin);
	msg_send(dv, neigh, &m);
	dv->stats.requests_sent++;
}

/* --- route selection ----------------------------------------------------------- */

/* We have routes but none is feasible: ask the neighbours that offer them
 * for a seqno newer than the one we hold, which only the origin can make
 * (RFC 8966 3.8.2.1). A neighbour is asked again as soon as it sends an
 * update for that origin (it may have dropped our request because it was
 * routing through us; an update means it no longer is: split horizon), and
 * otherwise after REQUEST_RETRY_MS (the request or its answer may have
 * been lost with a dying link). */
static void starving(GlowDv *dv, Source *s, guint64 now)
{
	if (!s->has_fd)
		return;
	for (guint i = 0; i < s->routes->len; i++) {
		Route *r = &g_array_index(s->routes, Route, i);
		if (route_metric(dv, r) >= GLOW_DV_INFINITY || feasible(s, r->seqno, r->adv_metric))
			continue;
		if (r->requested_ms && now - r->requested_ms < REQUEST_RETRY_MS)
			continue;
		r->requested_ms = now ? now : 1;
		send_request(dv, r->neigh, &s->origin, (guint16)(s->fd_seqno + 1), dv->cfg.request_hops);
	}
}

static void select_route(GlowDv *dv, Source *s, guint64 now)
{
	gint best = -1;
	guint best_metric = GLOW_DV_INFINITY;
	gboolean unfeasible_alternative = FALSE;

	for (guint i = 0; i < s->routes->len; i++) {
		const Route *r = &g_array_index(s->routes, Route, i);
		guint m = route_metric(dv, r);
		if (m >= GLOW_DV_INFINITY)
			continue;
		if (!feasible(s, r->seqno, r->adv_metric)) {
			unfeasible_alternative = TRUE;
			continue;
		}
		/* Ties keep the route in use: no flapping between equals. */
		if (m < best_metric || (m == best_metric && (gint)i == s->selected)) {
			best = (gint)i;
			best_metric = m;
		}
	}
	guint64 neigh = best >= 0 ? g_array_index(s->routes, Route, best).neigh : 0;
	gboolean hop_changed = neigh != s->sel_neigh;
	guint old = s->sel_metric;
	s->selected = best;
	s->sel_metric = best_metric;
	s->sel_neigh = neigh;
	if (hop_changed || best_metric != old)
		dv->out.route_changed(dv->user, &s->origin, neigh, best_metric);
	/* Trigger at once on a new next hop or a lost route; metric drift waits
	 * for the periodic update unless it is large. */
	/* A newer seqno travels at once too: someone may be starving for it. */
	gboolean newer = best >= 0 && seq_newer(g_array_index(s->routes, Route, best).seqno, s->advertised_seqno);
	if (hop_changed || newer || (best_metric >= GLOW_DV_INFINITY) != (s->advertised_metric >= GLOW_DV_INFINITY) ||
	    best_metric > s->advertised_metric + s->advertised_metric / 4 + 1 ||
	    best_metric + best_metric / 4 + 1 < s->advertised_metric)
		s->pending = TRUE;
	if (best < 0 && unfeasible_alternative)
		starving(dv, s, now);
}

static void drop_route(Source *s, guint i)
{
	if (s->selected == (gint)i)
		s->selected = -1;
	else if (s->selected > (gint)i)
		s->selected--;
	g_array_remove_index(s->routes, i);
}

/* --- input ----------------------------------------------------------------------- */

static void handle_update(GlowDv *dv, Neigh *n, guint16 seqno, guint metric, const GlowNodeId *origin, guint64 now)
{
	Source *s;
	guint i;

	if (glow_node_id_equal(origin, &dv->self)) {
		/* The network remembers a newer seqno of ours (we restarted): jump past it. */
		if (seq_newer(seqno, dv->seqno)) {
			dv->seqno = (guint16)(seqno + 1);
			dv->self_pending = TRUE;
		}
		return;
	}
	s = source_get(dv, origin, metric < GLOW_DV_INFINITY);
	if (!s)
		return;
	for (i = 0; i < s->routes->len; i++)
		if (g_array_index(s->routes, Route, i).neigh == n->handle)
			break;
	if (metric >= GLOW_DV_INFINITY) {
		if (i < s->routes->len)
			drop_route(s, i);
	} else {
		if (i == s->routes->len) {
			Route r = { .neigh = n->handle };
			g_array_append_val(s->routes, r);
		}
		Route *r = &g_array_index(s->routes, Route, i);
		/* An update from a neighbour says it routes elsewhere than through
		 * us (split horizon), so a request it dropped may go through now. */
		r->requested_ms = 0;
		r->seqno = seqno;
		r->adv_metric = metric;
		r->refreshed_ms = now;
		if (!feasible(s, seqno, metric))
			dv->stats.updates_unfeasible++;
	}
	select_route(dv, s, now);
}

static void handle_request(GlowDv *dv, Neigh *n, guint16 seqno, guint hops, const GlowNodeId *origin, guint64 now)
{
	Source *s;

	if (glow_node_id_equal(origin, &dv->self)) {
		/* Someone starves for a newer route to us: make one (RFC 8966 3.8.1.2). */
		if (seq_newer(seqno, dv->seqno))
			dv->seqno = seqno;
		dv->self_pending = TRUE;
		return;
	}
	s = source_get(dv, origin, FALSE);
	if (!s || s->selected < 0)
		return;
	if (!seq_newer(seqno, source_seqno(s))) {
		s->pending = TRUE; /* we can answer: our route is that new */
		return;
	}
	if (hops <= 1 || s->sel_neigh == n->handle)
		return;
	/* Many starving nodes behind us ask for the same thing at once: one
	 * copy on the way to the origin answers them all (RFC 8966 3.8.2.2). */
	if (s->fwd_ms && now - s->fwd_ms < REQUEST_DEDUP_MS && s->fwd_neigh == s->sel_neigh &&
	    !seq_newer(seqno, s->fwd_seqno))
		return;
	s->fwd_ms = now ? now : 1;
	s->fwd_seqno = seqno;
	s->fwd_neigh = s->sel_neigh;
	send_request(dv, s->sel_neigh, origin, seqno, hops - 1);
}

gboolean glow_dv_receive(GlowDv *dv, guint64 neigh, const uint8_t *msg, size_t len, guint64 now_ms)
{
	Neigh *n = neigh_get(dv, neigh);
	size_t off = 1;

	dv->stats.msgs_received++;
	dv->stats.bytes_received += len;
	/* Validate the whole message first: nothing is applied from a bad one. */
	if (!n || len < 1 || len > GLOW_DV_MAX_MSG || msg[0] != DV_VERSION)
		goto bad;
	while (off < len) {
		if (len - off < 2 || len - off - 2 < msg[off + 1])
			goto bad;
		if ((msg[off] == TLV_UPDATE || msg[off] == TLV_REQUEST) && msg[off + 1] != TLV_BODY)
			goto bad;
		off += 2 + msg[off + 1];
	}
	for (off = 1; off < len; off += 2 + msg[off + 1]) {
		const uint8_t *p = msg + off + 2;
		GlowNodeId origin;
		if (msg[off] != TLV_UPDATE && msg[off] != TLV_REQUEST)
			continue; /* a newer node's TLV, of any length: not read */
		guint16 seqno = (guint16)(p[0] << 8 | p[1]);
		memcpy(origin.b, p + 4, GLOW_NODE_ID_LEN);
		if (msg[off] == TLV_UPDATE)
			handle_update(dv, n, seqno, (guint)(p[2] << 8 | p[3]), &origin, now_ms);
		else
			handle_request(dv, n, seqno, p[2], &origin, now_ms);
	}
	glow_dv_flush(dv, now_ms);
	return TRUE;
bad:
	dv->stats.malformed++;
	return FALSE;
}

/* --- neighbours ---------------------------------------------------------------------- */

static void reselect_all(GlowDv *dv, guint64 now)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v))
		select_route(dv, v, now);
}

void glow_dv_neighbour_up(GlowDv *dv, guint64 neigh, const GlowNodeId *id, guint cost, guint64 now_ms)
{
	Neigh *n = neigh_get(dv, neigh);
	if (!n) {
		n = g_new0(Neigh, 1);
		n->handle = neigh;
		g_hash_table_insert(dv->neighs, &n->handle, n);
	}
	n->id = *id;
	n->cost = CLAMP(cost, 1u, GLOW_DV_INFINITY - 1);
	n->want_dump = TRUE; /* a new neighbour learns everything at once */
	glow_dv_flush(dv, now_ms);
}

void glow_dv_neighbour_cost(GlowDv *dv, guint64 neigh, guint cost, guint64 now_ms)
{
	Neigh *n = neigh_get(dv, neigh);
	if (!n)
		return;
	n->cost = CLAMP(cost, 1u, GLOW_DV_INFINITY - 1);
	reselect_all(dv, now_ms);
	glow_dv_flush(dv, now_ms);
}

void glow_dv_neighbour_down(GlowDv *dv, guint64 neigh, guint64 now_ms)
{
	GHashTableIter it;
	gpointer v;
	if (!g_hash_table_remove(dv->neighs, &neigh))
		return;
	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Source *s = v;
		for (guint i = 0; i < s->routes->len; i++) {
			if (g_array_index(s->routes, Route, i).neigh == neigh) {
				drop_route(s, i);
				break;
			}
		}
	}
	reselect_all(dv, now_ms);
	glow_dv_flush(dv, now_ms);
}

/* --- timers and output ------------------------------------------------------------------ */

void glow_dv_flush(GlowDv *dv, guint64 now_ms)
{
	GHashTableIter it, nit;
	gpointer v, nv;
	GPtrArray *due = g_ptr_array_new();

	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (((Source *)v)->pending)
			g_ptr_array_add(due, v);
	g_hash_table_iter_init(&nit, dv->neighs);
	while (g_hash_table_iter_next(&nit, NULL, &nv)) {
		Neigh *n = nv;
		Msg m = { .len = 0 };
		if (n->want_dump) {
			n->want_dump = FALSE;
			send_table(dv, n);
			continue;
		}
		if (dv->self_pending)
			msg_tlv(dv, n->handle, &m, TLV_UPDATE, dv->seqno, 0, &dv->self);
		for (guint i = 0; i < due->len; i++)
			add_update(dv, &m, n, due->pdata[i]);
		msg_send(dv, n->handle, &m);
	}
	for (guint i = 0; i < due->len; i++) {
		Source *s = due->pdata[i];
		s->pending = FALSE;
		if (dv->cfg.transit)
			note_advertised(s, source_seqno(s), s->selected >= 0 ? s->sel_metric : GLOW_DV_INFINITY);
	}
	dv->self_pending = FALSE;
	g_ptr_array_free(due, TRUE);
	(void)now_ms;
}

static void expire_routes(GlowDv *dv, guint64 now)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Source *s = v;
		gboolean changed = FALSE;
		for (guint i = 0; i < s->routes->len;) {
			if (now - g_array_index(s->routes, Route, i).refreshed_ms > dv->cfg.route_expiry_ms) {
				drop_route(s, i);
				changed = TRUE;
			} else {
				i++;
			}
		}
		if (changed)
			select_route(dv, s, now);
		else if (s->selected < 0)
			starving(dv, s, now); /* retries */
		/* The feasibility distance must outlive every route that may still
		 * carry our old advertisement (RFC 8966 keeps it 3 minutes);
		 * forgetting it early would let stale routes back in as loops. */
		if (s->routes->len || s->selected >= 0) {
			s->lost_ms = 0;
		} else if (!s->lost_ms) {
			s->lost_ms = now ? now : 1;
		} else if (!s->pending && now - s->lost_ms > dv->cfg.source_gc_ms) {
			g_hash_table_iter_remove(&it);
		}
	}
}

void glow_dv_tick(GlowDv *dv, guint64 now_ms)
{
	GHashTableIter it;
	gpointer v;

	expire_routes(dv, now_ms);
	if (now_ms >= dv->next_drift) {
		/* Small moves wait for this, not for the periodic dump: only the
		 * origins whose metric moved by more than a sixteenth since we last
		 * said it (less is RTT noise on a LAN, not worth a message). */
		dv->next_drift = now_ms + DRIFT_INTERVAL_MS;
		g_hash_table_iter_init(&it, dv->sources);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			Source *s = v;
			guint d = s->sel_metric > s->advertised_metric ? s->sel_metric - s->advertised_metric
			                                                : s->advertised_metric - s->sel_metric;
			if (s->selected >= 0 && d > s->advertised_metric / 16 + 1)
				s->pending = TRUE;
		}
	}
	if (now_ms >= dv->next_periodic) {
		dv->next_periodic = now_ms + dv->cfg.update_interval_ms;
		g_hash_table_iter_init(&it, dv->sources);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			Source *s = v;
			if (s->selected >= 0 && dv->cfg.transit)
				note_advertised(s, source_seqno(s), s->sel_metric);
		}
		g_hash_table_iter_init(&it, dv->neighs);
		while (g_hash_table_iter_next(&it, NULL, &v))
			((Neigh *)v)->want_dump = TRUE;
	}
	glow_dv_flush(dv, now_ms);
}

guint64 glow_dv_next_deadline(const GlowDv *dv)
{
	return MIN(dv->next_periodic, dv->next_drift);
}

/* --- queries --------------------------------------------------------------------------------- */

gboolean glow_dv_lookup(const GlowDv *dv, const GlowNodeId *dst, guint64 *neigh, guint *metric)
{
	const Source *s = g_hash_table_lookup(dv->sources, dst);
	if (!s || s->selected < 0)
		return FALSE;
	*neigh = s->sel_neigh;
	*metric = s->sel_metric;
	return TRUE;
}

GArray *glow_dv_routes(const GlowDv *dv)
{
	GArray *out = g_array_new(FALSE, TRUE, sizeof(GlowDvRoute));
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, dv->sources);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const Source *s = v;
		GlowDvRoute r = { .dst = s->origin, .neigh = s->sel_neigh, .metric = s->sel_metric };
		if (s->selected >= 0) {
			const Route *sel = &g_array_index(s->routes, Route, s->selected);
			const Neigh *n = neigh_get(dv, sel->neigh);
			r.seqno = sel->seqno;
			r.feasible = TRUE;
			if (n)
				r.next_hop = n->id;
		}
		g_array_append_val(out, r);
	}
	return out;
}

const GlowDvStats *glow_dv_stats(const GlowDv *dv) { return &dv->stats; }
guint16 glow_dv_seqno(const GlowDv *dv) { return dv->seqno; }
