#include "node/resource.h"

#include <gio/gio.h>
#include <string.h>

#include "glow/common.pb-c.h"
#include "glow/node.pb-c.h"
#include "glow/process.pb-c.h"

struct GlowResourceTable {
	const GlowIfaceRegistry *reg;
	GlowNodeId self;
	GlowRpc *rpc;
	GHashTable *by_id;      /* guint64* -> GlowResource* (not owned here) */
	GPtrArray *processes;   /* GlowProcess*, owned */
	guint64 next_id;
	GlowSameUserFn same_user;
	gpointer same_user_data;
	GHashTable *reserved;   /* guint64* set: ids kept for names (node/names.c) */
};

void glow_resources_set_trust(GlowResourceTable *t, GlowSameUserFn fn, gpointer data)
{
	t->same_user = fn;
	t->same_user_data = data;
}

GlowResourceTable *glow_resources_new(const GlowIfaceRegistry *reg, const GlowNodeId *self, GlowRpc *rpc)
{
	GlowResourceTable *t = g_new0(GlowResourceTable, 1);
	t->reg = reg;
	t->self = *self;
	t->rpc = rpc;
	t->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
	t->processes = g_ptr_array_new();
	t->next_id = GLOW_RESOURCE_FIRST_DYNAMIC;
	t->reserved = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	return t;
}

void glow_resources_free(GlowResourceTable *t)
{
	if (!t)
		return;
	while (t->processes->len)
		glow_process_terminate(t->processes->pdata[t->processes->len - 1]);
	g_ptr_array_free(t->processes, TRUE);
	g_hash_table_destroy(t->by_id);
	g_hash_table_destroy(t->reserved);
	g_free(t);
}

static guint64 pick_id(GlowResourceTable *t, guint64 id)
{
	if (id != GLOW_RESOURCE_ANY)
		return id;
	while (g_hash_table_contains(t->by_id, &t->next_id) || g_hash_table_contains(t->reserved, &t->next_id))
		t->next_id++;
	return t->next_id++;
}

void glow_resources_reserve(GlowResourceTable *t, guint64 id)
{
	if (!g_hash_table_contains(t->reserved, &id))
		g_hash_table_add(t->reserved, g_memdup2(&id, sizeof id));
}

gboolean glow_resources_reserved(GlowResourceTable *t, guint64 id)
{
	return g_hash_table_contains(t->reserved, &id);
}

GPtrArray *glow_resources_processes(GlowResourceTable *t) { return t->processes; }

static GlowResource *resource_new_iface(GlowResourceTable *t, GlowProcess *owner, guint64 id, const char *name,
                                        const GlowInterface *iface, GError **error)
{
	GlowResource *r;

	id = pick_id(t, id);
	if (id >= GLOW_RESOURCE_EPHEMERAL_BASE || g_hash_table_contains(t->by_id, &id)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "resource id %" G_GUINT64_FORMAT " is taken", id);
		return NULL;
	}
	r = g_new0(GlowResource, 1);
	r->id = id;
	r->name = g_strdup(name ? name : "");
	r->iface = iface;
	r->owner = owner;
	r->handlers = g_new0(GlowHandler, iface->n_methods ? iface->n_methods : 1);
	r->access = g_new0(GlowAccess, iface->n_methods ? iface->n_methods : 1);
	g_hash_table_insert(t->by_id, &r->id, r);
	return r;
}

static GlowResource *resource_new(GlowResourceTable *t, GlowProcess *owner, guint64 id, const char *name,
                                  const char *iface_name, const GlowHandlerEntry *handlers, gpointer data,
                                  GError **error)
{
	const GlowInterface *iface = glow_iface_by_name(t->reg, iface_name);
	GlowResource *r;

	if (!iface) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown interface %s", iface_name);
		return NULL;
	}
	r = resource_new_iface(t, owner, id, name, iface, error);
	if (!r)
		return NULL;
	r->data = data;
	for (const GlowHandlerEntry *e = handlers; e && e->method; e++) {
		const GlowMethod *m = glow_iface_method_by_name(iface, e->method);
		g_assert(m); /* a handler for a method the interface lacks: a programming error */
		r->handlers[m->index] = e->fn;
		r->access[m->index] = e->access;
	}
	return r;
}

