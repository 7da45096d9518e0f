/* statefile.h — small files in a node's state dir, written crash-safely.
 *
 * Layer: node. A write goes to <path>.tmp, is fsynced, renamed over path,
 * and the directory is fsynced: after a crash the file is either the old
 * one or the new one, never partial. Private files (keys) are created
 * 0600 and refused on read when group or others can access them or
 * another user owns them, with a message that says how to fix it.
 */
#pragma once

#include <glib.h>

gboolean glow_statefile_write(const char *path, const void *data, gsize len, int mode, GError **error);
/* Reads at most max bytes; a longer file is an error. private_file: check mode and owner. */
GBytes *glow_statefile_read(const char *path, gsize max, gboolean private_file, GError **error);
