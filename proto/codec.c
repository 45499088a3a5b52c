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

static int
name_ok(const char *name)
{
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 ||
	    n >= TAO_CODEC_NAME_MAX)
		return 0;
	/* "tls" is the listen line's other option word. */
	if (strcmp(name, "tls") == 0 || tao__codec_by_name(name) != NULL)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int
tao__codec_set_add(struct tao_codec_set *set, const char *name,
    const struct tao_codec *codec)
{
	struct tao_codec *slot;

	if (codec == NULL || codec->decode == NULL || codec->encode == NULL ||
	    !name_ok(name))
		return TAO_EINVAL;
	if (tao__codec_find(set, name) != NULL)
		return TAO_EEXIST;
	if (set->cs_n == TAO_CODEC_USER_MAX)
		return TAO_ENOMEM;
	strlcpy(set->cs_name[set->cs_n], name, TAO_CODEC_NAME_MAX);
	slot = &set->cs_codec[set->cs_n];
	*slot = *codec;
	slot->name = set->cs_name[set->cs_n];
	set->cs_n++;
	return 0;
}

const struct tao_codec *
tao__codec_find(const struct tao_codec_set *set, const char *name)
{
	const struct tao_codec *codec = tao__codec_by_name(name);

	if (codec != NULL || set == NULL || name == NULL)
		return codec;
	for (int i = 0; i < set->cs_n; i++)
		if (strcmp(set->cs_name[i], name) == 0)
			return &set->cs_codec[i];
	return NULL;
}

void
tao__codec_names(const struct tao_codec_set *set, char *buf, size_t size)
{
	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < NBUILTIN; i++) {
		if (i > 0)
			strlcat(buf, ", ", size);
		strlcat(buf, builtin[i]->name, size);
	}
	for (int i = 0; set != NULL && i < set->cs_n; i++) {
		strlcat(buf, ", ", size);
		strlcat(buf, set->cs_name[i], size);
	}
}
