/* recipe.c: parses and checks a recipe with inih. */
#include "builder/recipe.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/compressor.h>

#include "builder/input.h"
#include "common/fsutil.h"

struct parse {
	struct bld_recipe *r;
	struct ni_err *e;
	FILE *f;
	int line;
	int at_start;       /* the next chunk read starts a new line */
	int failed;
	int seen_image, seen_base;
};

static int bad(struct parse *p, const char *fmt, const char *a, const char *b);

/* inih calls the handler only for keys: an empty unknown section is
 * caught here, as the line is read. */
static void check_section(struct parse *p, const char *line)
{
	static const char *const known[] = { "image", "base", "patches", "boot", NULL };
	char name[64];
	size_t i;

	while (*line == ' ' || *line == '\t')
		line++;
	/* An unclosed "[x" is left to inih: a syntax error. */
	if (*line != '[' || sscanf(line + 1, "%63[^]\r\n]", name) != 1 ||
	    line[1 + strlen(name)] != ']')
		return;
	for (i = 0; known[i] != NULL; i++)
		if (strcmp(name, known[i]) == 0)
			return;
	bad(p, "unknown section [%s]%s", name, "");
}

static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *s = fgets(str, num, p->f);

	/* inih may read a long line in several chunks: count lines, not
	 * chunks. */
	if (s != NULL && p->at_start) {
		p->line++;
		check_section(p, s);
	}
	if (s != NULL)
		p->at_start = strchr(s, '\n') != NULL;
	return s;
}

static int bad(struct parse *p, const char *fmt, const char *a, const char *b)
{
	char msg[512];

	if (p->failed)
		return 0;
	snprintf(msg, sizeof(msg), fmt, a, b);
	ni_err_set(p->e, NI_EINVAL, "%s:%d: %s", p->r->path, p->line, msg);
	p->failed = 1;
	return 0;
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._+-~") == n;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst != NULL;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return (errno || *end) ? -1 : 0;
}

static int split_list(struct parse *p, const char *v)
{
	char *copy = strdup(v), *tok, *save = NULL;
	struct bld_recipe *r = p->r;

	if (copy == NULL)
		return 0;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char **n = realloc(r->exclude, (r->n_exclude + 1) * sizeof(*n));

		if (n == NULL)
			break;
		r->exclude = n;
		if ((r->exclude[r->n_exclude] = strdup(tok)) == NULL)
			break;
		r->n_exclude++;
	}
	free(copy);
	return 1;
}

static int image_key(struct parse *p, const char *k, const char *v)
{
	struct bld_recipe *r = p->r;
	uint64_t n;

	p->seen_image = 1;
	if (strcmp(k, "name") == 0 || strcmp(k, "version") == 0) {
		if (!valid_name(v))
			return bad(p, "%s: '%s' must be 1-64 of A-Z a-z 0-9 . _ + - ~", k, v);
		return set_str(strcmp(k, "name") == 0 ? &r->name : &r->version, v);
	}
	if (strcmp(k, "compression") == 0) {
		if (strcmp(v, "zstd") && strcmp(v, "xz") && strcmp(v, "gzip") &&
		    strcmp(v, "lz4"))
			return bad(p, "compression: '%s' is not one of zstd, xz, gzip, lz4%s", v, "");
		r->comp_id = sqfs_compressor_id_from_name(v);
		return set_str(&r->compression, v);
	}
	if (strcmp(k, "block_size") == 0) {
		if (parse_u64(v, &n) || n < 4096 || n > 1048576 || (n & (n - 1)))
			return bad(p, "block_size: '%s' is not a power of two from 4096 to 1048576%s", v, "");
		r->block_size = (uint32_t)n;
		return 1;
	}
	if (strcmp(k, "epoch") == 0) {
		if (parse_u64(v, &n) || n > 0xFFFFFFFFu)
			return bad(p, "epoch: '%s' is not a unix time%s", v, "");
		if (!r->epoch_from_env)
			r->epoch = (int64_t)n;
		return 1;
	}
	return bad(p, "unknown key '%s' in [%s]", k, "image");
}

static int base_key(struct parse *p, const char *k, const char *v)
{
	struct bld_recipe *r = p->r;

	p->seen_base = 1;
	if (strcmp(k, "source") == 0) {
		free(r->base);
		r->base = ni_path_relative_to(r->path, v);
		if (!set_str(&r->base_raw, v) || r->base == NULL)
			return bad(p, "out of memory%s%s", "", "");
		if (access(r->base, R_OK) != 0)
			return bad(p, "source: %s: %s", r->base, strerror(errno));
		return 1;
	}
	if (strcmp(k, "sha256") == 0) {
		if (strlen(v) != 64 || ni_unhex(v, r->base_sha, NI_SHA256_LEN))
			return bad(p, "sha256: '%s' is not 64 hex digits%s", v, "");
		r->has_base_sha = 1;
		return 1;
	}
	return bad(p, "unknown key '%s' in [%s]", k, "base");
}

