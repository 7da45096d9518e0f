/* avahi.c — DNS-SD publishing and browsing through avahi-daemon (see avahi.h).
 *
 * State: at most one AvahiClient at a time. Without a system bus
 * avahi_client_new() fails even with AVAHI_CLIENT_NO_FAIL (that flag only
 * covers a bus without the daemon), so we retry on a timer. With a bus,
 * NO_FAIL leaves the client CONNECTING until the daemon takes its bus name.
 * When the daemon or the bus goes away the client reports FAILURE and can
 * never recover, so we free it and start over; the free is deferred to a
 * timer because the client is still inside its own callback then.
 *
 * Note that avahi-client talks to the daemon with blocking D-Bus calls
 * (creating groups, browsers, resolvers): a daemon that is wedged stalls
 * ctx for up to libdbus's default 25 s timeout. Acceptable for a hint source
 * that is normally answered in microseconds by a local daemon.
 */
#include "transport/avahi.h"

#include "transport/transport.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-glib/glib-watch.h>
#include <string.h>

#define RETRY_MS 5000        /* no system bus: how often to look again */
#define RESTART_MS 500       /* after a FAILURE: short, but never a busy loop */
#define NAME_MAX_BYTES 63    /* an instance name is one DNS label */
#define MAX_RENAMES 32       /* "name #2", "#3"...: give up after so many */
#define DEFAULT_NAME "glow"

struct GlowAvahi {
	GMainContext *ctx;
	AvahiGLibPoll *poll;
	AvahiClient *client;
	AvahiEntryGroup *group;
	AvahiServiceBrowser *browser;
	GHashTable *followed;   /* key (see follow_key) -> Followed*, owns the resolvers */
	GSource *restart;       /* pending client (re)creation */
	char *name;             /* the name asked for */
	char *published_name;   /* name, or avahi's alternative after a collision */
	char *id;
	char *id_txt;           /* "id=<id>" */
	guint16 port;
	gboolean established;
	gboolean absent_logged; /* one line per absence of the daemon, not one per retry */
	gboolean cap_logged;
	GlowAvahiFoundFn fn;
	gpointer user;
};

/* One browsed service we resolve; the resolver stays alive until the
 * browser says the service is gone, so it reports changes (a new port)
 * by itself. */
typedef struct {
	GlowAvahi *a;
	char *key;
	AvahiServiceResolver *resolver;
} Followed;

static void start_client(GlowAvahi *a);

/* --- names and TXT --------------------------------------------------------- */

/* Valid UTF-8 of at most one DNS label, cut at a character boundary. */
static char *clean_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return g_strdup(DEFAULT_NAME);
	char *valid = g_utf8_make_valid(name, -1);
	size_t n = strlen(valid);
	if (n > NAME_MAX_BYTES) {
		n = NAME_MAX_BYTES;
		while (n > 0 && ((guchar)valid[n] & 0xC0) == 0x80)
			n--;
		valid[n] = '\0';
	}
	if (n == 0) {
		g_free(valid);
		return g_strdup(DEFAULT_NAME);
	}
	return valid;
}

static gboolean printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!g_ascii_isprint(s[i]))
			return FALSE;
	}
	return TRUE;
}

/* Copies TXT key's value into out (cap bytes + NUL) if it is there, fits
 * and is printable ASCII. A value that does not fit is refused, not cut:
 * a truncated id would name another node. */
static gboolean txt_value(AvahiStringList *txt, const char *key, char *out, size_t cap)
{
	AvahiStringList *l = avahi_string_list_find(txt, key);
	char *k = NULL, *v = NULL;
	size_t n = 0;
	gboolean ok = FALSE;

	if (l == NULL || avahi_string_list_get_pair(l, &k, &v, &n) < 0)
		return FALSE;
	if (v != NULL && n <= cap && printable(v, n)) {
		memcpy(out, v, n);
		out[n] = '\0';
		ok = TRUE;
	}
	avahi_free(k);
	avahi_free(v);
	return ok;
}

/* The id a service carries, or NULL. Only TXT version 1 (or none) is read:
 * a later version may mean something else by id=. */
