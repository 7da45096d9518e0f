/* config.c — `glow config get/set`: every setting of glowd.conf, read and
 * changed at run time. A change is checked, applied to the running node
 * (new links, listeners, discovery, timers: without a restart and without
 * dropping a link), and written to the config file, keeping its comments.
 * The few settings that cannot change under a running node say so
 * (live = false) and take effect at the next start. docs/config.md. */
#include <string.h>

#include "glow/node.pb-c.h"
#include "node/node-internal.h"
#include "node/statefile.h"
#include "transport/loop.h"

typedef enum { K_UINT, K_BOOL, K_STRING, K_LIST, K_RELAY } KeyType;

typedef struct {
	const char *key; /* "group.name" */
	KeyType type;
	guint min, max;
	gboolean live;
	const char *help;
} KeyInfo;

static const KeyInfo keys[] = {
	{ "node.name", K_STRING, 1, 64, TRUE, "human name shown to peers" },
	{ "node.listen", K_LIST, 0, 0, TRUE, "host:port to listen for links on (; separated; port 0 = any)" },
	{ "node.connect", K_LIST, 0, 0, TRUE, "host:port[/NODE-ID] to keep a link to (; separated)" },
	{ "node.busy_poll_us", K_UINT, 0, GLOW_LOOP_BUSY_POLL_MAX_US, TRUE, "poll before sleeping while traffic is dense, µs" },
	{ "link.keepalive_ms", K_UINT, 100, 600000, TRUE, "idle: ping after this long" },
	{ "link.dead_ms", K_UINT, 200, 3600000, TRUE, "idle link declared dead after this long" },
	{ "link.probe_ms", K_UINT, 50, 600000, TRUE, "sending and the peer silent this long: ping it" },
	{ "link.busy_dead_ms", K_UINT, 100, 3600000, TRUE, "sending and the peer silent this long: dead" },
	{ "link.handshake_ms", K_UINT, 100, 600000, TRUE, "a handshake must finish within this" },
	{ "link.rekey_seconds", K_UINT, 1, 86400, TRUE, "rekey a link's sending key after this long" },
	{ "link.rekey_records", K_UINT, 1, 1u << 30, TRUE, "... or after this many records" },
	{ "router.relay", K_RELAY, 0, 0, FALSE, "whose traffic this node forwards: anyone, same-user, none" },
	{ "router.relay_rate", K_UINT, 0, G_MAXUINT, TRUE, "relayed bytes per second, 0 = no limit" },
	{ "discovery.enabled", K_BOOL, 0, 0, TRUE, "LAN beacons (and DNS-SD)" },
	{ "discovery.port", K_UINT, 1, 65535, TRUE, "UDP port of the beacons" },
	{ "discovery.interval_s", K_UINT, 1, 3600, TRUE, "a beacon this often (and at once on changes)" },
	{ "discovery.dnssd", K_BOOL, 0, 0, TRUE, "publish and browse _glow._tcp through avahi-daemon" },
	{ "discovery.beacons", K_BOOL, 0, 0, TRUE, "send and hear LAN beacons (false: DNS-SD only)" },
};

