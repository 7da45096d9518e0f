#include "node/book.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/statefile.h"
#include "node/user.h"

#define BOOK_FILE_MAX (4u << 20)

struct GlowBook {
	char *path;
	guint max_entries;
	GHashTable *entries; /* GlowNodeId* (the entry's id) -> GlowBookEntry* */
	GlowNodeId own_user;
	gboolean has_own_user;
	gboolean dirty;
};

static void addr_free(gpointer p)
{
	GlowBookAddr *a = p;
	g_free(a->addr);
	g_free(a);
}

static void entry_free(gpointer p)
{
	GlowBookEntry *e = p;
	g_free(e->name);
	if (e->cert)
		g_bytes_unref(e->cert);
	g_ptr_array_unref(e->addrs);
	g_free(e);
}

GlowBook *glow_book_new(const char *path, guint max_entries)
{
	GlowBook *b = g_new0(GlowBook, 1);
	b->path = g_strdup(path);
	b->max_entries = MAX(max_entries, 1u);
	b->entries = g_hash_table_new_full(glow_node_id_hash, glow_node_id_equal_key, NULL, entry_free);
	return b;
}

void glow_book_free(GlowBook *b)
{
	if (!b)
		return;
	g_hash_table_unref(b->entries);
	g_free(b->path);
	g_free(b);
}

void glow_book_set_own_user(GlowBook *b, const GlowNodeId *user)
{
	b->own_user = *user;
	b->has_own_user = TRUE;
}

gboolean glow_book_dirty(const GlowBook *b)
{
	return b->dirty;
}

guint glow_book_count(const GlowBook *b)
{
	return g_hash_table_size(b->entries);
}

GlowBookEntry *glow_book_get(GlowBook *b, const GlowNodeId *id)
{
	return g_hash_table_lookup(b->entries, id);
}

static gboolean is_own(const GlowBook *b, const GlowBookEntry *e)
{
	return b->has_own_user && e->cert && glow_node_id_equal(&e->user, &b->own_user);
}

/* Makes room for one more: the least recently seen foreign entry goes. */
static gboolean evict_one(GlowBook *b)
{
	GHashTableIter it;
	gpointer v;
	GlowBookEntry *victim = NULL;

	g_hash_table_iter_init(&it, b->entries);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		GlowBookEntry *e = v;
		if (!is_own(b, e) && (!victim || e->last_seen_ms < victim->last_seen_ms))
			victim = e;
	}
	if (!victim)
		return FALSE;
	g_hash_table_remove(b->entries, &victim->id);
	return TRUE;
}

static GlowBookEntry *ensure(GlowBook *b, const GlowNodeId *id)
{
	GlowBookEntry *e = glow_book_get(b, id);
	if (e)
		return e;
	if (g_hash_table_size(b->entries) >= b->max_entries && !evict_one(b))
		return NULL;
	e = g_new0(GlowBookEntry, 1);
	e->id = *id;
	e->addrs = g_ptr_array_new_with_free_func(addr_free);
	g_hash_table_insert(b->entries, &e->id, e);
	b->dirty = TRUE;
	return e;
}

gboolean glow_book_set_cert(GlowBook *b, const GlowNodeId *id, const uint8_t *cert, gsize len, GError **error)
{
	GlowNodeId user;
	GlowBookEntry *e;

	if (!glow_user_verify_cert(cert, len, id, &user, error))
		return FALSE;
	if (!(e = ensure(b, id))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "address book full");
		return FALSE;
	}
	if (e->cert && g_bytes_get_size(e->cert) == len && !memcmp(g_bytes_get_data(e->cert, NULL), cert, len))
		return TRUE;
	if (e->cert)
		g_bytes_unref(e->cert);
	e->cert = g_bytes_new(cert, len);
	e->user = user;
	b->dirty = TRUE;
	return TRUE;
}

static gboolean printable(const char *s, gsize max)
{
	gsize n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e || n >= max)
			return FALSE;
	return n > 0;
}

