/* glow/plugin.h — a process as a shared object that glowd loads
 * (`glow process load PATH`).
 *
 * ABI, version 1: the object exports exactly one symbol of its own,
 * glow_plugin_v1, returning a GlowPlugin with abi == GLOW_PLUGIN_ABI
 * (GLOW_PLUGIN_DEFINE writes it); it links libglow (pkg-config glow).
 * glowd copies the file, loads the copy and runs the plugin on a thread of
 * its own with a GMainContext of its own, connected to the node by a socket
 * pair: a plugin is written against the same API as an external program
 * (glow/process.h) and talks the same protocol. start() creates the
 * resources; stop() frees what start() made. A reload loads the new file,
 * lets it create its resources, then lets the old one finish the calls it
 * has before stopping it: no call fails. What cannot be isolated: a plugin
 * shares glowd's address space, so a wild pointer or abort() in it ends the
 * node (docs/processes.md); a slow or blocked plugin stalls only itself.
 */
#pragma once

#include <gmodule.h>

#include "glow/process.h"

#define GLOW_PLUGIN_ABI 1u

typedef struct {
	uint32_t abi;         /* GLOW_PLUGIN_ABI */
	const char *name;     /* process name unless the spawn names it */
	const char *version;
	/* On the plugin's thread; c is connected and registered. Returns the
	 * plugin's state (passed to stop), or NULL with error set. */
	gpointer (*start)(GlowClient *c, GError **error);
	void (*stop)(gpointer state);
} GlowPlugin;

typedef const GlowPlugin *(*GlowPluginEntryFn)(void);
#define GLOW_PLUGIN_ENTRY "glow_plugin_v1"

#define GLOW_PLUGIN_DEFINE(NAME, VERSION, START, STOP)                                    \
	G_MODULE_EXPORT const GlowPlugin *glow_plugin_v1(void);                            \
	G_MODULE_EXPORT const GlowPlugin *glow_plugin_v1(void)                             \
	{                                                                                  \
		static const GlowPlugin plugin = { GLOW_PLUGIN_ABI, NAME, VERSION, START, STOP }; \
		return &plugin;                                                            \
	}

/* libglow's side of the host: connects over fd, registers as name with
 * token, runs p->start, then the thread's loop until stop_fd becomes
 * readable, then p->stop. Returns 0, or 1 when the plugin did not start
 * (why is written to stderr). glowd calls it through the plugin's own
 * libglow, so a plugin built against another libglow of the same ABI works. */
int glow_plugin_run_v1(const GlowPlugin *p, int fd, const char *name, const char *token, int stop_fd);
typedef int (*GlowPluginRunFn)(const GlowPlugin *p, int fd, const char *name, const char *token, int stop_fd);
#define GLOW_PLUGIN_RUN "glow_plugin_run_v1"
