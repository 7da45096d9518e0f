/* peers.c — the node's user, its address book, and links to its own
 * devices: certificates from link hellos go into the book, a user's
 * devices tell each other what they know (glow.Node.Sync), and devices
 * that are not linked are dialed from the book with backoff. */
#include <string.h>

#include "glow/node.pb-c.h"
#include "glow/user.pb-c.h"
#include "node/node-internal.h"

#define G_LOG_DOMAIN_NODE "glowd"
#define log_msg(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_MESSAGE, __VA_ARGS__)
#define log_info(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_INFO, __VA_ARGS__)

#define DIAL_BACKOFF_MIN_MS 1000
#define DIAL_BACKOFF_MAX_MS 300000
#define DIAL_TIMEOUT_MS 3000
/* Two devices that find each other at once would both dial; the one with
 * the larger ID waits this long first, so usually one link forms. */
#define DIAL_DEFER_MS 1500
#define BOOK_SAVE_MS 2000
#define SYNC_MAX_PEERS 256

typedef struct {
	GlowNode *node;
	GlowNodeId id;
	guint backoff_ms;
	GSource *timer;
	gboolean dialing;
	guint next_addr;
	gboolean held;   /* disconnected on request: not redialed until there is news of it */
} PeerDial;

static guint64 wall_ms(void)
{
	return (guint64)(g_get_real_time() / 1000);
}

static void peer_dial_free(gpointer p)
{
	PeerDial *d = p;
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
	}
	g_free(d);
}

static gboolean same_user_cb(const GlowNodeId *node, gpointer data)
{
	return glow_peers_same_user(data, node);
}

gboolean glow_peers_same_user(GlowNode *n, const GlowNodeId *id)
{
	GlowNodeId user;
	if (glow_node_id_equal(id, &n->identity->id))
		return TRUE;
	return glow_book_user_of(n->book, id, &user) && glow_node_id_equal(&user, &n->user->key);
}

gboolean glow_peers_start(GlowNode *n, GError **error)
{
	gboolean created = FALSE;
	g_autofree char *path = g_build_filename(n->cfg.state_dir, GLOW_BOOK_FILE, NULL);
	g_autofree char *warning = NULL;
	char uid[GLOW_NODE_ID_TEXT_BUF];

	n->user = glow_user_load_or_create(n->cfg.state_dir, n->identity, &created, error);
	if (!n->user)
		return FALSE;
	glow_node_id_to_text(&n->user->key, uid);
	if (created)
		log_msg("created a new user %s: this node is its first device (pair more with `glow invite`)", uid);
	n->book = glow_book_new(path, GLOW_BOOK_MAX_ENTRIES);
	glow_book_load(n->book, &warning);
	if (warning)
		g_warning("%s", warning);
	glow_book_set_own_user(n->book, &n->user->key);
	n->peer_dials = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, peer_dial_free);
	glow_resources_set_trust(n->resources, same_user_cb, n);
	return TRUE;
}

void glow_peers_stop(GlowNode *n)
{
	g_autoptr(GError) e = NULL;
	if (n->book && !glow_book_save(n->book, &e))
		g_warning("%s", e->message);
	if (n->peer_dials)
		g_hash_table_destroy(n->peer_dials);
	n->peer_dials = NULL;
	glow_book_free(n->book);
	n->book = NULL;
	glow_user_free(n->user);
	n->user = NULL;
}

GlowLink *glow_node_link_to(GlowNode *n, const GlowNodeId *id)
{
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, n->links);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (glow_link_is_established(v) && glow_node_id_equal(glow_link_peer(v), id))
			return v;
	return NULL;
}

/* --- what a node tells its own devices --------------------------------------------- */

