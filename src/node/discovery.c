/* discovery.c — finding the user's devices on the LAN with no
 * configuration: signed beacons on every interface (wire/beacon.h over
 * transport/mcast.h) and, when an avahi-daemon runs, DNS-SD _glow._tcp
 * (transport/avahi.h).
 *
 * A beacon that verifies and is fresh (the replay filter) says where a
 * node listens. When its user tag is our user's, the node is dialed (the
 * link then proves who it is: a beacon or a DNS-SD record never grants
 * trust, it only says where to knock). Every beacon is also remembered a
 * short while so that `glow join` can find the device whose invite id it
 * carries. Beacons go out at start (a few in the first seconds), every
 * interval after, at once when something in them changes, and once in
 * answer to a node not heard before, so two nodes that start together
 * find each other within a round trip.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sodium.h>
#include <string.h>

#include "node/node-internal.h"
#include "transport/avahi.h"
#include "transport/mcast.h"
#include "wire/beacon.h"

#define G_LOG_DOMAIN_NODE "glowd"
#define log_msg(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_MESSAGE, __VA_ARGS__)
#define log_info(...) g_log(G_LOG_DOMAIN_NODE, G_LOG_LEVEL_INFO, __VA_ARGS__)

#define HEARD_MAX 256
#define HEARD_KEEP_MS 90000
#define ANSWER_MIN_GAP_MS 200   /* beacons sent in answer, at most this often */
#define OWN_DIAL_GAP_MS 2000       /* a device of ours not linked: dialed again at most this often */
static const guint startup_ms[] = { 0, 300, 1000, 3000 };

typedef struct {
	GlowBeacon b;
	char from[64];       /* "ip:port" the beacon came from, port = its TCP port */
	gint64 heard_us;
	gint64 dialed_us;    /* last dial we made because of it */
} Heard;

struct GlowDiscovery {
	GlowNode *node;
	GlowMcast *mcast;
	GlowAvahi *avahi;
	GlowBeaconFilter *filter;
	GHashTable *heard;   /* GlowNodeId* -> Heard* */
	GSource *timer;
	guint startup_step;
	guint64 last_ts;
	gint64 last_sent_us;
	GlowDiscoveryStats stats;
};

static guint64 wall_ms(void)
{
	return (guint64)(g_get_real_time() / 1000);
}

/* --- local addresses --------------------------------------------------------------------- */

GPtrArray *glow_local_addresses(void)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	struct ifaddrs *ifs = NULL;
	char buf[INET6_ADDRSTRLEN];

	if (getifaddrs(&ifs) < 0)
		return out;
	for (struct ifaddrs *i = ifs; i && out->len < 16; i = i->ifa_next) {
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof buf);
			g_ptr_array_add(out, g_strdup(buf));
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(a))
				continue; /* needs a scope id: not dialable from elsewhere */
			inet_ntop(AF_INET6, a, buf, sizeof buf);
			g_ptr_array_add(out, g_strdup_printf("[%s]", buf));
		}
	}
	freeifaddrs(ifs);
	return out;
}

/* --- sending ------------------------------------------------------------------------------- */

/* The TCP port of the first listener, and explicit (non-wildcard) IPv4/IPv6
 * listen addresses for the beacon. */
