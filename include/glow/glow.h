/* glow/glow.h — all of libglow's public API (docs/sdk.md). */
#pragma once

#include "glow/call.h"
#include "glow/client.h"
#include "glow/plugin.h"
#include "glow/process.h"
#include "glow/types.h"
