/* The routing protocol's input: a GlowDv with three neighbours receives the
 * input as a sequence of messages (u16 length prefixes; the first byte of
 * each chunk picks the neighbour), with neighbour events and ticks in
 * between. It must never crash, and its invariants must hold after each
 * step: every selected route leaves through a live neighbour and has a
 * finite metric, and messages it sends are well-formed and bounded. */
#include "fuzz-common.h"
#include "router/dv.h"

FUZZ_DEFINE_INIT()

typedef struct {
	gboolean up[4];
} State;

static gboolean on_send(gpointer user, guint64 neigh, const uint8_t *msg, size_t len)
{
	State *st = user;
	FUZZ_CHECK(neigh >= 1 && neigh <= 3 && st->up[neigh]);
	FUZZ_CHECK(len >= 1 && len <= GLOW_DV_MAX_MSG && msg[0] == 1);
	return neigh != 3 || len % 7; /* now and then a queue is full */
}

static void on_route(gpointer user, const GlowNodeId *dst, guint64 neigh, guint metric)
{
	State *st = user;
	(void)dst;
	FUZZ_CHECK(neigh == 0 || (neigh <= 3 && st->up[neigh]));
	FUZZ_CHECK(neigh == 0 ? metric == GLOW_DV_INFINITY : metric < GLOW_DV_INFINITY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const GlowDvOutput out = { on_send, on_route };
	GlowDvConfig cfg;
	GlowNodeId self = { { 0x42 } }, peer[4];
	State st = { { FALSE } };
	guint64 now = 1000;
	size_t off = 0;
	GlowDv *dv;

	glow_dv_config_default(&cfg);
	dv = glow_dv_new(&self, &cfg, &out, &st);
	for (int i = 1; i <= 3; i++) {
		memset(&peer[i], i, sizeof peer[i]);
		st.up[i] = TRUE;
		glow_dv_neighbour_up(dv, (guint64)i, &peer[i], (guint)(i * 7), now);
	}
	while (size - off >= 3) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint8_t ctl = data[off + 2];
		guint64 neigh = ctl % 4;
		off += 3;
		len = MIN(len, size - off);
		now += ctl >> 2;
		if (neigh == 0) {
			/* Control chunk: flip a neighbour, change a cost, or tick. */
			guint which = len % 3 + 1;
			if (ctl & 0x80) {
				/* The harness's view changes first: a new neighbour is sent
				 * the table at once; a departing one must get nothing more. */
				st.up[which] = !st.up[which];
				if (!st.up[which])
					glow_dv_neighbour_down(dv, which, now);
				else
					glow_dv_neighbour_up(dv, which, &peer[which], (guint)(ctl & 0x3f) + 1, now);
			} else if (st.up[which]) {
				glow_dv_neighbour_cost(dv, which, (guint)(ctl & 0x3f) + 1, now);
			}
			glow_dv_tick(dv, now);
		} else if (st.up[neigh]) {
			glow_dv_receive(dv, neigh, data + off, len, now);
		}
		off += len;
	}
	glow_dv_tick(dv, now + 200000); /* everything expires */
	GArray *routes = glow_dv_routes(dv);
	for (guint i = 0; i < routes->len; i++) {
		const GlowDvRoute *r = &g_array_index(routes, GlowDvRoute, i);
		FUZZ_CHECK(r->neigh == 0 || (r->neigh <= 3 && st.up[r->neigh]));
	}
	g_array_unref(routes);
	glow_dv_free(dv);
	return 0;
}