static void fill_listen(GlowNode *n, GlowBeacon *b)
{
	for (guint i = 0; i < n->listen_addrs->len; i++) {
		const char *a = n->listen_addrs->pdata[i], *colon = strrchr(a, ':');
		g_autofree char *host = NULL;
		guint64 port;
		GlowBeaconAddr *ba;

		if (!colon || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
			continue;
		if (!b->port)
			b->port = (uint16_t)port;
		host = g_strndup(a, (gsize)(colon - a));
		if (b->n_addrs >= GLOW_BEACON_MAX_ADDRS || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]"))
			continue;
		ba = &b->addrs[b->n_addrs];
		if (inet_pton(AF_INET, host, ba->addr) == 1) {
			ba->family = AF_INET;
		} else if (host[0] == '[' && strlen(host) > 2) {
			host[strlen(host) - 1] = 0;
			if (inet_pton(AF_INET6, host + 1, ba->addr) != 1)
				continue;
			ba->family = AF_INET6;
		} else {
			continue;
		}
		ba->port = (uint16_t)port;
		b->n_addrs++;
	}
}

static void send_beacon(GlowDiscovery *d)
{
	GlowNode *n = d->node;
	GlowBeacon b = { 0 };
	uint8_t buf[GLOW_BEACON_MAX_LEN];
	size_t len;
	guint32 invite = 0;

	b.node = n->identity->id;
	/* Strictly increasing even if the clock steps back: receivers drop
	 * anything not newer than what they last took from us. */
	b.timestamp_ms = MAX(wall_ms(), d->last_ts + 1);
	d->last_ts = b.timestamp_ms;
	uint8_t key[32];
	if (glow_user_beacon_key(n->user, key))
		glow_beacon_user_tag(key, &b.node, b.timestamp_ms, b.user_tag);
	sodium_memzero(key, sizeof key);
	if (glow_pairing_open_invite(n, &invite)) {
		b.invite_open = TRUE;
		b.invite_id = invite;
	}
	g_strlcpy(b.name, n->name, sizeof b.name);
	/* A name cut inside a UTF-8 sequence would make the beacon invalid. */
	if (!g_utf8_validate(b.name, -1, NULL)) {
		const char *end;
		g_utf8_validate(b.name, -1, &end);
		b.name[end - b.name] = 0;
	}
	fill_listen(n, &b);
	len = glow_beacon_encode(&b, n->identity->sk, buf);
	if (!len) {
		d->stats.send_errors++;
		return;
	}
	if (!d->mcast)
		return; /* beacons off: DNS-SD only */
	if (glow_mcast_send(d->mcast, buf, len))
		d->stats.sent++;
	else
		d->stats.send_errors++;
	d->last_sent_us = g_get_monotonic_time();
}

static gboolean on_timer(gpointer data);

static void schedule(GlowDiscovery *d, guint ms)
{
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
	}
	d->timer = g_timeout_source_new(ms);
	g_source_set_callback(d->timer, on_timer, d, NULL);
	g_source_attach(d->timer, d->node->ctx);
}

static gboolean on_timer(gpointer data)
{
	GlowDiscovery *d = data;
	guint next;

	send_beacon(d);
	d->startup_step++;
	next = d->startup_step < G_N_ELEMENTS(startup_ms) ? startup_ms[d->startup_step] - startup_ms[d->startup_step - 1]
	                                                   : d->node->cfg.beacon_interval_ms;
	/* +-10% so that nodes started together drift apart. */
	next = next - next / 10 + (guint)g_random_int_range(0, (gint)(next / 5 + 1));
	schedule(d, next);
	return G_SOURCE_REMOVE;
}

void glow_discovery_changed(GlowNode *n)
{
	GlowDiscovery *d = n->discovery;
	if (!d)
		return;
	if (g_get_monotonic_time() - d->last_sent_us >= ANSWER_MIN_GAP_MS * 1000)
		send_beacon(d);
	if (d->avahi)
		glow_avahi_update(d->avahi, n->name, glow_discovery_port(n));
}

guint16 glow_discovery_port(GlowNode *n)
{
	GlowBeacon b = { 0 };
	fill_listen(n, &b);
	return b.port;
}

/* --- receiving ------------------------------------------------------------------------------ */

static gboolean sockaddr_host(const struct sockaddr *from, char *out, gsize cap)
{
	char buf[INET6_ADDRSTRLEN];
	if (from->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, buf, sizeof buf);
		g_snprintf(out, cap, "%s", buf);
		return TRUE;
	}
	if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof buf);
			g_snprintf(out, cap, "%s", buf);
		} else if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) {
			char ifname[IF_NAMESIZE] = "";
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
			if (!if_indextoname(s6->sin6_scope_id, ifname))
				return FALSE;
			g_snprintf(out, cap, "[%s%%%s]", buf, ifname);
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
			g_snprintf(out, cap, "[%s]", buf);
		}
		return TRUE;
	}
	return FALSE;
}

static void addr_text(const GlowBeaconAddr *a, char *out, gsize cap)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(a->family, a->addr, buf, sizeof buf);
	g_snprintf(out, cap, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", buf, a->port);
}

