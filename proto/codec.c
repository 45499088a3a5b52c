/*
 * codec.c - the one table of built-in codecs: found by the name used in
 * the configuration, or by the number carried on the master/worker channel.
 */
#include <stddef.h>
#include <string.h>

#include "proto/codec.h"

/* Indexed by codec id (codec.h): append only. */
static const struct tao_codec *const builtin[] = {
	[TAO_CODEC_ID_TLV]	= &tao_codec_tlv,
	[TAO_CODEC_ID_LINE]	= &tao_codec_line,
};

#define NBUILTIN	(sizeof(builtin) / sizeof(builtin[0]))

const struct tao_codec *
tao__codec_by_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NBUILTIN; i++)
		if (strcmp(builtin[i]->name, name) == 0)
			return builtin[i];
	return NULL;
}

int
tao__codec_id(const struct tao_codec *codec)
{
	size_t i;

	for (i = 0; i < NBUILTIN; i++)
		if (builtin[i] == codec)
			return (int)i;
	return -1;
}

const struct tao_codec *
tao__codec_by_id(uint32_t id)
{
	return id < NBUILTIN ? builtin[id] : NULL;
}