static void resource_free(GlowResourceTable *t, GlowResource *r)
{
	g_hash_table_remove(t->by_id, &r->id);
	g_free(r->handlers);
	g_free(r->access);
	g_free(r->name);
	if (r->own_iface) {
		for (guint i = 0; i < r->own_iface->n_methods; i++)
			g_free((char *)r->own_iface->methods[i].name);
		g_free(r->own_iface->methods);
		g_free((char *)r->own_iface->name);
		g_free(r->own_iface);
	}
	g_free(r);
}

void glow_process_set_ops(GlowProcess *p, const GlowProcessOps *ops, gpointer data)
{
	p->ops = ops;
	p->ops_data = data;
}

GlowResource *glow_resource_add_forwarded(GlowProcess *p, guint64 id, const char *name, const char *iface_name,
                                          const GlowMethodSpec *methods, guint n_methods, GlowForwardFn fn,
                                          gpointer data, GError **error)
{
	const GlowInterface *known = glow_iface_by_name(p->table->reg, iface_name);
	GlowInterface *own = NULL;
	GlowResource *r;

	if (!known) {
		own = g_new0(GlowInterface, 1);
		own->name = g_strdup(iface_name);
		own->id = glow_firefly_name_id(iface_name);
		own->n_methods = n_methods;
		own->methods = g_new0(GlowMethod, n_methods ? n_methods : 1);
		for (guint i = 0; i < n_methods; i++) {
			own->methods[i].name = g_strdup(methods[i].name);
			own->methods[i].id = glow_firefly_method_id(iface_name, methods[i].name);
			own->methods[i].server_streaming = methods[i].server_streaming;
			own->methods[i].index = i;
		}
	}
	r = resource_new_iface(p->table, p, id, name, known ? known : own, error);
	if (!r) {
		if (own) {
			for (guint i = 0; i < own->n_methods; i++)
				g_free((char *)own->methods[i].name);
			g_free(own->methods);
			g_free((char *)own->name);
			g_free(own);
		}
		return NULL;
	}
	r->own_iface = own;
	r->forward = fn;
	r->data = data;
	for (guint i = 0; i < n_methods; i++) {
		const GlowMethod *m = glow_iface_method_by_name(r->iface, methods[i].name);
		if (m)
			r->access[m->index] = methods[i].access;
	}
	g_ptr_array_add(p->resources, r);
	return r;
}

void glow_resource_remove(GlowResource *r)
{
	GlowProcess *p = r->owner;
	g_ptr_array_remove(p->resources, r);
	resource_free(p->table, r);
}

GlowResource *glow_process_find(GlowProcess *p, const char *name)
{
	for (guint i = 0; i < p->resources->len; i++) {
		GlowResource *r = p->resources->pdata[i];
		if (g_strcmp0(r->name, name) == 0)
			return r;
	}
	return NULL;
}

/* glow.Process handlers live in process.c. */
extern const GlowHandlerEntry glow_process_handlers[];

GlowProcess *glow_process_new(GlowResourceTable *t, guint64 id, const char *name, const char *kind,
                              gboolean terminable, GError **error)
{
	GlowProcess *p = g_new0(GlowProcess, 1);
	p->table = t;
	p->name = g_strdup(name);
	p->kind = kind;
	p->terminable = terminable;
	p->started_us = g_get_monotonic_time();
	p->resources = g_ptr_array_new();
	p->self = resource_new(t, p, id, name, "glow.Process", glow_process_handlers, p, error);
	if (!p->self) {
		g_ptr_array_free(p->resources, TRUE);
		g_free(p->name);
		g_free(p);
		return NULL;
	}
	g_ptr_array_add(t->processes, p);
	return p;
}

void glow_process_set_stop(GlowProcess *p, GlowProcessStopFn fn, gpointer data)
{
	p->stop = fn;
	p->stop_data = data;
}

GlowResource *glow_resource_add(GlowProcess *p, guint64 id, const char *name, const char *iface_name,
                                const GlowHandlerEntry *handlers, gpointer data, GError **error)
{
	GlowResource *r = resource_new(p->table, p, id, name, iface_name, handlers, data, error);
	if (r)
		g_ptr_array_add(p->resources, r);
	return r;
}

