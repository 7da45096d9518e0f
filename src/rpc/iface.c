#include "rpc/iface.h"

#include <string.h>

#include "glow/common.pb-c.h"
#include "glow/descriptor_subset.pb-c.h"
#include "glow/diag.pb-c.h"
#include "glow/node.pb-c.h"
#include "glow/process.pb-c.h"
#include "glow/rendezvous.pb-c.h"
#include "glow/user.pb-c.h"
#include "wire/packet.h"

extern const uint8_t glow_fds[];
extern const size_t glow_fds_len;

/* Every interface compiled into this build. Add new services here. */
static const ProtobufCServiceDescriptor *const services[] = {
	&glow__resource__descriptor,
	&glow__node__descriptor,
	&glow__process__descriptor,
	&glow__diag__descriptor,
	&glow__pairing__descriptor,
	&glow__rendezvous__descriptor,
};

struct GlowIfaceRegistry {
	GlowInterface *ifaces;
	guint n;
};

static gboolean is_streaming(const Glow__Desc__FileDescriptorSet *fds, const char *service,
                             const char *method)
{
	for (size_t f = 0; f < fds->n_file; f++) {
		const Glow__Desc__FileDescriptorProto *file = fds->file[f];
		for (size_t s = 0; s < file->n_service; s++) {
			const Glow__Desc__ServiceDescriptorProto *sv = file->service[s];
			g_autofree char *full = g_strdup_printf("%s.%s", file->package ? file->package : "", sv->name);
			if (strcmp(full, service) != 0)
				continue;
			for (size_t m = 0; m < sv->n_method; m++)
				if (!strcmp(sv->method[m]->name, method))
					return sv->method[m]->server_streaming;
		}
	}
	return FALSE;
}

static void build_interface(GlowInterface *iface, const ProtobufCServiceDescriptor *sd,
                            const Glow__Desc__FileDescriptorSet *fds)
{
	iface->name = sd->name;
	iface->id = glow_firefly_name_id(sd->name);
	iface->n_methods = sd->n_methods;
	iface->methods = g_new0(GlowMethod, sd->n_methods);
	for (guint i = 0; i < sd->n_methods; i++) {
		GlowMethod *m = &iface->methods[i];
		m->name = sd->methods[i].name;
		m->id = glow_firefly_method_id(sd->name, m->name);
		m->input = sd->methods[i].input;
		m->output = sd->methods[i].output;
		m->server_streaming = is_streaming(fds, sd->name, m->name);
		m->index = i;
		for (guint j = 0; j < i; j++)
			g_assert(iface->methods[j].id != m->id); /* FNV collision: rename the method */
	}
}

GlowIfaceRegistry *glow_iface_registry_new(void)
{
	GlowIfaceRegistry *reg = g_new0(GlowIfaceRegistry, 1);
	Glow__Desc__FileDescriptorSet *fds = glow__desc__file_descriptor_set__unpack(NULL, glow_fds_len, glow_fds);

	g_assert(fds);
	reg->n = G_N_ELEMENTS(services);
	reg->ifaces = g_new0(GlowInterface, reg->n);
	for (guint i = 0; i < reg->n; i++) {
		build_interface(&reg->ifaces[i], services[i], fds);
		for (guint j = 0; j < i; j++)
			g_assert(reg->ifaces[j].id != reg->ifaces[i].id);
	}
	glow__desc__file_descriptor_set__free_unpacked(fds, NULL);
	return reg;
}

void glow_iface_registry_free(GlowIfaceRegistry *reg)
{
	if (!reg)
		return;
	for (guint i = 0; i < reg->n; i++)
		g_free(reg->ifaces[i].methods);
	g_free(reg->ifaces);
	g_free(reg);
}

const GlowInterface *glow_iface_by_name(const GlowIfaceRegistry *reg, const char *name)
{
	for (guint i = 0; i < reg->n; i++)
		if (!strcmp(reg->ifaces[i].name, name))
			return &reg->ifaces[i];
	return NULL;
}

const GlowInterface *glow_iface_by_id(const GlowIfaceRegistry *reg, uint32_t id)
{
	for (guint i = 0; i < reg->n; i++)
		if (reg->ifaces[i].id == id)
			return &reg->ifaces[i];
	return NULL;
}

const GlowInterface *glow_iface_nth(const GlowIfaceRegistry *reg, guint i)
{
	return i < reg->n ? &reg->ifaces[i] : NULL;
}

guint glow_iface_count(const GlowIfaceRegistry *reg)
{
	return reg->n;
}

const GlowMethod *glow_iface_method_by_id(const GlowInterface *iface, uint32_t id)
{
	for (guint i = 0; i < iface->n_methods; i++)
		if (iface->methods[i].id == id)
			return &iface->methods[i];
	return NULL;
}

const GlowMethod *glow_iface_method_by_name(const GlowInterface *iface, const char *name)
{
	for (guint i = 0; i < iface->n_methods; i++)
		if (!strcmp(iface->methods[i].name, name))
			return &iface->methods[i];
	for (guint i = 0; i < iface->n_methods; i++)
		if (!g_ascii_strcasecmp(iface->methods[i].name, name))
			return &iface->methods[i];
	return NULL;
}

const GlowInterface *glow_iface_resource(const GlowIfaceRegistry *reg)
{
	return &reg->ifaces[0];
}