static const char *txt_id(AvahiStringList *txt, char out[GLOW_AVAHI_MAX_ID_LEN + 1])
{
	char v[8];

	if (avahi_string_list_find(txt, "v") != NULL &&
	    (!txt_value(txt, "v", v, sizeof v - 1) || strcmp(v, "1") != 0))
		return NULL;
	if (!txt_value(txt, "id", out, GLOW_AVAHI_MAX_ID_LEN))
		return NULL;
	return out;
}

/* --- publishing ------------------------------------------------------------ */

static void next_name(GlowAvahi *a)
{
	char *alt = avahi_alternative_service_name(a->published_name);

	g_info("avahi: service name \"%s\" is taken, trying \"%s\"", a->published_name, alt);
	g_free(a->published_name);
	a->published_name = g_strdup(alt);
	avahi_free(alt);
}

/* Adds our service to the (empty) group and commits it. */
static void add_service(GlowAvahi *a)
{
	int r = AVAHI_ERR_COLLISION;

	for (int i = 0; i < MAX_RENAMES && r == AVAHI_ERR_COLLISION; i++) {
		r = avahi_entry_group_add_service(a->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
						  a->published_name, GLOW_AVAHI_SERVICE_TYPE, NULL, NULL,
						  a->port, "v=1", a->id_txt, NULL);
		if (r == AVAHI_ERR_COLLISION) {
			/* Taken by another client of this daemon. */
			next_name(a);
			avahi_entry_group_reset(a->group);
		}
	}
	if (r == AVAHI_OK)
		r = avahi_entry_group_commit(a->group);
	if (r != AVAHI_OK)
		g_message("avahi: cannot publish \"%s\": %s", a->published_name, avahi_strerror(r));
}

static void group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *user)
{
	GlowAvahi *a = user;

	a->established = state == AVAHI_ENTRY_GROUP_ESTABLISHED;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		g_info("avahi: published \"%s\" (%s port %u)", a->published_name,
		       GLOW_AVAHI_SERVICE_TYPE, a->port);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* Another host on the link has the name. */
		next_name(a);
		avahi_entry_group_reset(g);
		add_service(a);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		g_message("avahi: publication failed: %s",
			  avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
		break;
	default:
		break;
	}
}

static void publish(GlowAvahi *a)
{
	if (a->group == NULL) {
		/* group_cb runs inside avahi_entry_group_new(), before a->group
		 * is set: it must not touch a->group for UNCOMMITED. */
		a->group = avahi_entry_group_new(a->client, group_cb, a);
		if (a->group == NULL) {
			g_message("avahi: cannot create an entry group: %s",
				  avahi_strerror(avahi_client_errno(a->client)));
			return;
		}
	}
	if (avahi_entry_group_is_empty(a->group))
		add_service(a);
}

/* --- browsing --------------------------------------------------------------- */

static void followed_free(gpointer p)
{
	Followed *f = p;

	if (f->resolver != NULL)
		avahi_service_resolver_free(f->resolver);
	g_free(f->key);
	g_free(f);
}

/* Unambiguous even when names hold any character: the name is length-prefixed. */
static char *follow_key(AvahiIfIndex iface, AvahiProtocol proto, const char *name, const char *domain)
{
	return g_strdup_printf("%d/%d/%zu:%s/%s", iface, proto, strlen(name), name, domain);
}

static void report(GlowAvahi *a, AvahiIfIndex iface, const AvahiAddress *address, uint16_t port,
		   AvahiStringList *txt, AvahiLookupResultFlags flags)
{
	char id_buf[GLOW_AVAHI_MAX_ID_LEN + 1];
	char addr[AVAHI_ADDRESS_STR_MAX];

	/* OUR_OWN: published by this very client. LOCAL (published on this
	 * host) is not skipped: other nodes may run on the same machine. */
	if (flags & AVAHI_LOOKUP_RESULT_OUR_OWN)
		return;
	const char *id = txt_id(txt, id_buf);
	if (id != NULL && strcmp(id, a->id) == 0)
		return;
	if (address == NULL || avahi_address_snprint(addr, sizeof addr, address) == NULL)
		return;
	a->fn(id, addr, port, iface, a->user);
}