void glow_book_set_name(GlowBook *b, const GlowNodeId *id, const char *name)
{
	GlowBookEntry *e;
	g_autofree char *clean = NULL;

	if (!name || !*name)
		return;
	clean = g_utf8_make_valid(name, (gssize)MIN(strlen(name), (gsize)GLOW_BOOK_NAME_MAX));
	for (char *p = clean; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!(e = ensure(b, id)) || (e->name && !strcmp(e->name, clean)))
		return;
	g_free(e->name);
	e->name = g_steal_pointer(&clean);
	b->dirty = TRUE;
}

gboolean glow_book_add_addr(GlowBook *b, const GlowNodeId *id, const char *addr, guint64 seen_ms)
{
	GlowBookEntry *e;
	GlowBookAddr *a;
	const char *colon;

	if (!addr || !printable(addr, GLOW_BOOK_ADDR_MAX) || !(colon = strrchr(addr, ':')) || colon == addr ||
	    !colon[1])
		return FALSE;
	if (!(e = ensure(b, id)))
		return FALSE;
	for (guint i = 0; i < e->addrs->len; i++) {
		a = e->addrs->pdata[i];
		if (strcmp(a->addr, addr))
			continue;
		if (seen_ms <= a->seen_ms)
			return FALSE;
		a->seen_ms = seen_ms;
		g_ptr_array_steal_index(e->addrs, i);
		g_ptr_array_insert(e->addrs, 0, a);
		b->dirty = TRUE;
		return FALSE;
	}
	a = g_new0(GlowBookAddr, 1);
	a->addr = g_strdup(addr);
	a->seen_ms = seen_ms;
	/* Newest first; an address older than all we have goes last. */
	guint at = 0;
	while (at < e->addrs->len && ((GlowBookAddr *)e->addrs->pdata[at])->seen_ms > seen_ms)
		at++;
	if (at >= GLOW_BOOK_MAX_ADDRS) {
		addr_free(a); /* older than the eight it would join: nothing learnt */
		return FALSE;
	}
	g_ptr_array_insert(e->addrs, (gint)at, a);
	if (e->addrs->len > GLOW_BOOK_MAX_ADDRS)
		g_ptr_array_remove_index(e->addrs, e->addrs->len - 1);
	b->dirty = TRUE;
	return TRUE;
}

void glow_book_seen(GlowBook *b, const GlowNodeId *id, guint64 now_ms)
{
	GlowBookEntry *e = ensure(b, id);
	if (e && now_ms > e->last_seen_ms) {
		e->last_seen_ms = now_ms;
		b->dirty = TRUE;
	}
}

gboolean glow_book_user_of(GlowBook *b, const GlowNodeId *id, GlowNodeId *user)
{
	GlowBookEntry *e = glow_book_get(b, id);
	if (!e || !e->cert)
		return FALSE;
	*user = e->user;
	return TRUE;
}

static gint by_id(gconstpointer a, gconstpointer b)
{
	const GlowBookEntry *x = *(GlowBookEntry *const *)a, *y = *(GlowBookEntry *const *)b;
	return memcmp(x->id.b, y->id.b, GLOW_NODE_ID_LEN);
}

GPtrArray *glow_book_list(GlowBook *b)
{
	GPtrArray *out = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, b->entries);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(out, v);
	g_ptr_array_sort(out, by_id);
	return out;
}

/* --- the file ---------------------------------------------------------------- */

static void load_entry(GlowBook *b, GKeyFile *kf, const char *group)
{
	GlowNodeId id;
	g_autofree char *name = g_key_file_get_string(kf, group, "name", NULL);
	g_autofree char *cert64 = g_key_file_get_string(kf, group, "cert", NULL);
	g_auto(GStrv) addrs = g_key_file_get_string_list(kf, group, "addresses", NULL, NULL);
	guint64 seen = g_key_file_get_uint64(kf, group, "last_seen_ms", NULL);

	if (glow_node_id_from_text(group, &id) != GLOW_ID_OK)
		return;
	if (cert64) {
		gsize len = 0;
		g_autofree guchar *cert = g_base64_decode(cert64, &len);
		if (cert && len)
			glow_book_set_cert(b, &id, cert, len, NULL);
	}
	if (!ensure(b, &id))
		return;
	glow_book_set_name(b, &id, name);
	for (guint i = 0; addrs && addrs[i] && i < GLOW_BOOK_MAX_ADDRS; i++) {
		/* "host:port@seen_ms" */
		char *at = strrchr(addrs[i], '@');
		guint64 t = 0;
		if (at) {
			*at = 0;
			t = g_ascii_strtoull(at + 1, NULL, 10);
		}
		glow_book_add_addr(b, &id, addrs[i], t);
	}
	glow_book_seen(b, &id, seen);
}