static void fill_entry(Glow__PeerInfo *pi, const GlowBookEntry *e, char *id, GPtrArray *strings)
{
	glow_node_id_to_text(&e->id, id);
	pi->node_id = id;
	pi->name = e->name ? e->name : (char *)"";
	if (e->cert)
		pi->cert.data = (uint8_t *)g_bytes_get_data(e->cert, &pi->cert.len);
	pi->n_addresses = MIN(e->addrs->len, (guint)GLOW_BOOK_MAX_ADDRS);
	pi->addresses = g_new0(char *, pi->n_addresses + 1);
	for (guint i = 0; i < pi->n_addresses; i++)
		pi->addresses[i] = ((GlowBookAddr *)e->addrs->pdata[i])->addr;
	g_ptr_array_add(strings, pi->addresses);
	pi->last_seen_ms = e->last_seen_ms;
}

/* Our own entry: listen addresses on a wildcard host travel as "*:PORT",
 * "the address you see me at, this port". */
static void fill_self(GlowNode *n, Glow__PeerInfo *pi, char *id, GPtrArray *strings)
{
	GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
	glow_node_id_to_text(&n->identity->id, id);
	pi->node_id = id;
	pi->name = n->name;
	pi->cert.data = (uint8_t *)g_bytes_get_data(n->user->cert, &pi->cert.len);
	for (guint i = 0; i < n->listen_addrs->len && addrs->len < GLOW_BOOK_MAX_ADDRS; i++) {
		const char *a = n->listen_addrs->pdata[i], *colon = strrchr(a, ':');
		gboolean wild = g_str_has_prefix(a, "0.0.0.0:") || g_str_has_prefix(a, "[::]:");
		if (colon)
			g_ptr_array_add(addrs, wild ? g_strdup_printf("*%s", colon) : g_strdup(a));
	}
	pi->n_addresses = addrs->len;
	g_ptr_array_add(addrs, NULL);
	pi->addresses = (char **)addrs->pdata;
	g_ptr_array_add(strings, g_ptr_array_free(addrs, FALSE));
	pi->last_seen_ms = wall_ms();
}

static void strv_free_shallow(gpointer p)
{
	g_free(p);
}

/* The own user's devices this node knows, itself first. Strings point
 * into the book; free with peer_list_clear before the book changes. */
typedef struct {
	char t[GLOW_NODE_ID_TEXT_BUF];
} GlowIdText;

typedef struct {
	Glow__PeerList list;
	Glow__PeerInfo *items;
	Glow__PeerInfo **ptrs;
	GlowIdText *ids;
	GPtrArray *strings;
	GPtrArray *owned_self;
} PeerListBuf;

static void peer_list_build(GlowNode *n, PeerListBuf *b, gboolean own_only)
{
	g_autoptr(GPtrArray) all = glow_book_list(n->book);
	guint k = 0;

	b->items = g_new0(Glow__PeerInfo, all->len + 1);
	b->ptrs = g_new0(Glow__PeerInfo *, all->len + 1);
	b->ids = g_new0(GlowIdText, all->len + 1);
	b->strings = g_ptr_array_new_with_free_func(strv_free_shallow);
	b->owned_self = g_ptr_array_new_with_free_func(g_free);
	glow__peer_list__init(&b->list);
	glow__peer_info__init(&b->items[0]);
	fill_self(n, &b->items[0], b->ids[0].t, b->owned_self);
	b->items[0].same_user = TRUE;
	b->ptrs[k] = &b->items[k];
	k++;
	for (guint i = 0; i < all->len && k < SYNC_MAX_PEERS; i++) {
		const GlowBookEntry *e = all->pdata[i];
		gboolean own = glow_peers_same_user(n, &e->id);
		if (own_only && !own)
			continue;
		glow__peer_info__init(&b->items[k]);
		fill_entry(&b->items[k], e, b->ids[k].t, b->strings);
		b->items[k].same_user = own;
		b->items[k].linked = glow_node_link_to(n, &e->id) != NULL;
		b->ptrs[k] = &b->items[k];
		k++;
	}
	b->list.n_peers = k;
	b->list.peers = b->ptrs;
}