static int patches_key(struct parse *p, const char *k, const char *v)
{
	struct bld_recipe *r = p->r;

	if (strcmp(k, "catalog") == 0) {
		free(r->catalog);
		r->catalog = ni_path_relative_to(r->path, v);
		if (!set_str(&r->catalog_raw, v) || r->catalog == NULL)
			return bad(p, "out of memory%s%s", "", "");
		if (!is_dir(r->catalog))
			return bad(p, "catalog: %s: %s", r->catalog, "not a folder");
		return 1;
	}
	if (strcmp(k, "min_severity") == 0) {
		if (bld_severity_parse(v, &r->min_sev) != 0)
			return bad(p, "min_severity: '%s' is not one of critical, important, moderate, low%s", v, "");
		return 1;
	}
	if (strcmp(k, "exclude") == 0)
		return split_list(p, v);
	return bad(p, "unknown key '%s' in [%s]", k, "patches");
}

static int boot_key(struct parse *p, const char *k, const char *v)
{
	struct bld_recipe *r = p->r;

	r->has_boot = 1;
	if (strcmp(k, "kernel") == 0) {
		free(r->boot_kernel);
		r->boot_kernel = strcmp(v, "image") == 0 ? strdup(v)
			: ni_path_relative_to(r->path, v);
		if (!set_str(&r->boot_kernel_raw, v) || r->boot_kernel == NULL)
			return bad(p, "out of memory%s%s", "", "");
		if (strcmp(v, "image") != 0 && access(r->boot_kernel, R_OK) != 0)
			return bad(p, "kernel: %s: %s", r->boot_kernel, strerror(errno));
		if (strcmp(v, "image") != 0 && bld_input_detect(r->boot_kernel) != BLD_IN_DEB)
			return bad(p, "kernel: %s: %s", r->boot_kernel,
				   "neither 'image' nor a Debian linux-image package");
		return 1;
	}
	if (strcmp(k, "cmdline") == 0)
		return set_str(&r->boot_cmdline, v);
	return bad(p, "unknown key '%s' in [%s]", k, "boot");
}

static int handler(void *user, const char *sec, const char *k, const char *v)
{
	struct parse *p = user;

	if (p->failed)
		return 1;
	if (strcmp(sec, "image") == 0)
		return image_key(p, k, v);
	if (strcmp(sec, "base") == 0)
		return base_key(p, k, v);
	if (strcmp(sec, "patches") == 0)
		return patches_key(p, k, v);
	if (strcmp(sec, "boot") == 0)
		return boot_key(p, k, v);
	bad(p, "unknown section [%s]%s", sec, "");
	return 1;
}

static int check_required(struct parse *p)
{
	struct bld_recipe *r = p->r;
	const char *missing = NULL;

	if (r->name == NULL)
		missing = "[image] name";
	else if (r->version == NULL)
		missing = "[image] version";
	else if (r->base == NULL)
		missing = "[base] source";
	else if (r->has_boot && r->boot_kernel == NULL)
		missing = "[boot] kernel";
	if (missing == NULL)
		return 0;
	return ni_err_set(p->e, NI_EINVAL, "%s: missing %s", r->path, missing);
}

static int env_epoch(struct bld_recipe *r, struct ni_err *e)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	uint64_t n;

	if (s == NULL || *s == '\0')
		return 0;
	if (parse_u64(s, &n) || n > 0xFFFFFFFFu)
		return ni_err_set(e, NI_EINVAL,
				  "SOURCE_DATE_EPOCH: '%s' is not a unix time", s);
	r->epoch = (int64_t)n;
	r->epoch_from_env = 1;
	return 0;
}

int bld_recipe_load(const char *path, struct bld_recipe *r, struct ni_err *e)
{
	struct parse p = { .r = r, .e = e };
	int ret;

	memset(r, 0, sizeof(*r));
	r->path = strdup(path);
	r->dir = ni_dirname(path);
	r->compression = strdup("zstd");
	r->comp_id = SQFS_COMP_ZSTD;
	r->block_size = 131072;
	r->epoch = -1;
	r->min_sev = BLD_SEV_LOW;
	if (!r->path || !r->dir || !r->compression)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if ((ret = env_epoch(r, e)) != 0)
		return ret;
	p.f = fopen(path, "r");
	if (p.f == NULL)
		return ni_err_errno(e, errno, "%s", path);
	/* Debian's inih defaults to 200-byte lines split silently, and to
	 * continuation lines: neither suits a recipe. */
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_initial_alloc = 512;
	ini_max_line = 65536;
	ini_allow_multiline = false;
	p.at_start = 1;
	ret = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.f);
	if (p.failed)
		return e ? e->code : NI_EINVAL;
	if (ret > 0)
		return ni_err_set(e, NI_EINVAL, "%s:%d: syntax error", path, ret);
	if (ret < 0)
		return ni_err_set(e, NI_EIO, "%s: cannot read", path);
	return check_required(&p);
}

void bld_recipe_free(struct bld_recipe *r)
{
	size_t i;

	for (i = 0; i < r->n_exclude; i++)
		free(r->exclude[i]);
	free(r->exclude);
	free(r->path); free(r->dir); free(r->name); free(r->version);
	free(r->compression); free(r->base); free(r->base_raw);
	free(r->catalog); free(r->catalog_raw); free(r->boot_kernel);
	free(r->boot_kernel_raw); free(r->boot_cmdline);
	memset(r, 0, sizeof(*r));
}
