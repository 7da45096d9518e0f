/* glow.Process handlers: every process is a resource that can be inspected
 * and terminated (resource.h states the model). */
#include <unistd.h>

#include "glow/node.pb-c.h"
#include "glow/process.pb-c.h"
#include "node/resource.h"

static void process_info(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	Glow__ProcessInfo info = GLOW__PROCESS_INFO__INIT;
	char addr[GLOW_ADDR_TEXT_BUF];
	(void)in;

	glow_resource_address(p->table, p->self->id, addr);
	info.address = addr;
	info.name = p->name;
	info.kind = (char *)p->kind;
	info.pid = (uint32_t)getpid();
	info.uptime_ms = (uint64_t)(g_get_monotonic_time() - p->started_us) / 1000;
	info.resources = p->resources->len;
	info.restarts = p->restarts;
	info.state = (char *)"running";
	if (p->ops && p->ops->info)
		p->ops->info(p, &info, p->ops_data);
	glow_call_reply(call, &info.base);
	g_strfreev(info.command);
	if (info.last_exit && *info.last_exit)
		g_free(info.last_exit);
}

/* Fills a ResourceList from an array of resources; frees nothing it did not allocate. */
void glow_resource_list_reply(GlowCall *call, GlowResourceTable *t, GPtrArray *list)
{
	Glow__ResourceList out = GLOW__RESOURCE_LIST__INIT;
	Glow__ResourceInfo *infos = g_new0(Glow__ResourceInfo, list->len ? list->len : 1);
	Glow__ResourceInfo **ptrs = g_new0(Glow__ResourceInfo *, list->len ? list->len : 1);
	typedef char AddrText[GLOW_ADDR_TEXT_BUF];
	AddrText *addrs = g_new(AddrText, (list->len ? list->len : 1) * 2);

	for (guint i = 0; i < list->len; i++) {
		GlowResource *r = list->pdata[i];
		glow__resource_info__init(&infos[i]);
		glow_resource_address(t, r->id, addrs[2 * i]);
		glow_resource_address(t, r->owner->self->id, addrs[2 * i + 1]);
		infos[i].address = addrs[2 * i];
		infos[i].id = r->id;
		infos[i].interface = (char *)r->iface->name;
		infos[i].owner = addrs[2 * i + 1];
		infos[i].name = r->name;
		ptrs[i] = &infos[i];
	}
	out.n_resources = list->len;
	out.resources = ptrs;
	glow_call_reply(call, &out.base);
	g_free(addrs);
	g_free(ptrs);
	g_free(infos);
}

static void process_list(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	g_autoptr(GPtrArray) list = g_ptr_array_new();
	(void)in;
	g_ptr_array_add(list, p->self);
	for (guint i = 0; i < p->resources->len; i++)
		g_ptr_array_add(list, p->resources->pdata[i]);
	glow_resource_list_reply(call, p->table, list);
}

static void process_terminate(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	(void)in;
	if (!p->terminable) {
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED,
		                "process \"%s\" is the node's core and cannot be terminated; use glow stop",
		                p->name);
		return;
	}
	/* Reply first: the call's own resource is about to disappear. */
	glow_call_reply(call, &empty.base);
	glow_process_terminate(p);
}

static void process_restart(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	(void)in;
	if (!p->ops || !p->ops->restart) {
		glow_call_error(call, GLOW_ERR_UNIMPLEMENTED, "process \"%s\" (%s) cannot be restarted on its own%s", p->name,
		                p->kind, p->terminable ? "" : "; restart the node");
		return;
	}
	p->ops->restart(p, call, p->ops_data);
}

static void process_create(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	if (!p->ops || !p->ops->create_resource) {
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED, "process \"%s\" is %s: its resources are made inside glowd",
		                p->name, p->kind);
		return;
	}
	p->ops->create_resource(p, call, (const Glow__CreateResourceRequest *)in, p->ops_data);
}

static void process_remove(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	if (!p->ops || !p->ops->remove_resource) {
		glow_call_error(call, GLOW_ERR_PERMISSION_DENIED, "process \"%s\" is %s: its resources are made inside glowd",
		                p->name, p->kind);
		return;
	}
	p->ops->remove_resource(p, call, ((const Glow__RemoveResourceRequest *)in)->id, p->ops_data);
}

static void process_ready(GlowCall *call, const ProtobufCMessage *in, gpointer data)
{
	GlowProcess *p = data;
	Glow__Empty empty = GLOW__EMPTY__INIT;
	GlowAddr from = *glow_call_caller(call);
	(void)in;
	glow_call_reply(call, &empty.base);
	if (p->ops && p->ops->ready)
		p->ops->ready(p, &from, p->ops_data);
}

const GlowHandlerEntry glow_process_handlers[] = {
	{ "Info", process_info, GLOW_ACCESS_USER },
	{ "ListResources", process_list, GLOW_ACCESS_USER },
	{ "Terminate", process_terminate, GLOW_ACCESS_LOCAL },
	{ "Restart", process_restart, GLOW_ACCESS_LOCAL },
	/* Local only, and then only the process's own connection (node/external.c checks). */
	{ "CreateResource", process_create, GLOW_ACCESS_LOCAL },
	{ "RemoveResource", process_remove, GLOW_ACCESS_LOCAL },
	{ "Ready", process_ready, GLOW_ACCESS_LOCAL },
	{ NULL, NULL, GLOW_ACCESS_USER },
};