static const KeyInfo *find_key(const char *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		if (!g_ascii_strcasecmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

/* Where each value lives in the running node's config. */
static guint *uint_slot(GlowNodeConfig *c, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} slots[] = {
		{ "node.busy_poll_us", offsetof(GlowNodeConfig, busy_poll_us) },
		{ "link.keepalive_ms", offsetof(GlowNodeConfig, link.keepalive_ms) },
		{ "link.dead_ms", offsetof(GlowNodeConfig, link.dead_ms) },
		{ "link.probe_ms", offsetof(GlowNodeConfig, link.probe_ms) },
		{ "link.busy_dead_ms", offsetof(GlowNodeConfig, link.busy_dead_ms) },
		{ "link.handshake_ms", offsetof(GlowNodeConfig, link.handshake_ms) },
		{ "link.rekey_seconds", offsetof(GlowNodeConfig, link.rekey_seconds) },
		{ "discovery.port", offsetof(GlowNodeConfig, discovery_port) },
	};
	for (guint i = 0; i < G_N_ELEMENTS(slots); i++)
		if (!strcmp(slots[i].key, key))
			return (guint *)((char *)c + slots[i].off);
	return NULL;
}

static char *value_text(GlowNode *n, const GlowNodeConfig *c, const KeyInfo *k)
{
	guint *slot = uint_slot((GlowNodeConfig *)c, k->key);
	if (slot)
		return g_strdup_printf("%u", *slot);
	if (!strcmp(k->key, "node.name"))
		return g_strdup(n ? n->name : (c->name ? c->name : ""));
	if (!strcmp(k->key, "node.listen"))
		return c->listen ? g_strjoinv(";", c->listen) : g_strdup("");
	if (!strcmp(k->key, "node.connect"))
		return c->connect ? g_strjoinv(";", c->connect) : g_strdup("");
	if (!strcmp(k->key, "link.rekey_records"))
		return g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)c->link.rekey_records);
	if (!strcmp(k->key, "router.relay"))
		return g_strdup(glow_relay_mode_name(c->relay));
	if (!strcmp(k->key, "router.relay_rate"))
		return g_strdup_printf("%" G_GUINT64_FORMAT, c->relay_rate);
	if (!strcmp(k->key, "discovery.enabled"))
		return g_strdup(c->discovery ? "true" : "false");
	if (!strcmp(k->key, "discovery.dnssd"))
		return g_strdup(c->dnssd ? "true" : "false");
	if (!strcmp(k->key, "discovery.beacons"))
		return g_strdup(c->beacons ? "true" : "false");
	if (!strcmp(k->key, "discovery.interval_s"))
		return g_strdup_printf("%u", c->beacon_interval_ms / 1000);
	return g_strdup("");
}

/* Parses value for k into a copy of the running config. */
static gboolean parse_into(GlowNodeConfig *c, const KeyInfo *k, const char *value, char **why)
{
	guint64 v = 0;
	guint *slot;

	switch (k->type) {
	case K_UINT:
		if (!g_ascii_string_to_unsigned(value, 10, k->min, k->max, &v, NULL)) {
			*why = g_strdup_printf("%s takes a whole number from %u to %u", k->key, k->min, k->max);
			return FALSE;
		}
		if ((slot = uint_slot(c, k->key)))
			*slot = (guint)v;
		else if (!strcmp(k->key, "link.rekey_records"))
			c->link.rekey_records = v;
		else if (!strcmp(k->key, "router.relay_rate"))
			c->relay_rate = v;
		else if (!strcmp(k->key, "discovery.interval_s"))
			c->beacon_interval_ms = (guint)v * 1000;
		return TRUE;
	case K_BOOL:
		if (g_ascii_strcasecmp(value, "true") && g_ascii_strcasecmp(value, "false")) {
			*why = g_strdup_printf("%s takes true or false", k->key);
			return FALSE;
		}
		if (!strcmp(k->key, "discovery.enabled"))
			c->discovery = !g_ascii_strcasecmp(value, "true");
		else if (!strcmp(k->key, "discovery.beacons"))
			c->beacons = !g_ascii_strcasecmp(value, "true");
		else
			c->dnssd = !g_ascii_strcasecmp(value, "true");
		return TRUE;
	case K_RELAY:
		if (!glow_relay_mode_parse(value, &c->relay)) {
			*why = g_strdup("router.relay takes anyone, same-user or none");
			return FALSE;
		}
		return TRUE;
	case K_STRING:
		if (!*value || strlen(value) > k->max || !g_utf8_validate(value, -1, NULL)) {
			*why = g_strdup_printf("%s is 1 to %u bytes of UTF-8", k->key, k->max);
			return FALSE;
		}
		for (const char *p = value; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				*why = g_strdup_printf("%s has no control characters", k->key);
				return FALSE;
			}
		}
		g_free(c->name);
		c->name = g_strdup(value);
		return TRUE;
	case K_LIST: {
		char **list = g_strsplit(value, ";", 64);
		for (char **p = list; *p; p++)
			g_strstrip(*p);
		if (!strcmp(k->key, "node.listen")) {
			g_strfreev(c->listen);
			c->listen = list;
		} else {
			g_strfreev(c->connect);
			c->connect = list;
		}
		return TRUE;
	}
	}
	return FALSE;
}

