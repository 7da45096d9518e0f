/* glow/process.h — libglow, the serving side: a program becomes a process
 * of its node and owns resources that anyone allowed can call, from this
 * node or any node of the mesh.
 *
 *   GlowClient *c = glow_client_connect(ctx, NULL, 0, &error);
 *   glow_client_register(c, "kv", &error);          // or NULL: the name glowd gave it
 *   glow_client_serve(c, "store", &example__key_value__descriptor, methods, state, &error);
 *   return glow_client_run(c);                       // until SIGTERM/SIGINT
 *
 * A resource's id is the node's to give and stays the same for the same
 * process and resource names, across restarts of the process and of the
 * node, so its address (glow://<node>/<id>) can be kept and shared.
 * Handlers run on the client's context; each gets its GlowCall
 * (glow/call.h) and the decoded request, which is freed when the handler
 * returns (the call is not: complete it now or later). See docs/sdk.md.
 */
#pragma once

#include "glow/client.h"

typedef void (*GlowMethodFn)(GlowCall *call, const ProtobufCMessage *in, gpointer data);

typedef struct {
	const char *method;  /* as in the service descriptor: "Get" */
	GlowMethodFn fn;
	gboolean stream;     /* a server stream (protoc-c's descriptor does not say) */
	GlowAccess access;   /* who may call it; GLOW_ACCESS_USER by default */
} GlowMethodImpl;        /* arrays end with { NULL } */

/* Makes this connection process `name` of the node. With name NULL, the
 * name (and token) come from GLOW_PROCESS / GLOW_PROCESS_TOKEN, which the
 * node sets for programs it starts (glow spawn); a program started by the
 * node must register under those to be supervised as that process. */
gboolean glow_client_register(GlowClient *c, const char *name, GError **error);
/* The registered process's own resource (glow.Process), or NULL. */
const GlowAddr *glow_client_process(const GlowClient *c);

/* Creates resource `name` (unique in the process) of interface svc with
 * these methods (methods left out answer UNIMPLEMENTED). Returns its id,
 * or 0 with error set. data is passed to every handler. */
guint64 glow_client_serve(GlowClient *c, const char *name, const ProtobufCServiceDescriptor *svc,
                          const GlowMethodImpl *methods, gpointer data, GError **error);
gboolean glow_client_unserve(GlowClient *c, guint64 id, GError **error);
/* Tells the node every resource is created (glow_client_run does it). */
void glow_client_ready(GlowClient *c);

/* Called when the connection to the node goes down (connected FALSE) and,
 * with reconnecting on, when it is back with the process registered and its
 * resources created again (TRUE). */
typedef void (*GlowClientStateFn)(GlowClient *c, gboolean connected, gpointer data);
void glow_client_set_state_handler(GlowClient *c, GlowClientStateFn fn, gpointer data);
/* Reconnect after the node went away (restart, upgrade): retries every
 * 50 ms to 1 s, registers again and serves the same resources. Off by
 * default; glow_client_run turns it on. */
void glow_client_set_reconnect(GlowClient *c, gboolean on);

/* Sends Ready, then runs the client's context until SIGTERM or SIGINT, or
 * until glow_client_quit(). Returns 0. */
int glow_client_run(GlowClient *c);
void glow_client_quit(GlowClient *c);
