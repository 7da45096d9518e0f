/* book.h — the address book: every node this node knows of.
 *
 * Layer: node. An entry holds what was learnt of a node: its human name,
 * its device certificate (checked before it is kept: the entry's user is
 * then known), the addresses it was reached at or announced, newest
 * first, and when it was last linked. The node fills it from links,
 * beacons, pairing and its own user's devices (glow.Node.Sync), dials its
 * own user's devices from it, and the access check (access.h) asks it who
 * a caller's user is.
 *
 * Bounded: at most max_entries entries (the least recently seen foreign
 * entry goes first; the own user's devices are kept) and
 * GLOW_BOOK_MAX_ADDRS addresses per entry. Persisted (every device of the
 * user, and the GLOW_BOOK_SAVE_FOREIGN most recently seen foreign nodes) as a GLib key file,
 * replaced atomically (statefile.h); a damaged file is set aside as
 * <path>.bad and the book starts empty rather than refusing to start.
 */
#pragma once

#include <glib.h>

#include "wire/nodeid.h"

#define GLOW_BOOK_FILE "peers.conf"
#define GLOW_BOOK_MAX_ADDRS 8
#define GLOW_BOOK_MAX_ENTRIES 1024
#define GLOW_BOOK_ADDR_MAX 80     /* "host:port" text, bytes */
#define GLOW_BOOK_NAME_MAX 64
#define GLOW_BOOK_SAVE_FOREIGN 64 /* foreign entries kept on disk: the most recently seen */

typedef struct {
	char *addr;          /* "host:port" */
	guint64 seen_ms;     /* wall clock */
} GlowBookAddr;

typedef struct {
	GlowNodeId id;
	char *name;
	GBytes *cert;        /* verified device certificate, or NULL */
	GlowNodeId user;     /* valid when cert != NULL */
	GPtrArray *addrs;    /* GlowBookAddr*, newest first */
	guint64 last_seen_ms;
} GlowBookEntry;

typedef struct GlowBook GlowBook;

/* path NULL: in memory only. */
GlowBook *glow_book_new(const char *path, guint max_entries);
void glow_book_free(GlowBook *b);
/* Entries of this user are never evicted. */
void glow_book_set_own_user(GlowBook *b, const GlowNodeId *user);
/* Reads the file (missing is fine). A damaged file is moved aside and
 * reported in *warning (g_free), and loading goes on empty. */
void glow_book_load(GlowBook *b, char **warning);
/* Writes the file if anything changed since the last save. */
gboolean glow_book_save(GlowBook *b, GError **error);
gboolean glow_book_dirty(const GlowBook *b);

GlowBookEntry *glow_book_get(GlowBook *b, const GlowNodeId *id);
/* Checks cert for id and records it. FALSE (entry unchanged) when it does not verify. */
gboolean glow_book_set_cert(GlowBook *b, const GlowNodeId *id, const uint8_t *cert, gsize len, GError **error);
void glow_book_set_name(GlowBook *b, const GlowNodeId *id, const char *name);
/* Adds (or refreshes) an address; malformed ones ("host:port", printable,
 * bounded) are ignored. TRUE when the address is new to the entry. */
gboolean glow_book_add_addr(GlowBook *b, const GlowNodeId *id, const char *addr, guint64 seen_ms);
void glow_book_seen(GlowBook *b, const GlowNodeId *id, guint64 now_ms);
/* The user of id, when its certificate is known. */
gboolean glow_book_user_of(GlowBook *b, const GlowNodeId *id, GlowNodeId *user);
/* Every entry, sorted by node ID (container owned by the caller, entries by the book). */
GPtrArray *glow_book_list(GlowBook *b);
guint glow_book_count(const GlowBook *b);
