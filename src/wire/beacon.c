/* beacon.c — the signed LAN discovery beacon (layout in beacon.h).
 *
 * Layer: wire. The decoder reads through a bounds-checked cursor, so no
 * field is read before its length is known to be there; it decodes into a
 * local copy and only hands it out once the signature checked.
 */
#include "wire/beacon.h"

#include <gio/gio.h>
#include <sodium.h>
#include <string.h>
#include <sys/socket.h>

#include "wire/bytes.h"

#define OFF_NAME_LEN 68
#define SIG_LEN crypto_sign_BYTES
#define TAG_DOMAIN "glow-beacon-user"
#define TAG_DOMAIN_LEN 16

G_STATIC_ASSERT(sizeof GLOW_BEACON_SIG_CONTEXT - 1 == GLOW_BEACON_SIG_CONTEXT_LEN);
G_STATIC_ASSERT(sizeof TAG_DOMAIN - 1 == TAG_DOMAIN_LEN);
G_STATIC_ASSERT(SIG_LEN == 64);
/* The largest valid beacon fits with room to spare. */
G_STATIC_ASSERT(OFF_NAME_LEN + 1 + GLOW_BEACON_NAME_MAX + 1 + GLOW_BEACON_MAX_ADDRS * 19 + SIG_LEN <=
                GLOW_BEACON_MAX_LEN);

/* UTF-8 and no C0 control character or DEL: names end up in logs and UIs.
 * g_utf8_validate_len also refuses an embedded NUL. */
static gboolean name_ok(const char *s, size_t n)
{
	if (!g_utf8_validate_len(s, n, NULL))
		return FALSE;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		if (c < 0x20 || c == 0x7f)
			return FALSE;
	}
	return TRUE;
}

static size_t addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

/* Signs msg[0..len) with the context prefix; sig goes to msg + len. */
static void sign_body(uint8_t *msg, size_t len, const uint8_t sk[64])
{
	uint8_t signed_msg[GLOW_BEACON_SIG_CONTEXT_LEN + GLOW_BEACON_MAX_LEN];

	memcpy(signed_msg, GLOW_BEACON_SIG_CONTEXT, GLOW_BEACON_SIG_CONTEXT_LEN);
	memcpy(signed_msg + GLOW_BEACON_SIG_CONTEXT_LEN, msg, len);
	crypto_sign_detached(msg + len, NULL, signed_msg, GLOW_BEACON_SIG_CONTEXT_LEN + len, sk);
}

static gboolean verify_body(const uint8_t *msg, size_t len, const uint8_t *sig, const GlowNodeId *node)
{
	uint8_t signed_msg[GLOW_BEACON_SIG_CONTEXT_LEN + GLOW_BEACON_MAX_LEN];

	if (len > GLOW_BEACON_MAX_LEN)
		return FALSE;
	memcpy(signed_msg, GLOW_BEACON_SIG_CONTEXT, GLOW_BEACON_SIG_CONTEXT_LEN);
	memcpy(signed_msg + GLOW_BEACON_SIG_CONTEXT_LEN, msg, len);
	return crypto_sign_verify_detached(sig, signed_msg, GLOW_BEACON_SIG_CONTEXT_LEN + len, node->b) == 0;
}

static gboolean beacon_valid(const GlowBeacon *b, const uint8_t sk[64], size_t *name_len)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];

	*name_len = strnlen(b->name, sizeof b->name);
	if (*name_len > GLOW_BEACON_NAME_MAX || !name_ok(b->name, *name_len))
		return FALSE;
	if (b->n_addrs > GLOW_BEACON_MAX_ADDRS || b->invite_id > GLOW_BEACON_INVITE_MAX)
		return FALSE;
	for (guint i = 0; i < b->n_addrs; i++)
		if (addr_len(b->addrs[i].family) == 0)
			return FALSE;
	/* A beacon signed by another key would only be refused by every receiver. */
	if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0 || memcmp(pk, b->node.b, sizeof pk) != 0)
		return FALSE;
	return TRUE;
}