static void forget_old(GlowDiscovery *d)
{
	GHashTableIter it;
	gpointer v;
	gint64 now = g_get_monotonic_time();
	g_hash_table_iter_init(&it, d->heard);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (now - ((Heard *)v)->heard_us > HEARD_KEEP_MS * 1000)
			g_hash_table_iter_remove(&it);
}

static Heard *remember(GlowDiscovery *d, const GlowBeacon *b, const char *from, gboolean *is_new)
{
	Heard *h = g_hash_table_lookup(d->heard, &b->node);
	*is_new = !h;
	if (!h) {
		if (g_hash_table_size(d->heard) >= HEARD_MAX)
			forget_old(d);
		if (g_hash_table_size(d->heard) >= HEARD_MAX)
			return NULL;
		h = g_new0(Heard, 1);
		h->b.node = b->node;
		g_hash_table_insert(d->heard, &h->b.node, h);
	}
	h->b = *b;
	g_strlcpy(h->from, from, sizeof h->from);
	h->heard_us = g_get_monotonic_time();
	return h;
}

static void on_dialed(GlowNode *n, GlowLink *link, GlowErrorCode code, const char *error, gpointer data)
{
	(void)n;
	(void)link;
	(void)data;
	if (code != GLOW_OK && code != GLOW_ERR_CANCELLED)
		log_info("discovery: dialing a node of this user failed: %s", error);
}

/* A beacon from our own user (its tag proves the sender knows the user's
 * secret): dial it if it is not linked. Its addresses are only candidates:
 * the one that gets a link is what the address book learns (on link up),
 * so a forged or replayed datagram cannot put an address in the book. */
static void own_beacon(GlowDiscovery *d, Heard *h, gboolean is_new)
{
	GlowNode *n = d->node;
	const GlowBeacon *b = &h->b;
	char signed_addr[80];
	const char *target = h->from;
	gint64 now = g_get_monotonic_time();

	if (glow_node_link_to(n, &b->node) || !b->port)
		return;
	if (!is_new && h->dialed_us && now - h->dialed_us < OWN_DIAL_GAP_MS * 1000)
		return;
	if (b->n_addrs) {
		/* Signed by the node itself: better than the datagram's source. */
		addr_text(&b->addrs[0], signed_addr, sizeof signed_addr);
		target = signed_addr;
	}
	h->dialed_us = now;
	glow_node_connect(n, target, &b->node, NULL, 3000, on_dialed, NULL);
}

static void on_datagram(const uint8_t *data, size_t len, const struct sockaddr *from, socklen_t from_len,
                        guint ifindex, gpointer user)
{
	GlowDiscovery *d = user;
	GlowNode *n = d->node;
	g_autoptr(GError) e = NULL;
	GlowBeacon b;
	uint8_t tag[16];
	char host[80], from_text[96];
	gboolean is_new;
	Heard *h;
	(void)from_len;
	(void)ifindex;

	d->stats.received++;
	if (!glow_beacon_decode(data, len, &b, &e)) {
		d->stats.rejected++;
		log_info("discovery: ignoring a datagram: %s", e->message);
		return;
	}
	if (glow_node_id_equal(&b.node, &n->identity->id))
		return; /* our own, looped back */
	if (!glow_beacon_filter_accept(d->filter, &b, wall_ms())) {
		d->stats.replayed++;
		return;
	}
	if (!sockaddr_host(from, host, sizeof host))
		return;
	g_snprintf(from_text, sizeof from_text, "%s:%u", host, b.port);
	if (!(h = remember(d, &b, from_text, &is_new)))
		return;
	d->stats.accepted++;
	if (is_new && g_get_monotonic_time() - d->last_sent_us >= ANSWER_MIN_GAP_MS * 1000)
		send_beacon(d); /* it just started, perhaps: let it hear us now, not in 30 s */
	uint8_t key[32];
	gboolean ours = FALSE;
	if (glow_user_beacon_key(n->user, key)) {
		glow_beacon_user_tag(key, &b.node, b.timestamp_ms, tag);
		ours = sodium_memcmp(tag, b.user_tag, sizeof tag) == 0;
	}
	sodium_memzero(key, sizeof key);
	if (ours)
		own_beacon(d, h, is_new);
}

/* DNS-SD says a _glow._tcp service is there: a hint like a beacon, but
 * unsigned, so it is only ever dialed expecting the ID it claims, and
 * only when that ID is one of our devices. */
