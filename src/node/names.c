#include "node/names.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/statefile.h"

#define NAMES_FILE_MAX (8u * 1024 * 1024)
#define GROUP "ids"

struct GlowNames {
	char *path;
	GlowResourceTable *table;
	GHashTable *ids; /* "process/resource" or "process" -> guint64* */
};

static char *key_of(const char *process, const char *resource)
{
	return resource ? g_strdup_printf("%s/%s", process, resource) : g_strdup(process);
}

GlowNames *glow_names_open(const char *path, GlowResourceTable *t)
{
	GlowNames *names = g_new0(GlowNames, 1);
	g_autoptr(GError) e = NULL;
	g_autoptr(GBytes) data = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) keys = NULL;

	names->path = g_strdup(path);
	names->table = t;
	names->ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	data = glow_statefile_read(path, NAMES_FILE_MAX, FALSE, &e);
	if (!data) {
		if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("%s: %s; resource ids are given anew", path, e->message);
		return names;
	}
	if (!g_key_file_load_from_data(kf, g_bytes_get_data(data, NULL), g_bytes_get_size(data), G_KEY_FILE_NONE, &e)) {
		g_autofree char *bad = g_strconcat(path, ".bad", NULL);
		g_warning("%s is damaged (%s): moved to %s; resource ids are given anew", path, e->message, bad);
		if (rename(path, bad) != 0)
			g_warning("cannot move %s: %s", path, g_strerror(errno));
		return names;
	}
	keys = g_key_file_get_keys(kf, GROUP, NULL, NULL);
	for (guint i = 0; keys && keys[i] && g_hash_table_size(names->ids) < GLOW_NAMES_MAX; i++) {
		g_autofree char *v = g_key_file_get_value(kf, GROUP, keys[i], NULL);
		guint64 id;
		if (!v || !g_ascii_string_to_unsigned(v, 10, GLOW_RESOURCE_FIRST_DYNAMIC, GLOW_RESOURCE_EPHEMERAL_BASE - 1,
		                                      &id, NULL)) {
			g_warning("%s: id of \"%s\" is not valid, ignored", path, keys[i]);
			continue;
		}
		g_hash_table_insert(names->ids, g_strdup(keys[i]), g_memdup2(&id, sizeof id));
		glow_resources_reserve(t, id);
	}
	return names;
}

void glow_names_free(GlowNames *names)
{
	if (!names)
		return;
	g_hash_table_destroy(names->ids);
	g_free(names->path);
	g_free(names);
}

static void save(GlowNames *names)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) e = NULL;
	g_autofree char *text = NULL;
	GHashTableIter it;
	gpointer k, v;
	gsize len;

	g_key_file_set_comment(kf, NULL, NULL, " Resource ids kept for names (docs/processes.md). Written by glowd.", NULL);
	g_hash_table_iter_init(&it, names->ids);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		char num[24];
		g_snprintf(num, sizeof num, "%" G_GUINT64_FORMAT, *(guint64 *)v);
		g_key_file_set_value(kf, GROUP, k, num);
	}
	text = g_key_file_to_data(kf, &len, NULL);
	if (!glow_statefile_write(names->path, text, len, 0644, &e))
		g_warning("cannot save resource ids: %s", e->message);
}

/* The id the table would give next that no name holds. */
static guint64 fresh_id(GlowNames *names)
{
	for (guint64 id = GLOW_RESOURCE_FIRST_DYNAMIC; id < GLOW_RESOURCE_EPHEMERAL_BASE; id++)
		if (!glow_resources_lookup(names->table, id) && !glow_resources_reserved(names->table, id))
			return id;
	return GLOW_RESOURCE_ANY;
}

guint64 glow_names_id(GlowNames *names, const char *process, const char *resource)
{
	g_autofree char *key = key_of(process, resource);
	guint64 *have = g_hash_table_lookup(names->ids, key);
	guint64 id;

	if (have)
		return *have;
	id = fresh_id(names);
	if (g_hash_table_size(names->ids) >= GLOW_NAMES_MAX) {
		g_warning("%s holds %u names: the id of %s is not kept", names->path, GLOW_NAMES_MAX, key);
		return id;
	}
	glow_resources_reserve(names->table, id);
	g_hash_table_insert(names->ids, g_steal_pointer(&key), g_memdup2(&id, sizeof id));
	save(names);
	return id;
}
