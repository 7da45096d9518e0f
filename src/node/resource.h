/* resource.h — a node's resource table, and the processes that own resources.
 *
 * Layer: node. A resource is an id on this node with one interface and one
 * owner process; a call to it is dispatched to the handlers its owner gave
 * when creating it, and to no one else (static ownership). A process is
 * itself a resource (interface glow.Process) owned by itself. Every
 * resource also answers glow.Resource.Describe, handled here.
 *
 * Ownership: the table owns processes; a process owns its resources.
 * glow_process_terminate() runs the process's stop hook (which must abort
 * the calls it still has open), then removes its resources and itself.
 */
#pragma once

#include <glib.h>

#include "rpc/iface.h"
#include "rpc/rpc.h"
#include "wire/nodeid.h"

#define GLOW_RESOURCE_ANY G_MAXUINT64 /* "pick the next free id" */

typedef struct GlowResourceTable GlowResourceTable;
typedef struct GlowProcess GlowProcess;
typedef struct GlowResource GlowResource;

/* input is the decoded request; it is freed when the handler returns. */
typedef void (*GlowHandler)(GlowCall *call, const ProtobufCMessage *input, gpointer data);

/* Who may call a method, checked in one place for every call (may_call in
 * resource.c; sharing and capabilities of later issues extend it there).
 * The default, 0, is the user's devices: a resource is private unless its
 * creator says otherwise. Describe is allowed to whoever may call at least
 * one method. */
/* GlowAccess: glow/types.h. */

/* TRUE when node is one of this node's user's devices. */
typedef gboolean (*GlowSameUserFn)(const GlowNodeId *node, gpointer data);

typedef struct {
	const char *method;
	GlowHandler fn;
	GlowAccess access;
} GlowHandlerEntry; /* arrays end with { NULL, NULL, 0 } */

typedef void (*GlowProcessStopFn)(GlowProcess *p, gpointer data);

/* A resource whose calls are answered elsewhere (an external program or a
 * plugin, node/external.c): every CALL, MESSAGE, CANCEL and CREDIT for it
 * is handed over as a packet, after the access check. payload is NULL for
 * CANCEL and CREDIT. Describe is still answered here. */
typedef void (*GlowForwardFn)(GlowResource *r, const GlowPacketHeader *h, const uint8_t *payload, gpointer data);

struct Glow__ProcessInfo;
struct Glow__CreateResourceRequest;
/* What a process kind adds to the glow.Process interface; any may be NULL. */
typedef struct {
	void (*info)(GlowProcess *p, struct Glow__ProcessInfo *out, gpointer data);   /* fields beyond the common ones */
	void (*restart)(GlowProcess *p, GlowCall *call, gpointer data);               /* completes call */
	void (*create_resource)(GlowProcess *p, GlowCall *call, const struct Glow__CreateResourceRequest *req,
	                        gpointer data);                                       /* completes call */
	void (*remove_resource)(GlowProcess *p, GlowCall *call, guint64 id, gpointer data);
	void (*ready)(GlowProcess *p, const GlowAddr *from, gpointer data);
} GlowProcessOps;

struct GlowResource {
	guint64 id;
	char *name;
	const GlowInterface *iface;
	GlowProcess *owner;
	GlowHandler *handlers; /* indexed like iface->methods */
	GlowAccess *access;    /* indexed like iface->methods */
	gpointer data;
	GlowForwardFn forward; /* set: calls go to forward, not to handlers */
	GlowInterface *own_iface; /* an interface the registry does not know, owned by the resource */
};

struct GlowProcess {
	GlowResource *self;      /* the process's own resource (glow.Process) */
	GlowResourceTable *table;
	char *name;
	const char *kind;        /* "builtin" */
	gboolean terminable;
	gint64 started_us;
	guint restarts;
	GPtrArray *resources;    /* GlowResource*, owned, excluding self */
	GlowProcessStopFn stop;
	gpointer stop_data;
	const GlowProcessOps *ops;
	gpointer ops_data;
};

GlowResourceTable *glow_resources_new(const GlowIfaceRegistry *reg, const GlowNodeId *self, GlowRpc *rpc);
/* Without it, only this node counts as its user's. */
void glow_resources_set_trust(GlowResourceTable *t, GlowSameUserFn fn, gpointer data);
/* Terminates every process (stop hooks run) and frees the table. */
void glow_resources_free(GlowResourceTable *t);

/* Creates a process whose own resource has id (GLOW_RESOURCE_ANY = next free id). */
GlowProcess *glow_process_new(GlowResourceTable *t, guint64 id, const char *name, const char *kind,
                              gboolean terminable, GError **error);
void glow_process_set_stop(GlowProcess *p, GlowProcessStopFn fn, gpointer data);
/* Creates a resource owned by p (id GLOW_RESOURCE_ANY = next free id). handlers name methods
 * of iface_name; methods left out answer UNIMPLEMENTED. */
GlowResource *glow_resource_add(GlowProcess *p, guint64 id, const char *name, const char *iface_name,
                                const GlowHandlerEntry *handlers, gpointer data, GError **error);
void glow_process_set_ops(GlowProcess *p, const GlowProcessOps *ops, gpointer data);
/* A forwarded resource (see GlowForwardFn) of interface iface_name: the
 * registry's if it knows it, else one made of methods (names, streaming;
 * n_methods entries). access is indexed like methods (NULL = all USER);
 * for a known interface, access of methods not listed stays USER. */
typedef struct {
	const char *name;
	gboolean server_streaming;
	GlowAccess access;
} GlowMethodSpec;
GlowResource *glow_resource_add_forwarded(GlowProcess *p, guint64 id, const char *name, const char *iface_name,
                                          const GlowMethodSpec *methods, guint n_methods, GlowForwardFn fn,
                                          gpointer data, GError **error);
/* Removes one resource of its process. */
void glow_resource_remove(GlowResource *r);
/* The resource of p named name, or NULL. */
GlowResource *glow_process_find(GlowProcess *p, const char *name);
/* Keeps id from being handed out by GLOW_RESOURCE_ANY (ids kept for names). */
void glow_resources_reserve(GlowResourceTable *t, guint64 id);
gboolean glow_resources_reserved(GlowResourceTable *t, guint64 id);
GPtrArray *glow_resources_processes(GlowResourceTable *t); /* not a copy */
/* Ends p and everything it owns. The process pointer is invalid afterwards. */
void glow_process_terminate(GlowProcess *p);

GlowResource *glow_resources_lookup(GlowResourceTable *t, guint64 id);
/* All resources sorted by id (container owned by caller, elements not). */
GPtrArray *glow_resources_list(GlowResourceTable *t);
guint glow_resources_count(GlowResourceTable *t);
const GlowNodeId *glow_resources_node(GlowResourceTable *t);
GlowRpc *glow_resources_rpc(GlowResourceTable *t);
const GlowIfaceRegistry *glow_resources_registry(GlowResourceTable *t);

/* CANCEL and CREDIT addressed to a resource of this node. */
void glow_resources_control(GlowResourceTable *t, const GlowPacketHeader *h);
/* A CALL or MESSAGE addressed to a resource of this node. Errors (no such
 * resource, unknown method, malformed request) are answered to the caller. */
void glow_resources_dispatch(GlowResourceTable *t, const GlowPacketHeader *h, const uint8_t *payload);

/* Fills a glow.ResourceInfo-like text address for r: "glow://<node>/<id>". */
void glow_resource_address(GlowResourceTable *t, guint64 id, char out[GLOW_ADDR_TEXT_BUF]);