static void on_avahi_found(const char *id_text, const char *address, guint16 port, gint ifindex, gpointer user)
{
	GlowDiscovery *d = user;
	GlowNode *n = d->node;
	GlowNodeId id;
	char addr[96];
	(void)ifindex;

	d->stats.dnssd_found++;
	if (!id_text || glow_node_id_from_text(id_text, &id) != GLOW_ID_OK || glow_node_id_equal(&id, &n->identity->id))
		return;
	if (!glow_peers_same_user(n, &id) || glow_node_link_to(n, &id))
		return;
	/* A candidate only, like a beacon's: the book learns it if it links. */
	g_snprintf(addr, sizeof addr, strchr(address, ':') ? "[%s]:%u" : "%s:%u", address, port);
	glow_node_connect(n, addr, &id, NULL, 3000, on_dialed, NULL);
}

static gboolean listed(GPtrArray *ids, const GlowNodeId *id)
{
	for (guint i = 0; ids && i < ids->len; i++)
		if (glow_node_id_equal(ids->pdata[i], id))
			return TRUE;
	return FALSE;
}

gboolean glow_discovery_find_invite(GlowNode *n, guint32 invite_id, GPtrArray *skip, GlowNodeId *id,
                                    GPtrArray *addrs)
{
	GlowDiscovery *d = n->discovery;
	GHashTableIter it;
	gpointer v;
	gint64 now = g_get_monotonic_time();

	if (!d)
		return FALSE;
	g_hash_table_iter_init(&it, d->heard);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		Heard *h = v;
		if (!h->b.invite_open || h->b.invite_id != invite_id || !h->b.port || now - h->heard_us > 60 * G_USEC_PER_SEC ||
		    listed(skip, &h->b.node))
			continue;
		*id = h->b.node;
		g_ptr_array_add(addrs, g_strdup(h->from));
		for (guint i = 0; i < h->b.n_addrs; i++) {
			char a[80];
			addr_text(&h->b.addrs[i], a, sizeof a);
			g_ptr_array_add(addrs, g_strdup(a));
		}
		return TRUE;
	}
	return FALSE;
}

/* --- lifetime ----------------------------------------------------------------------------------- */

gboolean glow_discovery_start(GlowNode *n, GError **error)
{
	GlowDiscovery *d;
	char id[GLOW_NODE_ID_TEXT_BUF];

	if (!n->cfg.discovery)
		return TRUE;
	d = g_new0(GlowDiscovery, 1);
	d->node = n;
	if (n->cfg.beacons)
		d->mcast = glow_mcast_new(n->ctx, (guint16)n->cfg.discovery_port, on_datagram, d, error);
	if (n->cfg.beacons && !d->mcast) {
		g_prefix_error(error, "LAN discovery (port %u; --no-discovery turns it off): ", n->cfg.discovery_port);
		g_free(d);
		return FALSE;
	}
	d->filter = glow_beacon_filter_new(HEARD_MAX);
	d->heard = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, g_free);
	n->discovery = d;
	if (n->cfg.dnssd) {
		glow_node_id_to_text(&n->identity->id, id);
		d->avahi = glow_avahi_new(n->ctx, n->name, id, glow_discovery_port(n), on_avahi_found, d);
	}
	schedule(d, startup_ms[0]);
	return TRUE;
}

void glow_discovery_stop(GlowNode *n)
{
	GlowDiscovery *d = n->discovery;
	if (!d)
		return;
	if (d->timer) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
	}
	glow_avahi_free(d->avahi);
	if (d->mcast)
		glow_mcast_free(d->mcast);
	glow_beacon_filter_free(d->filter);
	g_hash_table_unref(d->heard);
	g_free(d);
	n->discovery = NULL;
}

void glow_discovery_get_stats(GlowNode *n, GlowDiscoveryStats *out)
{
	memset(out, 0, sizeof *out);
	if (!n->discovery)
		return;
	*out = n->discovery->stats;
	out->interfaces = n->discovery->mcast ? glow_mcast_interfaces(n->discovery->mcast) : 0;
	out->dnssd_running = n->discovery->avahi && glow_avahi_running(n->discovery->avahi);
}
