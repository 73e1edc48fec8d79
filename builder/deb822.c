/* deb822.c: parse and format Debian control stanzas. */
#include "builder/deb822.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"

/* dpkg's order for fields of the status file (lib/dpkg/parse.c). */
static const char *const order[] = {
	"Package", "Essential", "Protected", "Status", "Priority", "Section",
	"Installed-Size", "Origin", "Maintainer", "Bugs", "Architecture",
	"Multi-Arch", "Source", "Version", "Config-Version", "Replaces",
	"Provides", "Depends", "Pre-Depends", "Recommends", "Suggests",
	"Breaks", "Conflicts", "Enhances", "Conffiles", "Filename", "Size",
	"MD5sum", "MSDOS-Filename", "Description", "Triggers-Pending",
	"Triggers-Awaited", NULL,
};

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

static int add_field(struct bld_stanza *st, const char *name, size_t nlen,
		     const char *val, size_t vlen)
{
	struct bld_field *f = realloc(st->f, (st->n + 1) * sizeof(*f));

	if (f == NULL)
		return NI_ENOMEM;
	st->f = f;
	f += st->n;
	f->name = strndup(name, nlen);
	f->value = strndup(val, vlen);
	if (f->name == NULL || f->value == NULL) {
		free(f->name);
		free(f->value);
		return NI_ENOMEM;
	}
	st->n++;
	return 0;
}

int bld_stanza_parse(const char **text, const char *end, struct bld_stanza *st)
{
	const char *p = *text;

	memset(st, 0, sizeof(*st));
	while (p < end && (*p == '\n' || *p == '\r'))
		p++;
	if (p >= end) {
		*text = p;
		return 0;
	}
	while (p < end && *p != '\n') {
		const char *le = line_end(p, end), *colon, *v, *ve;

		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || *p == ' ' || *p == '\t')
			goto bad;
		v = colon + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		ve = le;
		/* Continuation lines start with a space or a tab. */
		while (ve < end && ve + 1 < end && (ve[1] == ' ' || ve[1] == '\t'))
			ve = line_end(ve + 1, end);
		if (add_field(st, p, (size_t)(colon - p), v, (size_t)(ve - v)) != 0)
			goto bad;
		p = ve < end ? ve + 1 : end;
	}
	*text = p;
	return 1;
bad:
	bld_stanza_free(st);
	return NI_EINVAL;
}

void bld_stanza_free(struct bld_stanza *st)
{
	size_t i;

	for (i = 0; i < st->n; i++) {
		free(st->f[i].name);
		free(st->f[i].value);
	}
	free(st->f);
	memset(st, 0, sizeof(*st));
}

static struct bld_field *find(const struct bld_stanza *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		if (strcasecmp(st->f[i].name, name) == 0)
			return &st->f[i];
	return NULL;
}

const char *bld_stanza_get(const struct bld_stanza *st, const char *name)
{
	struct bld_field *f = find(st, name);

	return f ? f->value : NULL;
}

int bld_stanza_set(struct bld_stanza *st, const char *name, const char *value)
{
	struct bld_field *f = find(st, name);
	char *v;

	if (f == NULL)
		return add_field(st, name, strlen(name), value, strlen(value));
	v = strdup(value);
	if (v == NULL)
		return NI_ENOMEM;
	free(f->value);
	f->value = v;
	return 0;
}

void bld_stanza_del(struct bld_stanza *st, const char *name)
{
	struct bld_field *f = find(st, name);

	if (f == NULL)
		return;
	free(f->name);
	free(f->value);
	memmove(f, f + 1, (size_t)(st->f + st->n - f - 1) * sizeof(*f));
	st->n--;
}

static int known(const char *name)
{
	size_t i;

	for (i = 0; order[i] != NULL; i++)
		if (strcasecmp(order[i], name) == 0)
			return 1;
	return 0;
}

static void put(FILE *m, const struct bld_field *f)
{
	/* A multi-line value whose first line is empty keeps "Name:\n". */
	fprintf(m, "%s:%s%s\n", f->name, f->value[0] == '\n' ? "" : " ", f->value);
}

char *bld_stanza_format(const struct bld_stanza *st)
{
	char *buf = NULL;
	size_t len = 0, i, j;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return NULL;
	for (i = 0; order[i] != NULL; i++)
		for (j = 0; j < st->n; j++)
			if (strcasecmp(st->f[j].name, order[i]) == 0)
				put(m, &st->f[j]);
	for (j = 0; j < st->n; j++)
		if (!known(st->f[j].name))
			put(m, &st->f[j]);
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