void glow_process_terminate(GlowProcess *p)
{
	GlowResourceTable *t = p->table;
	if (p->stop)
		p->stop(p, p->stop_data);
	for (guint i = 0; i < p->resources->len; i++)
		resource_free(t, p->resources->pdata[i]);
	g_ptr_array_free(p->resources, TRUE);
	resource_free(t, p->self);
	g_ptr_array_remove(t->processes, p);
	g_free(p->name);
	g_free(p);
}

GlowResource *glow_resources_lookup(GlowResourceTable *t, guint64 id)
{
	return g_hash_table_lookup(t->by_id, &id);
}

static gint by_id_cmp(gconstpointer a, gconstpointer b)
{
	const GlowResource *ra = *(GlowResource *const *)a, *rb = *(GlowResource *const *)b;
	return ra->id < rb->id ? -1 : ra->id > rb->id;
}

GPtrArray *glow_resources_list(GlowResourceTable *t)
{
	GPtrArray *all = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, t->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	g_ptr_array_sort(all, by_id_cmp);
	return all;
}

guint glow_resources_count(GlowResourceTable *t) { return g_hash_table_size(t->by_id); }
const GlowNodeId *glow_resources_node(GlowResourceTable *t) { return &t->self; }
GlowRpc *glow_resources_rpc(GlowResourceTable *t) { return t->rpc; }
const GlowIfaceRegistry *glow_resources_registry(GlowResourceTable *t) { return t->reg; }

void glow_resource_address(GlowResourceTable *t, guint64 id, char out[GLOW_ADDR_TEXT_BUF])
{
	GlowAddr a = { t->self, id };
	glow_addr_to_text(&a, out);
}

/* --- dispatch ----------------------------------------------------------------- */

static void describe(GlowResourceTable *t, GlowResource *r, GlowCall *call)
{
	Glow__InterfaceInfo info = GLOW__INTERFACE_INFO__INIT;
	Glow__MethodInfo *mi = g_new0(Glow__MethodInfo, r->iface->n_methods);
	Glow__MethodInfo **mp = g_new0(Glow__MethodInfo *, r->iface->n_methods);
	char addr[GLOW_ADDR_TEXT_BUF], owner[GLOW_ADDR_TEXT_BUF];

	glow_resource_address(t, r->id, addr);
	glow_resource_address(t, r->owner->self->id, owner);
	info.name = (char *)r->iface->name;
	info.interface_id = r->iface->id;
	info.address = addr;
	info.owner = owner;
	for (guint i = 0; i < r->iface->n_methods; i++) {
		const GlowMethod *m = &r->iface->methods[i];
		glow__method_info__init(&mi[i]);
		mi[i].name = (char *)m->name;
		/* An interface only its program knows has no message types here. */
		mi[i].input_type = (char *)(m->input ? m->input->name : "");
		mi[i].output_type = (char *)(m->output ? m->output->name : "");
		mi[i].server_streaming = m->server_streaming;
		mi[i].method_id = m->id;
		mp[i] = &mi[i];
	}
	info.n_methods = r->iface->n_methods;
	info.methods = mp;
	glow_call_reply(call, &info.base);
	g_free(mp);
	g_free(mi);
}

static const GlowMethod *find_method(GlowResourceTable *t, GlowResource *r, const GlowPacketHeader *h,
                                     gboolean *is_describe)
{
	const GlowInterface *common = glow_iface_resource(t->reg);
	*is_describe = FALSE;
	if (h->interface_id == r->iface->id)
		return glow_iface_method_by_id(r->iface, h->method_id);
	if (h->interface_id == common->id) {
		const GlowMethod *m = glow_iface_method_by_id(common, h->method_id);
		*is_describe = m != NULL;
		return m;
	}
	return NULL;
}

/* Describe is for whoever may call something: a resource with a public
 * method describes itself to anyone, a private one only to its user. */
static GlowAccess describe_access(const GlowResource *r)
{
	GlowAccess open = GLOW_ACCESS_LOCAL;
	for (guint i = 0; i < r->iface->n_methods; i++) {
		if (r->access[i] == GLOW_ACCESS_PUBLIC)
			return GLOW_ACCESS_PUBLIC;
		if (r->access[i] == GLOW_ACCESS_USER)
			open = GLOW_ACCESS_USER;
	}
	return open;
}

/* The one permission check every call passes. Callers are authenticated
 * by then: a neighbour by its link, anyone else by the end-to-end session,
 * a local client by the control socket. Returns the refusal, or NULL. */