static void peer_list_clear(PeerListBuf *b)
{
	/* fill_self's address array owns its strings (g_strdup'd): free them. */
	if (b->items && b->items[0].addresses)
		for (guint i = 0; i < b->items[0].n_addresses; i++)
			g_free(b->items[0].addresses[i]);
	g_ptr_array_unref(b->owned_self);
	g_ptr_array_unref(b->strings);
	g_free(b->items);
	g_free(b->ptrs);
	g_free(b->ids);
}

void glow_peers_reply_list(GlowNode *n, GlowCall *call)
{
	PeerListBuf b;
	peer_list_build(n, &b, FALSE);
	glow_call_reply(call, &b.list.base);
	peer_list_clear(&b);
}

static void send_sync(GlowNode *n, const GlowNodeId *to)
{

	const GlowInterface *iface = glow_iface_by_name(n->reg, "glow.Node");
	const GlowMethod *m = glow_iface_method_by_name(iface, "Sync");
	GlowAddr src = { .node = n->identity->id, .resource = GLOW_RESOURCE_NODE };
	GlowAddr dst = { .node = *to, .resource = GLOW_RESOURCE_NODE };
	PeerListBuf b;
	gsize len;
	uint8_t *buf;

	peer_list_build(n, &b, TRUE);
	len = glow__peer_list__get_packed_size(&b.list);
	buf = g_malloc(len);
	glow__peer_list__pack(&b.list, buf);
	peer_list_clear(&b);
	if (len <= GLOW_PACKET_MAX_PAYLOAD)
		glow_rpc_message(n->rpc, &src, &dst, iface->id, m->id, buf, len);
	g_free(buf);
}

/* Tells every linked device of ours what we now know. */
void glow_peers_announce(GlowNode *n)
{
	GHashTableIter it;
	gpointer v;
	g_autoptr(GPtrArray) seen = g_ptr_array_new();

	g_hash_table_iter_init(&it, n->links);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const GlowNodeId *peer = glow_link_is_established(v) ? glow_link_peer(v) : NULL;
		gboolean dup = FALSE;
		if (!peer || !glow_peers_same_user(n, peer))
			continue;
		for (guint i = 0; i < seen->len && !dup; i++)
			dup = glow_node_id_equal(seen->pdata[i], peer);
		if (dup)
			continue;
		g_ptr_array_add(seen, (gpointer)peer);
		send_sync(n, peer);
	}
}

/* --- dialing own devices ------------------------------------------------------------- */

static void dial_next(PeerDial *d);

static gboolean dial_timer(gpointer data)
{
	PeerDial *d = data;
	g_source_unref(d->timer);
	d->timer = NULL;
	d->next_addr = 0;
	dial_next(d);
	return G_SOURCE_REMOVE;
}

static void dial_later(PeerDial *d, guint delay_ms)
{
	if (d->timer || d->dialing || d->held || d->node->stopping)
		return;
	d->timer = g_timeout_source_new(delay_ms);
	g_source_set_callback(d->timer, dial_timer, d, NULL);
	g_source_attach(d->timer, d->node->ctx);
}

static void dial_backoff(PeerDial *d)
{
	/* +-25% jitter, so devices that lost each other do not redial in step. */
	guint delay = d->backoff_ms - d->backoff_ms / 4 + g_random_int_range(0, (gint)(d->backoff_ms / 2 + 1));
	d->backoff_ms = MIN(d->backoff_ms * 2, (guint)DIAL_BACKOFF_MAX_MS);
	dial_later(d, delay);
}

static void on_dial_done(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	PeerDial *d = data;
	(void)link;
	d->dialing = FALSE;
	if (code == GLOW_OK || code == GLOW_ERR_CANCELLED || n->stopping)
		return;
	log_info("dialing a device of this user failed: %s", error);
	d->next_addr++;
	dial_next(d);
}

/* The address to try: "*:PORT" entries are useless to us and skipped. */
static const char *nth_dialable(const GlowBookEntry *e, guint i, guint *at)
{
	for (guint k = 0, seen = 0; k < e->addrs->len; k++) {
		const char *a = ((GlowBookAddr *)e->addrs->pdata[k])->addr;
		if (a[0] == '*')
			continue;
		if (seen++ == i) {
			*at = k;
			return a;
		}
	}
	return NULL;
}