static void resolve_cb(AvahiServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
		       AvahiResolverEvent event, const char *name, const char *type, const char *domain,
		       const char *host, const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
		       AvahiLookupResultFlags flags, void *user)
{
	Followed *f = user;

	(void)r, (void)proto, (void)type, (void)domain, (void)host;
	if (event == AVAHI_RESOLVER_FOUND) {
		report(f->a, iface, address, port, txt, flags);
		return;
	}
	/* Timed out or gone: forget it (freeing the resolver from its own
	 * callback is allowed); a new browse event brings it back. */
	g_debug("avahi: cannot resolve \"%s\": %s", name,
		avahi_strerror(avahi_client_errno(f->a->client)));
	g_hash_table_remove(f->a->followed, f->key);
}

static void follow(GlowAvahi *a, AvahiIfIndex iface, AvahiProtocol proto, const char *name,
		   const char *type, const char *domain)
{
	g_autofree char *key = follow_key(iface, proto, name, domain);

	if (g_hash_table_contains(a->followed, key))
		return;
	if (g_hash_table_size(a->followed) >= GLOW_AVAHI_MAX_RESOLVERS) {
		if (!a->cap_logged)
			g_message("avahi: following %d services already; ignoring more",
				  GLOW_AVAHI_MAX_RESOLVERS);
		a->cap_logged = TRUE;
		return;
	}
	Followed *f = g_new0(Followed, 1);
	f->a = a;
	f->key = g_steal_pointer(&key);
	f->resolver = avahi_service_resolver_new(a->client, iface, proto, name, type, domain,
						 AVAHI_PROTO_UNSPEC, 0, resolve_cb, f);
	if (f->resolver == NULL) {
		g_debug("avahi: cannot resolve \"%s\": %s", name,
			avahi_strerror(avahi_client_errno(a->client)));
		followed_free(f);
		return;
	}
	g_hash_table_insert(a->followed, f->key, f);
}

static void schedule_restart(GlowAvahi *a, guint ms);

static void browse_cb(AvahiServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
		      AvahiBrowserEvent event, const char *name, const char *type, const char *domain,
		      AvahiLookupResultFlags flags, void *user)
{
	GlowAvahi *a = user;

	(void)b;
	switch (event) {
	case AVAHI_BROWSER_NEW:
		if (!(flags & AVAHI_LOOKUP_RESULT_OUR_OWN))
			follow(a, iface, proto, name, type, domain);
		break;
	case AVAHI_BROWSER_REMOVE: {
		g_autofree char *key = follow_key(iface, proto, name, domain);
		g_hash_table_remove(a->followed, key);
		break;
	}
	case AVAHI_BROWSER_FAILURE:
		g_message("avahi: browsing failed: %s", avahi_strerror(avahi_client_errno(a->client)));
		schedule_restart(a, RESTART_MS);
		break;
	default:
		break;
	}
}

static void browse(GlowAvahi *a)
{
	if (a->browser != NULL)
		return;
	a->browser = avahi_service_browser_new(a->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
					       GLOW_AVAHI_SERVICE_TYPE, NULL, 0, browse_cb, a);
	if (a->browser == NULL)
		g_message("avahi: cannot browse: %s", avahi_strerror(avahi_client_errno(a->client)));
}

/* --- the client --------------------------------------------------------------- */

static void log_absent(GlowAvahi *a, const char *why)
{
	if (a->absent_logged)
		return;
	a->absent_logged = TRUE;
	g_info("avahi: no avahi-daemon (%s); DNS-SD starts when one appears", why);
}

/* Frees the client and everything that hangs off it, children first. */
static void teardown(GlowAvahi *a)
{
	g_hash_table_remove_all(a->followed);
	g_clear_pointer(&a->browser, avahi_service_browser_free);
	g_clear_pointer(&a->group, avahi_entry_group_free);
	g_clear_pointer(&a->client, avahi_client_free);
	a->established = FALSE;
}

static gboolean restart_cb(gpointer user)
{
	GlowAvahi *a = user;

	g_clear_pointer(&a->restart, g_source_unref);
	teardown(a);
	start_client(a);
	return G_SOURCE_REMOVE;
}