size_t glow_beacon_encode(const GlowBeacon *b, const uint8_t sk[64], uint8_t out[GLOW_BEACON_MAX_LEN])
{
	size_t name_len, o;

	if (!beacon_valid(b, sk, &name_len))
		return 0;
	memcpy(out, "GLWB", 4);
	out[4] = GLOW_BEACON_VERSION;
	out[5] = b->invite_open ? GLOW_BEACON_F_INVITE : 0;
	glow_put_u16(out + 6, b->port);
	memcpy(out + 8, b->node.b, GLOW_NODE_ID_LEN);
	memcpy(out + 40, b->user_tag, 16);
	glow_put_u64(out + 56, b->timestamp_ms);
	glow_put_u32(out + 64, b->invite_id);
	out[OFF_NAME_LEN] = (uint8_t)name_len;
	o = OFF_NAME_LEN + 1;
	memcpy(out + o, b->name, name_len);
	o += name_len;
	out[o++] = (uint8_t)b->n_addrs;
	for (guint i = 0; i < b->n_addrs; i++) {
		const GlowBeaconAddr *a = &b->addrs[i];
		size_t alen = addr_len(a->family);
		out[o++] = a->family == AF_INET ? 4 : 6;
		memcpy(out + o, a->addr, alen);
		o += alen;
		glow_put_u16(out + o, a->port);
		o += 2;
	}
	sign_body(out, o, sk);
	return o + SIG_LEN;
}

/* --- decoding --------------------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t left;
} Cursor;

/* The next n bytes, or NULL when fewer are left. */
static const uint8_t *take(Cursor *c, size_t n)
{
	const uint8_t *p = c->p;
	if (c->left < n)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

static gboolean fail(GError **error, const char *why)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "beacon: %s", why);
	return FALSE;
}

static gboolean decode_fixed(Cursor *c, GlowBeacon *b, GError **error)
{
	const uint8_t *h = take(c, OFF_NAME_LEN);

	if (!h)
		return fail(error, "truncated header");
	if (memcmp(h, "GLWB", 4) != 0)
		return fail(error, "bad magic");
	if (h[4] != GLOW_BEACON_VERSION)
		return fail(error, "unknown version");
	b->invite_open = (h[5] & GLOW_BEACON_F_INVITE) != 0; /* other bits: ignored */
	b->port = glow_get_u16(h + 6);
	memcpy(b->node.b, h + 8, GLOW_NODE_ID_LEN);
	memcpy(b->user_tag, h + 40, 16);
	b->timestamp_ms = glow_get_u64(h + 56);
	b->invite_id = glow_get_u32(h + 64);
	if (b->invite_id > GLOW_BEACON_INVITE_MAX)
		return fail(error, "invite id over 20 bits");
	return TRUE;
}

static gboolean decode_name(Cursor *c, GlowBeacon *b, GError **error)
{
	const uint8_t *n = take(c, 1);
	const uint8_t *s;

	if (!n)
		return fail(error, "truncated name length");
	if (*n > GLOW_BEACON_NAME_MAX)
		return fail(error, "name too long");
	s = take(c, *n);
	if (!s)
		return fail(error, "truncated name");
	if (!name_ok((const char *)s, *n))
		return fail(error, "name not UTF-8 or has control characters");
	memcpy(b->name, s, *n);
	b->name[*n] = '\0';
	return TRUE;
}

static gboolean decode_addrs(Cursor *c, GlowBeacon *b, GError **error)
{
	const uint8_t *m = take(c, 1);

	if (!m)
		return fail(error, "truncated address count");
	if (*m > GLOW_BEACON_MAX_ADDRS)
		return fail(error, "too many addresses");
	b->n_addrs = *m;
	for (guint i = 0; i < b->n_addrs; i++) {
		GlowBeaconAddr *a = &b->addrs[i];
		const uint8_t *fam = take(c, 1);
		const uint8_t *p;
		size_t alen;

		if (!fam)
			return fail(error, "truncated address");
		if (*fam != 4 && *fam != 6)
			return fail(error, "unknown address family");
		a->family = *fam == 4 ? AF_INET : AF_INET6;
		alen = addr_len(a->family);
		p = take(c, alen + 2);
		if (!p)
			return fail(error, "truncated address");
		memcpy(a->addr, p, alen);
		a->port = glow_get_u16(p + alen);
	}
	return TRUE;
}

