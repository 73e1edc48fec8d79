/* deb822.h: Debian control-file stanzas ("Field: value" lines with
 * continuation lines), as dpkg's status file and a package's control file
 * hold them. Bounded: input comes from packages and images. */
#ifndef BLD_DEB822_H
#define BLD_DEB822_H

#include <stddef.h>

struct bld_field {
	char *name;
	char *value;     /* everything after "Name:", continuation lines
			  * included, without the final newline */
};

struct bld_stanza {
	struct bld_field *f;
	size_t n;
};

/* Parses the stanza starting at *text (skipping blank lines); advances
 * *text past it. Returns 1 with a stanza, 0 at the end, <0 on error. */
int bld_stanza_parse(const char **text, const char *end, struct bld_stanza *st);
void bld_stanza_free(struct bld_stanza *st);
const char *bld_stanza_get(const struct bld_stanza *st, const char *name);
int bld_stanza_set(struct bld_stanza *st, const char *name, const char *value);
void bld_stanza_del(struct bld_stanza *st, const char *name);
/* Formats in dpkg's field order (known fields first, the rest after in
 * their order); the result ends with "\n". */
char *bld_stanza_format(const struct bld_stanza *st);

#endif