static void schedule_restart(GlowAvahi *a, guint ms)
{
	if (a->restart == NULL)
		a->restart = glow_timer_new(a->ctx, ms, restart_cb, a);
}

static void client_cb(AvahiClient *c, AvahiClientState state, void *user)
{
	GlowAvahi *a = user;

	/* The first call comes from inside avahi_client_new(), before it
	 * returns c to us. */
	a->client = c;
	switch (state) {
	case AVAHI_CLIENT_S_RUNNING:
		g_info("avahi: connected to avahi-daemon");
		a->absent_logged = FALSE;
		publish(a);
		browse(a);
		break;
	case AVAHI_CLIENT_S_COLLISION:
	case AVAHI_CLIENT_S_REGISTERING:
		/* The host name is being (re)claimed: records on the old one
		 * must go; they are added again on RUNNING. */
		if (a->group != NULL)
			avahi_entry_group_reset(a->group);
		a->established = FALSE;
		break;
	case AVAHI_CLIENT_CONNECTING:
		log_absent(a, "not running");
		break;
	case AVAHI_CLIENT_FAILURE:
		a->established = FALSE;
		g_info("avahi: lost avahi-daemon: %s", avahi_strerror(avahi_client_errno(c)));
		schedule_restart(a, RESTART_MS);
		break;
	}
}

static void start_client(GlowAvahi *a)
{
	int err = AVAHI_OK;
	AvahiClient *c = avahi_client_new(avahi_glib_poll_get(a->poll), AVAHI_CLIENT_NO_FAIL, client_cb,
					  a, &err);

	if (c != NULL) {
		a->client = c;
		return;
	}
	/* A failed avahi_client_new() has freed whatever our callback made. */
	a->client = NULL;
	a->group = NULL;
	a->browser = NULL;
	log_absent(a, avahi_strerror(err));
	schedule_restart(a, RETRY_MS);
}

/* --- API ------------------------------------------------------------------------ */

GlowAvahi *glow_avahi_new(GMainContext *ctx, const char *name, const char *node_id_text, guint16 port,
			  GlowAvahiFoundFn fn, gpointer user)
{
	GlowAvahi *a = g_new0(GlowAvahi, 1);

	a->ctx = g_main_context_ref(ctx != NULL ? ctx : g_main_context_default());
	a->poll = avahi_glib_poll_new(a->ctx, G_PRIORITY_DEFAULT);
	a->followed = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, followed_free);
	a->name = clean_name(name);
	a->published_name = g_strdup(a->name);
	a->id = g_strdup(node_id_text != NULL ? node_id_text : "");
	a->id_txt = g_strconcat("id=", a->id, NULL);
	a->port = port;
	a->fn = fn;
	a->user = user;
	start_client(a);
	return a;
}

void glow_avahi_update(GlowAvahi *a, const char *name, guint16 port)
{
	char *clean = clean_name(name);

	if (strcmp(clean, a->name) == 0 && port == a->port) {
		g_free(clean);
		return;
	}
	g_free(a->name);
	g_free(a->published_name);
	a->name = clean;
	a->published_name = g_strdup(clean);
	a->port = port;
	a->established = FALSE;
	if (a->group == NULL)
		return; /* published when the daemon is there */
	avahi_entry_group_reset(a->group);
	if (avahi_client_get_state(a->client) == AVAHI_CLIENT_S_RUNNING)
		add_service(a);
}

gboolean glow_avahi_running(const GlowAvahi *a)
{
	return a->client != NULL && avahi_client_get_state(a->client) == AVAHI_CLIENT_S_RUNNING &&
	       a->established;
}

void glow_avahi_free(GlowAvahi *a)
{
	if (a == NULL)
		return;
	if (a->restart != NULL) {
		g_source_destroy(a->restart);
		g_source_unref(a->restart);
	}
	teardown(a);
	g_hash_table_destroy(a->followed);
	avahi_glib_poll_free(a->poll);
	g_main_context_unref(a->ctx);
	g_free(a->name);
	g_free(a->published_name);
	g_free(a->id);
	g_free(a->id_txt);
	g_free(a);
}
