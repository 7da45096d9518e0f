/* iface.h — the registry of Firefly interfaces this build knows.
 *
 * Layer: rpc. Interfaces are proto3 `service` definitions in proto/glow/.
 * protoc-c gives each a ProtobufCServiceDescriptor (names and message
 * types) but drops `stream`; the build also embeds the FileDescriptorSet
 * that protoc-c writes, and the registry reads server_streaming from it.
 * Interface id = FNV-1a 32 of "pkg.Service"; method id = FNV-1a 32 of
 * "pkg.Service.Method" (wire/packet.h). A registry is immutable once built.
 */
#pragma once

#include <glib.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

typedef struct {
	const char *name;   /* "Info" */
	uint32_t id;
	const ProtobufCMessageDescriptor *input;
	const ProtobufCMessageDescriptor *output;
	gboolean server_streaming;
	guint index;        /* position in GlowInterface.methods */
} GlowMethod;

typedef struct {
	const char *name;   /* "glow.Node" */
	uint32_t id;
	guint n_methods;
	GlowMethod *methods;
} GlowInterface;

typedef struct GlowIfaceRegistry GlowIfaceRegistry;

/* Builds the registry of every interface compiled in. Aborts only on a
 * build defect (an id collision), which the unit tests would catch first. */
GlowIfaceRegistry *glow_iface_registry_new(void);
void glow_iface_registry_free(GlowIfaceRegistry *reg);

const GlowInterface *glow_iface_by_name(const GlowIfaceRegistry *reg, const char *name);
const GlowInterface *glow_iface_by_id(const GlowIfaceRegistry *reg, uint32_t id);
/* Every interface, in registration order. */
const GlowInterface *glow_iface_nth(const GlowIfaceRegistry *reg, guint i);
guint glow_iface_count(const GlowIfaceRegistry *reg);

const GlowMethod *glow_iface_method_by_id(const GlowInterface *iface, uint32_t id);
/* Exact name first, then case-insensitive ("info" finds "Info"). */
const GlowMethod *glow_iface_method_by_name(const GlowInterface *iface, const char *name);

/* The glow.Resource interface every resource also answers (Describe). */
const GlowInterface *glow_iface_resource(const GlowIfaceRegistry *reg);