static void dial_next(PeerDial *d)
{
	GlowNode *n = d->node;
	GlowBookEntry *e = glow_book_get(n->book, &d->id);
	const char *addr;
	guint at;

	if (n->stopping || d->dialing || glow_node_link_to(n, &d->id) || !e || !glow_peers_same_user(n, &d->id))
		return;
	if (!(addr = nth_dialable(e, d->next_addr, &at))) {
		dial_backoff(d);
		return;
	}
	d->dialing = TRUE;
	glow_node_connect(n, addr, &d->id, NULL, DIAL_TIMEOUT_MS, on_dial_done, d);
}

static PeerDial *peer_dial_get(GlowNode *n, const GlowNodeId *id, gboolean *created)
{
	PeerDial *d = g_hash_table_lookup(n->peer_dials, id);
	*created = !d;
	if (d)
		return d;
	d = g_new0(PeerDial, 1);
	d->node = n;
	d->id = *id;
	d->backoff_ms = DIAL_BACKOFF_MIN_MS;
	g_hash_table_insert(n->peer_dials, &d->id, d);
	return d;
}

/* Makes sure a device of ours that is not linked gets dialed: now, or
 * (fresh news of it) soon. */
void glow_peers_want(GlowNode *n, const GlowNodeId *id, gboolean fresh)
{
	PeerDial *d;
	gboolean created;

	if (n->stopping || glow_node_id_equal(id, &n->identity->id) || !glow_peers_same_user(n, id) ||
	    glow_node_link_to(n, id))
		return;
	d = peer_dial_get(n, id, &created);
	fresh |= created;
	if (!fresh)
		return;
	d->held = FALSE;
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
		d->timer = NULL;
	}
	d->backoff_ms = DIAL_BACKOFF_MIN_MS;
	dial_later(d, memcmp(n->identity->id.b, id->b, GLOW_NODE_ID_LEN) < 0
	                      ? 0
	                      : DIAL_DEFER_MS + (guint)g_random_int_range(0, DIAL_DEFER_MS / 4));
}

/* --- link events ------------------------------------------------------------------- */

void glow_peers_link_up(GlowNode *n, GlowLink *l)
{
	const GlowNodeId *peer = glow_link_peer(l);
	GBytes *cert = glow_link_peer_cert(l);
	g_autoptr(GError) e = NULL;
	gboolean was_own = glow_peers_same_user(n, peer);
	PeerDial *held = g_hash_table_lookup(n->peer_dials, peer);

	if (held)
		held->held = FALSE;
	if (cert && !glow_book_set_cert(n->book, peer, g_bytes_get_data(cert, NULL), g_bytes_get_size(cert), &e))
		log_msg("link %" G_GUINT64_FORMAT ": ignoring the peer's device certificate: %s", glow_link_id(l),
		        e->message);
	glow_book_set_name(n->book, peer, glow_link_peer_name(l));
	if (glow_link_is_initiator(l) && glow_link_conn(l))
		glow_book_add_addr(n->book, peer, glow_link_conn(l)->remote, wall_ms());
	glow_book_seen(n->book, peer, wall_ms());
	if (glow_peers_same_user(n, peer)) {
		PeerDial *d = g_hash_table_lookup(n->peer_dials, peer);
		if (d)
			d->backoff_ms = DIAL_BACKOFF_MIN_MS;
		if (was_own)
			send_sync(n, peer);
		else
			glow_peers_announce(n); /* a device the others may not know yet: tell them all */
	}
}

void glow_peers_hold(GlowNode *n, const GlowNodeId *id)
{
	gboolean created;
	PeerDial *d = peer_dial_get(n, id, &created);
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
		d->timer = NULL;
	}
	d->held = TRUE;
}