gboolean glow_beacon_decode(const uint8_t *buf, size_t len, GlowBeacon *out, GError **error)
{
	GlowBeacon b = { 0 };
	Cursor c = { buf, len };
	const uint8_t *sig;
	size_t body_len;

	if (len > GLOW_BEACON_MAX_LEN)
		return fail(error, "too long");
	if (len < GLOW_BEACON_MIN_LEN)
		return fail(error, "too short");
	if (!decode_fixed(&c, &b, error) || !decode_name(&c, &b, error) || !decode_addrs(&c, &b, error))
		return FALSE;
	body_len = len - c.left;
	sig = take(&c, SIG_LEN);
	if (!sig)
		return fail(error, "truncated signature");
	if (c.left != 0)
		return fail(error, "trailing bytes after the signature");
	if (!verify_body(buf, body_len, sig, &b.node))
		return fail(error, "bad signature");
	*out = b;
	return TRUE;
}

/* --- user tag ------------------------------------------------------------------ */

void glow_beacon_user_tag(const uint8_t user_pk[32], const GlowNodeId *node, guint64 timestamp_ms, uint8_t out[16])
{
	crypto_generichash_state st;
	uint8_t ts[8], full[32];

	glow_put_u64(ts, timestamp_ms);
	crypto_generichash_init(&st, user_pk, 32, sizeof full);
	crypto_generichash_update(&st, (const uint8_t *)TAG_DOMAIN, TAG_DOMAIN_LEN);
	crypto_generichash_update(&st, node->b, GLOW_NODE_ID_LEN);
	crypto_generichash_update(&st, ts, sizeof ts);
	crypto_generichash_final(&st, full, sizeof full);
	memcpy(out, full, 16);
	sodium_memzero(&st, sizeof st);
}

/* --- replay filter ----------------------------------------------------------- */

typedef struct {
	GlowNodeId node;    /* the hash key points here */
	guint64 last_ts;
	GList link;         /* in GlowBeaconFilter.lru, data = this entry */
} FilterEntry;

struct GlowBeaconFilter {
	guint max_nodes;
	GHashTable *by_node; /* GlowNodeId* -> FilterEntry*, owns the entries */
	GQueue lru;          /* head: least recently updated */
};

GlowBeaconFilter *glow_beacon_filter_new(guint max_nodes)
{
	GlowBeaconFilter *f = g_new0(GlowBeaconFilter, 1);

	f->max_nodes = MAX(max_nodes, 1);
	f->by_node = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, g_free);
	g_queue_init(&f->lru);
	return f;
}

void glow_beacon_filter_free(GlowBeaconFilter *f)
{
	if (!f)
		return;
	g_hash_table_destroy(f->by_node);
	g_free(f);
}

guint glow_beacon_filter_size(const GlowBeaconFilter *f)
{
	return g_hash_table_size(f->by_node);
}

static gboolean fresh(guint64 ts, guint64 now_ms)
{
	guint64 d = ts > now_ms ? ts - now_ms : now_ms - ts;
	return d <= GLOW_BEACON_FRESH_MS;
}

/* A new entry for node, making room by evicting the least recently updated. */
static FilterEntry *filter_insert(GlowBeaconFilter *f, const GlowNodeId *node)
{
	FilterEntry *e;

	if (g_hash_table_size(f->by_node) >= f->max_nodes) {
		FilterEntry *old = f->lru.head->data;
		g_queue_unlink(&f->lru, &old->link);
		g_hash_table_remove(f->by_node, &old->node); /* frees old */
	}
	e = g_new0(FilterEntry, 1);
	e->node = *node;
	e->link.data = e;
	g_hash_table_insert(f->by_node, &e->node, e);
	return e;
}

gboolean glow_beacon_filter_accept(GlowBeaconFilter *f, const GlowBeacon *b, guint64 now_ms)
{
	FilterEntry *e;

	if (!fresh(b->timestamp_ms, now_ms))
		return FALSE;
	e = g_hash_table_lookup(f->by_node, &b->node);
	if (e && b->timestamp_ms <= e->last_ts)
		return FALSE;
	if (e)
		g_queue_unlink(&f->lru, &e->link);
	else
		e = filter_insert(f, &b->node);
	e->last_ts = b->timestamp_ms;
	g_queue_push_tail_link(&f->lru, &e->link);
	return TRUE;
}
