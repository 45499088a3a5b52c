/*
 * codec.c - find a built-in codec by the name used in the configuration.
 */
#include <stddef.h>
#include <string.h>

#include "proto/codec.h"

static const struct tao_codec *const builtin[] = {
	&tao_codec_tlv,
	&tao_codec_line,
};

const struct tao_codec *
tao__codec_by_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	return NULL;
}