/* Writes key = value into the config file, keeping everything else. */
static gboolean persist(GlowNode *n, const KeyInfo *k, const char *value, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *group = g_strndup(k->key, (gsize)(strchr(k->key, '.') - k->key));
	const char *name = strchr(k->key, '.') + 1;
	g_autofree char *text = NULL;
	gsize len;

	g_autoptr(GError) e = NULL;
	/* A file that is there but does not load is not replaced by one key. */
	if (!g_key_file_load_from_file(kf, n->cfg.config_path, G_KEY_FILE_KEEP_COMMENTS, &e) &&
	    !g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s does not load (%s); fix it by hand", n->cfg.config_path,
		            e->message);
		return FALSE;
	}
	g_key_file_set_string(kf, group, name, value);
	text = g_key_file_to_data(kf, &len, NULL);
	return glow_statefile_write(n->cfg.config_path, text, len, 0644, error);
}

static void fill_entry(GlowNode *n, const GlowNodeConfig *defaults, const KeyInfo *k, Glow__ConfigEntry *e,
                       GPtrArray *strings)
{
	char *v = value_text(n, &n->cfg, k), *d = value_text(NULL, defaults, k);
	glow__config_entry__init(e);
	e->key = (char *)k->key;
	e->value = v;
	e->default_value = d;
	e->help = (char *)k->help;
	e->live = k->live;
	g_ptr_array_add(strings, v);
	g_ptr_array_add(strings, d);
}

static void reply_entries(GlowCall *call, GlowNode *n, const char *only)
{
	GlowNodeConfig defaults;
	Glow__ConfigList out = GLOW__CONFIG_LIST__INIT;
	Glow__ConfigEntry items[G_N_ELEMENTS(keys)];
	Glow__ConfigEntry *ptrs[G_N_ELEMENTS(keys)];
	g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func(g_free);
	guint k = 0;

	glow_node_config_init(&defaults);
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (only && g_ascii_strcasecmp(only, keys[i].key))
			continue;
		fill_entry(n, &defaults, &keys[i], &items[k], strings);
		ptrs[k] = &items[k];
		k++;
	}
	glow_node_config_clear(&defaults);
	out.n_entries = k;
	out.entries = ptrs;
	out.path = n->cfg.config_path;
	glow_call_reply(call, &out.base);
}

void glow_config_node_get(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	const Glow__ConfigGetRequest *req = (const Glow__ConfigGetRequest *)in;
	const char *key = req->key && *req->key ? req->key : NULL;
	if (key && !find_key(key)) {
		glow_call_error(call, GLOW_ERR_NOT_FOUND, "no setting \"%s\" (glow config get lists them)", key);
		return;
	}
	reply_entries(call, data, key ? find_key(key)->key : NULL);
}

gboolean glow_config_set(GlowNode *n, const char *key, const char *value, char **why)
{
	const KeyInfo *k = find_key(key);
	GlowNodeConfig next;
	g_autofree char *stored = NULL;
	g_autoptr(GError) e = NULL;
	gboolean ok;

	if (!k) {
		*why = g_strdup_printf("no setting \"%s\" (glow config get lists them)", key);
		return FALSE;
	}
	glow_node_config_copy(&next, &n->cfg);
	ok = parse_into(&next, k, value, why) && glow_node_config_check(&next, why);
	if (ok && !(ok = glow_node_apply_config(n, &next, k->key, &e)))
		*why = g_strdup(e->message);
	if (ok)
		stored = value_text(n, &next, k);
	glow_node_config_clear(&next);
	if (!ok)
		return FALSE;
	if (!persist(n, k, stored, &e)) {
		*why = g_strdup_printf("applied, but could not save %s: %s", n->cfg.config_path, e->message);
		return FALSE;
	}
	return TRUE;
}

void glow_config_node_set(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowNode *n = data;
	const Glow__ConfigSetRequest *req = (const Glow__ConfigSetRequest *)in;
	g_autofree char *why = NULL;

	if (!glow_config_set(n, req->key ? req->key : "", req->value ? req->value : "", &why)) {
		glow_call_error(call, find_key(req->key ? req->key : "") ? GLOW_ERR_BAD_REQUEST : GLOW_ERR_NOT_FOUND, "%s",
		                why);
		return;
	}
	reply_entries(call, n, find_key(req->key)->key);
}
