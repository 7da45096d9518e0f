/* bytes.h — big-endian integers in byte buffers, for the wire codecs.
 *
 * Layer: wire (pure, header-only). Every wire format of Glow is big-endian;
 * callers check lengths before they read or write. */
#pragma once

#include <stdint.h>

static inline void glow_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void glow_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void glow_put_u64(uint8_t *p, uint64_t v)
{
	glow_put_u32(p, (uint32_t)(v >> 32));
	glow_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t glow_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t glow_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t glow_get_u64(const uint8_t *p)
{
	return (uint64_t)glow_get_u32(p) << 32 | glow_get_u32(p + 4);
}