void glow_book_load(GlowBook *b, char **warning)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;
	g_autoptr(GBytes) data = NULL;
	g_auto(GStrv) groups = NULL;
	gsize len;

	*warning = NULL;
	if (!b->path || access(b->path, F_OK) < 0)
		return;
	data = glow_statefile_read(b->path, BOOK_FILE_MAX, FALSE, &e);
	if (data) {
		const char *text = g_bytes_get_data(data, &len);
		if (len)
			g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &e);
	}
	if (e) {
		g_autofree char *bad = g_strdup_printf("%s.bad", b->path);
		rename(b->path, bad);
		*warning = g_strdup_printf("address book %s is damaged (%s); moved it to %s and starting empty", b->path,
		                           e->message, bad);
		return;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i]; i++)
		load_entry(b, kf, groups[i]);
	b->dirty = FALSE;
}

static void save_entry(GKeyFile *kf, const GlowBookEntry *e)
{
	char id[GLOW_NODE_ID_TEXT_BUF];
	g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);

	glow_node_id_to_text(&e->id, id);
	if (e->name)
		g_key_file_set_string(kf, id, "name", e->name);
	if (e->cert) {
		g_autofree char *c = g_base64_encode(g_bytes_get_data(e->cert, NULL), g_bytes_get_size(e->cert));
		g_key_file_set_string(kf, id, "cert", c);
	}
	for (guint i = 0; i < e->addrs->len; i++) {
		const GlowBookAddr *a = e->addrs->pdata[i];
		g_ptr_array_add(addrs, g_strdup_printf("%s@%" G_GUINT64_FORMAT, a->addr, a->seen_ms));
	}
	if (addrs->len)
		g_key_file_set_string_list(kf, id, "addresses", (const char *const *)addrs->pdata, addrs->len);
	g_key_file_set_uint64(kf, id, "last_seen_ms", e->last_seen_ms);
}

static gint by_seen_desc(gconstpointer a, gconstpointer b)
{
	guint64 x = *(const guint64 *)a, y = *(const guint64 *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The last_seen of the GLOW_BOOK_SAVE_FOREIGN-th most recent foreign entry. */
static guint64 foreign_cutoff(const GlowBook *b, GPtrArray *list)
{
	g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(guint64));
	for (guint i = 0; i < list->len; i++) {
		const GlowBookEntry *e = list->pdata[i];
		if (!is_own(b, e))
			g_array_append_val(seen, e->last_seen_ms);
	}
	if (seen->len <= GLOW_BOOK_SAVE_FOREIGN)
		return 0;
	g_array_sort(seen, by_seen_desc);
	return g_array_index(seen, guint64, GLOW_BOOK_SAVE_FOREIGN - 1);
}

gboolean glow_book_save(GlowBook *b, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GPtrArray) list = NULL;
	g_autofree char *text = NULL;
	gsize len;

	if (!b->path || !b->dirty)
		return TRUE;
	list = glow_book_list(b);
	g_key_file_set_comment(kf, NULL, NULL, " Glow address book: what this node knows of others. Rewritten by glowd.",
	                       NULL);
	/* Every device of the user; of foreign nodes (anyone may link) only the
	 * most recently seen, so a flood of them cannot grow the file. */
	guint64 foreign_cut = foreign_cutoff(b, list);
	for (guint i = 0; i < list->len; i++) {
		const GlowBookEntry *e = list->pdata[i];
		if (is_own(b, e) || e->last_seen_ms >= foreign_cut)
			save_entry(kf, e);
	}
	text = g_key_file_to_data(kf, &len, NULL);
	if (!glow_statefile_write(b->path, text, len, 0600, error))
		return FALSE;
	b->dirty = FALSE;
	return TRUE;
}