static const char *may_call(GlowResourceTable *t, const GlowResource *r, const GlowMethod *m, gboolean is_describe,
                            const GlowPacketHeader *h)
{
	GlowAccess need = is_describe ? describe_access(r) : r->access[m->index];

	if (glow_node_id_equal(&h->src.node, &t->self) || need == GLOW_ACCESS_PUBLIC)
		return NULL;
	if (need == GLOW_ACCESS_LOCAL)
		return "may only be called from that node itself";
	if (t->same_user && t->same_user(&h->src.node, t->same_user_data))
		return NULL;
	return "is private to its user's devices, and the caller is not one of them";
}

void glow_resources_dispatch(GlowResourceTable *t, const GlowPacketHeader *h, const uint8_t *payload)
{
	GlowResource *r = glow_resources_lookup(t, h->dst.resource);
	const GlowMethod *m;
	gboolean is_describe;
	ProtobufCMessage *in;
	GlowCall *call;
	GlowErrorCode code;
	const char *refusal;
	char addr[GLOW_ADDR_TEXT_BUF];

	glow_resource_address(t, h->dst.resource, addr);
	if (!r) {
		glow_rpc_reject(t->rpc, h, GLOW_ERR_NOT_FOUND, "no such resource %s", addr);
		return;
	}
	m = find_method(t, r, h, &is_describe);
	if (!m) {
		const GlowInterface *other = glow_iface_by_id(t->reg, h->interface_id);
		if (other && other != r->iface)
			glow_rpc_reject(t->rpc, h, GLOW_ERR_UNIMPLEMENTED, "%s implements %s, not %s", addr,
			                r->iface->name, other->name);
		else
			glow_rpc_reject(t->rpc, h, GLOW_ERR_UNIMPLEMENTED,
			                "%s (%s) has no method with id 0x%08x in interface 0x%08x", addr,
			                r->iface->name, h->method_id, h->interface_id);
		return;
	}
	if (!is_describe && !r->forward && !r->handlers[m->index]) {
		glow_rpc_reject(t->rpc, h, GLOW_ERR_UNIMPLEMENTED, "%s.%s is not implemented by %s", r->iface->name,
		                m->name, addr);
		return;
	}
	if (h->type == GLOW_PKT_MESSAGE && m->server_streaming)
		return; /* a stream nobody can read or give credit to */
	if (m->server_streaming != ((h->flags & GLOW_PKT_F_STREAM) != 0) && h->type == GLOW_PKT_CALL) {
		glow_rpc_reject(t->rpc, h, GLOW_ERR_BAD_REQUEST, "%s.%s %s", r->iface->name, m->name,
		                m->server_streaming ? "is a stream: set the stream flag"
		                                    : "is not a stream: clear the stream flag");
		return;
	}
	if ((refusal = may_call(t, r, m, is_describe, h))) {
		glow_rpc_reject(t->rpc, h, GLOW_ERR_PERMISSION_DENIED, "%s.%s on %s %s", is_describe ? "glow.Resource" : r->iface->name,
		                is_describe ? "Describe" : m->name, addr, refusal);
		return;
	}
	if (r->forward && !is_describe) {
		r->forward(r, h, payload, r->data);
		return;
	}
	in = protobuf_c_message_unpack(m->input, NULL, h->payload_len, payload);
	if (!in) {
		glow_rpc_reject(t->rpc, h, GLOW_ERR_BAD_REQUEST, "malformed %s for %s.%s", m->input->name,
		                r->iface->name, m->name);
		return;
	}
	call = glow_rpc_server_begin(t->rpc, h, &code);
	if (!call) {
		glow_rpc_reject(t->rpc, h, code, "%s", code == GLOW_ERR_TOO_FAST ? "too many calls in progress"
		                                                                 : "duplicate call id");
		protobuf_c_message_free_unpacked(in, NULL);
		return;
	}
	if (is_describe)
		describe(t, r, call);
	else
		r->handlers[m->index](call, in, r->data);
	protobuf_c_message_free_unpacked(in, NULL);
}

void glow_resources_control(GlowResourceTable *t, const GlowPacketHeader *h)
{
	GlowResource *r = glow_resources_lookup(t, h->dst.resource);
	if (r && r->forward)
		r->forward(r, h, NULL, r->data);
	else
		glow_rpc_handle_control(t->rpc, h);
}