void glow_peers_link_down(GlowNode *n, GlowLink *l, gboolean requested)
{
	const GlowNodeId *peer = glow_link_peer(l);
	PeerDial *d;

	if (requested && !glow_node_link_to(n, peer))
		glow_peers_hold(n, peer);
	d = g_hash_table_lookup(n->peer_dials, peer);
	glow_book_seen(n->book, peer, wall_ms());
	if (!n->stopping && glow_peers_same_user(n, peer) && !(d && d->held))
		glow_peers_want(n, peer, TRUE);
}

/* The remote address a link came from, without its port. */
static char *link_host(GlowLink *l)
{
	const GlowConn *c = glow_link_conn(l);
	const char *colon = c && c->remote ? strrchr(c->remote, ':') : NULL;
	return colon ? g_strndup(c->remote, (gsize)(colon - c->remote)) : NULL;
}

/* A device of ours tells what it knows. Only its entries for our own
 * user's devices are taken, each certificate checked here. */
void glow_peers_sync_received(GlowNode *n, const GlowNodeId *from, const Glow__PeerList *list)
{
	GlowLink *direct = glow_node_link_to(n, from);
	g_autofree char *from_host = direct ? link_host(direct) : NULL;
	gboolean learnt = FALSE;

	for (size_t i = 0; i < list->n_peers && i < SYNC_MAX_PEERS; i++) {
		const Glow__PeerInfo *pi = list->peers[i];
		GlowNodeId id;
		GlowNodeId user;
		gboolean known;

		if (!pi->node_id || glow_node_id_from_text(pi->node_id, &id) != GLOW_ID_OK ||
		    glow_node_id_equal(&id, &n->identity->id))
			continue;
		known = glow_book_user_of(n->book, &id, &user) && glow_node_id_equal(&user, &n->user->key);
		if (pi->cert.len && !glow_book_set_cert(n->book, &id, pi->cert.data, pi->cert.len, NULL))
			continue;
		if (!glow_peers_same_user(n, &id))
			continue;
		learnt |= !known;
		glow_book_set_name(n->book, &id, pi->name);
		for (size_t k = 0; k < pi->n_addresses && k < GLOW_BOOK_MAX_ADDRS; k++) {
			const char *a = pi->addresses[k];
			if (a && a[0] == '*' && a[1] == ':') {
				/* "*:PORT" from the sender about itself: its address as we see it. */
				if (glow_node_id_equal(&id, from) && from_host) {
					g_autofree char *full = g_strdup_printf("%s%s", from_host, a + 1);
					learnt |= glow_book_add_addr(n->book, &id, full, wall_ms());
				}
				continue;
			}
			learnt |= glow_book_add_addr(n->book, &id, a, MIN(pi->last_seen_ms, wall_ms()));
		}
		glow_peers_want(n, &id, !known);
	}
	if (learnt)
		glow_peers_announce(n);
}

/* From the node's tick: saves the book now and then, and keeps a dial
 * going for every device of ours that is not linked. */
void glow_peers_tick(GlowNode *n)
{
	gint64 now = g_get_monotonic_time();
	g_autoptr(GError) e = NULL;

	if (glow_book_dirty(n->book) && now - n->book_saved_us > BOOK_SAVE_MS * 1000) {
		n->book_saved_us = now;
		if (!glow_book_save(n->book, &e))
			g_warning("%s", e->message);
	}
	if (now - n->peers_checked_us < 1000 * 1000)
		return;
	n->peers_checked_us = now;
	g_autoptr(GPtrArray) all = glow_book_list(n->book);
	for (guint i = 0; i < all->len; i++) {
		const GlowBookEntry *be = all->pdata[i];
		if (glow_peers_same_user(n, &be->id))
			glow_peers_want(n, &be->id, FALSE);
	}
}

void glow_peers_relink_user(GlowNode *n)
{
	/* Links keep the hello they began with; what changed reaches the
	 * devices of the (new) user through Sync, and the book dials them. */
	glow_peers_announce(n);
	n->peers_checked_us = 0;
	glow_discovery_changed(n);
}
