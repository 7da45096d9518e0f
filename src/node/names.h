/* names.h — resource ids kept for names, so an address stays valid.
 *
 * Layer: node. A process's resources are named by the process ("store");
 * the node gives each (process name, resource name) pair an id once and
 * keeps it in <state-dir>/resource-ids.conf, so the resource comes back
 * with the same glow://<node>/<id> after the process or the node restarts.
 * Every id in the file is reserved in the resource table at start, so no
 * other resource is ever given it. Bounded: past GLOW_NAMES_MAX pairs, new
 * names get ids that are not kept (and a warning says so).
 */
#pragma once

#include <glib.h>

#include "node/resource.h"

#define GLOW_NAMES_MAX 65536

typedef struct GlowNames GlowNames;

/* Reads the file if it exists (a damaged file is set aside as .bad and a
 * warning logged: ids are then given anew). */
GlowNames *glow_names_open(const char *path, GlowResourceTable *t);
void glow_names_free(GlowNames *names);
/* The id kept for process/resource (resource NULL: the process itself),
 * given and saved now if new. */
guint64 glow_names_id(GlowNames *names, const char *process, const char *resource);
