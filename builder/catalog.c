/* catalog.c: the patch catalog: DIR/catalog.json (read and written with
 * jansson), the patch files copied under DIR/files/ID/, and the choice of
 * which patches an image gets. Loading is strict: anything malformed,
 * duplicated, dangling or cyclic is refused with a message naming
 * DIR/catalog.json and the patch. */
#include "builder/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

#define CATALOG_FILE "catalog.json"
#define CATALOG_MAX ((size_t)16 << 20)
#define CATALOG_FORMAT 1
#define ID_MAX 64
#define NO_IDX ((size_t)-1)

static const char *const sev_names[] = {
	[BLD_SEV_LOW] = "low", [BLD_SEV_MODERATE] = "moderate",
	[BLD_SEV_IMPORTANT] = "important", [BLD_SEV_CRITICAL] = "critical",
};
static const char *const state_names[] = {
	[BLD_PENDING] = "pending", [BLD_APPROVED] = "approved",
	[BLD_DECLINED] = "declined",
};
static const char *const skip_names[] = {
	[BLD_SKIP_NONE] = "applied", [BLD_SKIP_DECLINED] = "declined",
	[BLD_SKIP_PENDING] = "pending", [BLD_SKIP_SUPERSEDED] = "superseded",
	[BLD_SKIP_EXCLUDED] = "excluded", [BLD_SKIP_SEVERITY] = "below severity",
};
static const char *const patch_keys[] = {
	"id", "title", "severity", "file", "source_name", "sha256", "state",
	"by", "when", "added", "reason", "supersedes", "seq", NULL,
};
static const char *const root_keys[] = { "format", "next_seq", "patches", NULL };

#define NAMES(a) (sizeof(a) / sizeof((a)[0]))

const char *bld_severity_name(enum bld_severity s)
{
	return (unsigned)s < NAMES(sev_names) ? sev_names[s] : "?";
}

const char *bld_state_name(enum bld_state s)
{
	return (unsigned)s < NAMES(state_names) ? state_names[s] : "?";
}

const char *bld_skip_name(enum bld_skip s)
{
	return (unsigned)s < NAMES(skip_names) ? skip_names[s] : "?";
}

static int name_index(const char *s, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

int bld_severity_parse(const char *s, enum bld_severity *out)
{
	int i = name_index(s, sev_names, NAMES(sev_names));

	if (i < 0)
		return NI_EINVAL;
	*out = (enum bld_severity)i;
	return 0;
}

/* ---- small helpers ---------------------------------------------------- */

static void catalog_path(const char *dir, char *out, size_t n)
{
	size_t l = strlen(dir);

	snprintf(out, n, "%s%s%s", dir, (l && dir[l - 1] == '/') ? "" : "/",
		 CATALOG_FILE);
}

/* Sets an error prefixed by DIR/catalog.json. */
__attribute__((format(printf, 4, 5)))
static int cat_err(struct ni_err *e, const char *dir, int code,
		   const char *fmt, ...)
{
	char path[PATH_MAX], msg[900];
	va_list ap;

	catalog_path(dir, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ni_err_set(e, code, "%s: %s", path, msg);
}

static int id_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > ID_MAX || strcmp(id, ".") == 0 ||
	    strcmp(id, "..") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || strchr("._:+-", c) != NULL))
			return 0;
	}
	return 1;
}

/* One line of valid UTF-8 without control characters. */
static int text_valid(const char *s)
{
	const unsigned char *p;
	json_t *probe;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	probe = json_string(s); /* NULL if s is not valid UTF-8 */
	if (probe == NULL)
		return 0;
	json_decref(probe);
	return 1;
}

/* A stored file name must stay inside the catalog folder. */
static int rel_path_valid(const char *rel)
{
	const char *p = rel;

	if (rel[0] == '\0' || rel[0] == '/' || !text_valid(rel))
		return 0;
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += n;
		if (*p == '/')
			p++;
	}
	return rel[strlen(rel) - 1] != '/';
}

static void patch_free(struct bld_patch *p)
{
	size_t i;

	free(p->id);
	free(p->title);
	free(p->file);
	free(p->source_name);
	free(p->by);
	free(p->reason);
	for (i = 0; i < p->n_supersedes; i++)
		free(p->supersedes[i]);
	free(p->supersedes);
	memset(p, 0, sizeof(*p));
}

void bld_catalog_free(struct bld_catalog *cat)
{
	size_t i;

	for (i = 0; i < cat->n; i++)
		patch_free(&cat->patches[i]);
	free(cat->patches);
	free(cat->dir);
	memset(cat, 0, sizeof(*cat));
}

struct bld_patch *bld_catalog_find(const struct bld_catalog *cat,
				   const char *id)
{
	size_t i;

	for (i = 0; i < cat->n; i++)
		if (strcmp(cat->patches[i].id, id) == 0)
			return &cat->patches[i];
	return NULL;
}

char *bld_patch_path(const struct bld_catalog *cat, const struct bld_patch *p)
{
	return ni_path_join(cat->dir, p->file);
}

/* ---- the supersedence graph -------------------------------------------- */

/* Edges run from a patch to the patches it supersedes, by index into
 * cat->patches; byid holds the indices sorted by id for lookups. */
struct graph {
	size_t n;
	size_t *off; /* n + 1 offsets into to */
	size_t *to;
	size_t *byid;
};

static void graph_free(struct graph *g)
{
	free(g->off);
	free(g->to);
	free(g->byid);
	memset(g, 0, sizeof(*g));
}

static int cmp_byid(const void *a, const void *b, void *arg)
{
	const struct bld_patch *p = arg;

	return strcmp(p[*(const size_t *)a].id, p[*(const size_t *)b].id);
}

static size_t graph_lookup(const struct bld_catalog *cat,
			   const struct graph *g, const char *id)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, cat->patches[g->byid[mid]].id);

		if (c == 0)
			return g->byid[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NO_IDX;
}

/* Sorts the ids and refuses duplicates. */
static int graph_index(const struct bld_catalog *cat, struct graph *g,
		       struct ni_err *e)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		g->byid[i] = i;
	qsort_r(g->byid, g->n, sizeof(size_t), cmp_byid, cat->patches);
	for (i = 1; i < g->n; i++) {
		const char *id = cat->patches[g->byid[i]].id;

		if (strcmp(id, cat->patches[g->byid[i - 1]].id) == 0)
			return cat_err(e, cat->dir, NI_EDUP,
				       "patch %s: duplicate id", id);
	}
	return 0;
}

/* Resolves every supersedes id; refuses unknown and repeated ones. */
static int graph_edges(const struct bld_catalog *cat, struct graph *g,
		       struct ni_err *e)
{
	size_t i, j, k, m = 0;

	for (i = 0; i < g->n; i++) {
		const struct bld_patch *p = &cat->patches[i];

		g->off[i] = m;
		for (j = 0; j < p->n_supersedes; j++) {
			size_t t = graph_lookup(cat, g, p->supersedes[j]);

			if (t == NO_IDX)
				return cat_err(e, cat->dir, NI_ENOENT,
					       "patch %s: supersedes unknown patch %s",
					       p->id, p->supersedes[j]);
			for (k = g->off[i]; k < m; k++)
				if (g->to[k] == t)
					return cat_err(e, cat->dir, NI_EDUP,
						       "patch %s: supersedes %s twice",
						       p->id, p->supersedes[j]);
			g->to[m++] = t;
		}
	}
	g->off[g->n] = m;
	return 0;
}

/* Names the cycle closed by the edge from the top of stack to w. */
static int cycle_err(const struct bld_catalog *cat, const size_t *stack,
		     size_t sp, size_t w, struct ni_err *e)
{
	char buf[700];
	size_t k = 0, used = 0;

	while (k < sp && stack[k] != w)
		k++;
	buf[0] = '\0';
	for (; k < sp; k++) {
		int n = snprintf(buf + used, sizeof(buf) - used, "%s -> ",
				 cat->patches[stack[k]].id);

		if (n < 0 || (size_t)n >= sizeof(buf) - used - 8) {
			strcpy(buf + used, "... -> ");
			break;
		}
		used += (size_t)n;
	}
	return cat_err(e, cat->dir, NI_ECYCLE,
		       "patch %s: supersedence cycle %s%s",
		       cat->patches[w].id, buf, cat->patches[w].id);
}

/* Iterative depth-first search from root (catalogs may hold long chains). */
static int dfs(const struct bld_catalog *cat, const struct graph *g,
	       size_t root, unsigned char *color, size_t *stack, size_t *edge,
	       struct ni_err *e)
{
	size_t sp = 1;

	stack[0] = root;
	edge[0] = g->off[root];
	color[root] = 1;
	while (sp > 0) {
		size_t v = stack[sp - 1], w;

		if (edge[sp - 1] == g->off[v + 1]) {
			color[v] = 2;
			sp--;
			continue;
		}
		w = g->to[edge[sp - 1]++];
		if (color[w] == 1)
			return cycle_err(cat, stack, sp, w, e);
		if (color[w] == 0) {
			color[w] = 1;
			stack[sp] = w;
			edge[sp++] = g->off[w];
		}
	}
	return 0;
}

static int graph_acyclic(const struct bld_catalog *cat, const struct graph *g,
			 struct ni_err *e)
{
	unsigned char *color = calloc(g->n + 1, 1);
	size_t *stack = calloc(g->n + 1, sizeof(size_t));
	size_t *edge = calloc(g->n + 1, sizeof(size_t));
	size_t i;
	int ret = 0;

	if (color == NULL || stack == NULL || edge == NULL)
		ret = cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < g->n; i++)
		if (color[i] == 0)
			ret = dfs(cat, g, i, color, stack, edge, e);
	free(color);
	free(stack);
	free(edge);
	return ret;
}

/* Builds the graph and checks ids, references and cycles. */
static int graph_build(const struct bld_catalog *cat, struct graph *g,
		       struct ni_err *e)
{
	size_t i, m = 0;
	int ret;

	memset(g, 0, sizeof(*g));
	g->n = cat->n;
	for (i = 0; i < cat->n; i++)
		m += cat->patches[i].n_supersedes;
	g->off = calloc(g->n + 1, sizeof(size_t));
	g->to = calloc(m + 1, sizeof(size_t));
	g->byid = calloc(g->n + 1, sizeof(size_t));
	if (g->off == NULL || g->to == NULL || g->byid == NULL)
		ret = cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
	else if ((ret = graph_index(cat, g, e)) == 0 &&
		 (ret = graph_edges(cat, g, e)) == 0)
		ret = graph_acyclic(cat, g, e);
	if (ret)
		graph_free(g);
	return ret;
}

/* ---- loading ------------------------------------------------------------ */

/* Where a patch is parsed: the file and the patch's id (or "#N"). */
struct ctx {
	const char *path;
	char label[ID_MAX + 24];
	struct ni_err *e;
};

__attribute__((format(printf, 2, 3)))
static int perr(const struct ctx *c, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ni_err_set(c->e, NI_EINVAL, "%s: patch %s: %s", c->path,
			  c->label, msg);
}

static int get_field(const struct ctx *c, json_t *o, const char *key,
		     json_t **v)
{
	*v = json_object_get(o, key);
	if (*v == NULL)
		return perr(c, "missing field '%s'", key);
	return 0;
}

/* A string field (or null when nullable), checked as one line of text. */
static int get_str(const struct ctx *c, json_t *o, const char *key,
		   int nullable, char **out)
{
	json_t *v;
	int ret = get_field(c, o, key, &v);

	*out = NULL;
	if (ret)
		return ret;
	if (nullable && json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return perr(c, "field '%s' must be a string%s", key,
			    nullable ? " or null" : "");
	if (!text_valid(json_string_value(v)))
		return perr(c, "field '%s' must be one line of text", key);
	*out = strdup(json_string_value(v));
	if (*out == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "%s: out of memory", c->path);
	return 0;
}

static int get_int(const struct ctx *c, json_t *o, const char *key,
		   int64_t min, int64_t *out)
{
	json_t *v;
	int ret = get_field(c, o, key, &v);

	if (ret)
		return ret;
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return perr(c, "field '%s' must be an integer >= %lld", key,
			    (long long)min);
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int get_name(const struct ctx *c, json_t *o, const char *key,
		    const char *const *names, size_t n, int *out)
{
	json_t *v;
	int ret = get_field(c, o, key, &v);

	if (ret)
		return ret;
	if (!json_is_string(v))
		return perr(c, "field '%s' must be a string", key);
	*out = name_index(json_string_value(v), names, n);
	if (*out < 0)
		return perr(c, "unknown %s '%s'", key, json_string_value(v));
	return 0;
}

static int get_sha256(const struct ctx *c, json_t *o, uint8_t *out)
{
	json_t *v;
	int ret = get_field(c, o, "sha256", &v);
	const char *hex;

	if (ret)
		return ret;
	hex = json_is_string(v) ? json_string_value(v) : "";
	if (strlen(hex) != 2 * NI_SHA256_LEN ||
	    ni_unhex(hex, out, NI_SHA256_LEN) != 0)
		return perr(c, "field 'sha256' must be 64 hex digits");
	return 0;
}

static int get_supersedes(const struct ctx *c, json_t *o, struct bld_patch *p)
{
	json_t *arr, *v;
	size_t i;
	int ret = get_field(c, o, "supersedes", &arr);

	if (ret)
		return ret;
	if (!json_is_array(arr))
		return perr(c, "field 'supersedes' must be an array of ids");
	p->supersedes = calloc(json_array_size(arr) + 1, sizeof(char *));
	if (p->supersedes == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "%s: out of memory", c->path);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !id_valid(json_string_value(v)))
			return perr(c, "field 'supersedes' holds a bad id");
		p->supersedes[i] = strdup(json_string_value(v));
		if (p->supersedes[i] == NULL)
			return ni_err_set(c->e, NI_ENOMEM, "%s: out of memory",
					  c->path);
		p->n_supersedes = i + 1;
	}
	return 0;
}

static int check_keys(const struct ctx *c, json_t *o,
		      const char *const *known)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(o, key, v) {
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL)
			return perr(c, "unknown field '%s'", key);
	}
	return 0;
}

/* The id comes first: every later message names it. */
static int parse_id(struct ctx *c, json_t *o, size_t idx, struct bld_patch *p)
{
	json_t *v;

	snprintf(c->label, sizeof(c->label), "#%zu", idx + 1);
	if (!json_is_object(o))
		return perr(c, "not an object");
	v = json_object_get(o, "id");
	if (v == NULL)
		return perr(c, "missing field 'id'");
	if (!json_is_string(v) || !id_valid(json_string_value(v)))
		return perr(c, "bad id (use 1-%d of A-Z a-z 0-9 . _ : + -)",
			    ID_MAX);
	snprintf(c->label, sizeof(c->label), "%s", json_string_value(v));
	p->id = strdup(c->label);
	if (p->id == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "%s: out of memory", c->path);
	return check_keys(c, o, patch_keys);
}

/* by is set once a patch is approved or declined; reason with a decline. */
static int check_state(const struct ctx *c, const struct bld_patch *p)
{
	if (!rel_path_valid(p->file))
		return perr(c, "field 'file' must be a relative path inside the catalog");
	if ((p->state == BLD_PENDING) != (p->by == NULL))
		return perr(c, "field 'by' must be %s when %s",
			    p->by ? "null" : "a name", bld_state_name(p->state));
	if ((p->state == BLD_DECLINED) != (p->reason != NULL))
		return perr(c, "field 'reason' must be %s when %s",
			    p->reason ? "null" : "text", bld_state_name(p->state));
	return 0;
}

static int parse_patch(const char *path, json_t *o, size_t idx,
		       struct bld_patch *p, struct ni_err *e)
{
	struct ctx c = { .path = path, .e = e };
	int sev = 0, state = 0, ret;
	int64_t seq = 0;

	if ((ret = parse_id(&c, o, idx, p)) ||
	    (ret = get_str(&c, o, "title", 0, &p->title)) ||
	    (ret = get_name(&c, o, "severity", sev_names, NAMES(sev_names), &sev)) ||
	    (ret = get_str(&c, o, "file", 0, &p->file)) ||
	    (ret = get_str(&c, o, "source_name", 0, &p->source_name)) ||
	    (ret = get_sha256(&c, o, p->sha256)) ||
	    (ret = get_name(&c, o, "state", state_names, NAMES(state_names), &state)) ||
	    (ret = get_str(&c, o, "by", 1, &p->by)) ||
	    (ret = get_int(&c, o, "when", INT64_MIN, &p->when)) ||
	    (ret = get_int(&c, o, "added", INT64_MIN, &p->added)) ||
	    (ret = get_str(&c, o, "reason", 1, &p->reason)) ||
	    (ret = get_supersedes(&c, o, p)) ||
	    (ret = get_int(&c, o, "seq", 0, &seq)))
		return ret;
	p->severity = (enum bld_severity)sev;
	p->state = (enum bld_state)state;
	p->seq = (uint64_t)seq;
	return check_state(&c, p);
}

static int parse_patches(struct bld_catalog *cat, const char *path,
			 json_t *arr, struct ni_err *e)
{
	size_t i;
	int ret;

	if (!json_is_array(arr))
		return ni_err_set(e, NI_EINVAL, "%s: 'patches' must be an array",
				  path);
	cat->patches = calloc(json_array_size(arr) + 1, sizeof(*cat->patches));
	if (cat->patches == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", path);
	for (i = 0; i < json_array_size(arr); i++) {
		cat->n = i + 1;
		ret = parse_patch(path, json_array_get(arr, i), i,
				  &cat->patches[i], e);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_root(struct bld_catalog *cat, const char *path, json_t *root,
		      struct ni_err *e)
{
	json_t *fmt = json_object_get(root, "format");
	json_t *next = json_object_get(root, "next_seq");
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v)
		if (name_index(key, root_keys, NAMES(root_keys) - 1) < 0)
			return ni_err_set(e, NI_EINVAL, "%s: unknown field '%s'",
					  path, key);
	if (!json_is_integer(fmt) || json_integer_value(fmt) != CATALOG_FORMAT)
		return ni_err_set(e, NI_EINVAL,
				  "%s: 'format' must be %d (a newer netimg?)",
				  path, CATALOG_FORMAT);
	if (!json_is_integer(next) || json_integer_value(next) < 0)
		return ni_err_set(e, NI_EINVAL,
				  "%s: 'next_seq' must be an integer >= 0", path);
	cat->next_seq = (uint64_t)json_integer_value(next);
	return parse_patches(cat, path, json_object_get(root, "patches"), e);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct bld_patch *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts by seq; seqs are unique and below next_seq. */
static int check_seqs(struct bld_catalog *cat, struct ni_err *e)
{
	size_t i;

	if (cat->n > 0)
		qsort(cat->patches, cat->n, sizeof(*cat->patches), cmp_seq);
	for (i = 0; i < cat->n; i++) {
		const struct bld_patch *p = &cat->patches[i];

		if (i > 0 && p->seq == cat->patches[i - 1].seq)
			return cat_err(e, cat->dir, NI_EDUP,
				       "patch %s: seq %llu is also patch %s's",
				       p->id, (unsigned long long)p->seq,
				       cat->patches[i - 1].id);
		if (p->seq >= cat->next_seq)
			return cat_err(e, cat->dir, NI_EINVAL,
				       "patch %s: seq %llu is not below next_seq %llu",
				       p->id, (unsigned long long)p->seq,
				       (unsigned long long)cat->next_seq);
	}
	return 0;
}

static int parse_catalog(struct bld_catalog *cat, const char *buf, size_t len,
			 struct ni_err *e)
{
	char path[PATH_MAX];
	json_error_t je;
	struct graph g;
	json_t *root;
	int ret;

	catalog_path(cat->dir, path, sizeof(path));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return ni_err_set(e, NI_EINVAL, "%s: line %d: %s", path,
				  je.line, je.text);
	if (!json_is_object(root))
		ret = ni_err_set(e, NI_EINVAL, "%s: not a JSON object", path);
	else
		ret = parse_root(cat, path, root, e);
	json_decref(root);
	if (ret == 0)
		ret = check_seqs(cat, e);
	if (ret == 0 && (ret = graph_build(cat, &g, e)) == 0)
		graph_free(&g);
	return ret;
}

static int check_dir(const char *dir, struct ni_err *e)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return ni_err_set(e, NI_ENOENT,
					  "%s: no such catalog folder", dir);
		return ni_err_errno(e, errno, "%s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return ni_err_set(e, NI_EINVAL, "%s: not a folder", dir);
	return 0;
}

int bld_catalog_load(const char *dir, struct bld_catalog *cat,
		     struct ni_err *e)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	int ret;

	memset(cat, 0, sizeof(*cat));
	ret = check_dir(dir, e);
	if (ret)
		return ret;
	cat->dir = strdup(dir);
	if (cat->dir == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", dir);
	cat->next_seq = 1;
	catalog_path(dir, path, sizeof(path));
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 0; /* a new catalog */
	ret = ni_read_file(path, CATALOG_MAX, &buf, &len, e);
	if (ret == 0)
		ret = parse_catalog(cat, buf, len, e);
	free(buf);
	if (ret)
		bld_catalog_free(cat);
	return ret;
}

/* ---- saving ------------------------------------------------------------- */

json_t *bld_patch_json(const struct bld_patch *p)
{
	char hex[NI_SHA256_HEX];
	json_t *sup = json_array();
	size_t i;

	for (i = 0; sup != NULL && i < p->n_supersedes; i++)
		if (json_array_append_new(sup, json_string(p->supersedes[i]))) {
			json_decref(sup);
			return NULL;
		}
	if (sup == NULL)
		return NULL;
	ni_hex(p->sha256, NI_SHA256_LEN, hex);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:I, s:I,"
			 " s:s?, s:o, s:I}",
			 "id", p->id, "title", p->title ? p->title : "",
			 "severity", bld_severity_name(p->severity),
			 "file", p->file, "source_name", p->source_name,
			 "sha256", hex, "state", bld_state_name(p->state),
			 "by", p->by, "when", (json_int_t)p->when,
			 "added", (json_int_t)p->added, "reason", p->reason,
			 "supersedes", sup, "seq", (json_int_t)p->seq);
}

static json_t *catalog_json(const struct bld_catalog *cat)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < cat->n; i++)
		if (json_array_append_new(arr, bld_patch_json(&cat->patches[i]))) {
			json_decref(arr);
			return NULL;
		}
	if (arr == NULL)
		return NULL;
	return json_pack("{s:i, s:I, s:o}", "format", CATALOG_FORMAT,
			 "next_seq", (json_int_t)cat->next_seq, "patches", arr);
}

int bld_catalog_save(const struct bld_catalog *cat, struct ni_err *e)
{
	char path[PATH_MAX], *text, *grown;
	json_t *root = catalog_json(cat);
	size_t len;
	int ret;

	catalog_path(cat->dir, path, sizeof(path));
	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	len = text ? strlen(text) : 0;
	grown = text ? realloc(text, len + 2) : NULL;
	if (grown == NULL) {
		free(text);
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", path);
	}
	grown[len++] = '\n';
	grown[len] = '\0';
	ret = ni_write_file_atomic(path, grown, len, 0644, e);
	free(grown);
	return ret;
}

/* ---- locking ------------------------------------------------------------ */

int bld_catalog_lock(const char *dir, struct ni_err *e)
{
	int fd, ret = check_dir(dir, e);

	if (ret)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ni_err_errno(e, errno, "%s", dir);
	while (flock(fd, LOCK_EX) != 0) {
		if (errno == EINTR)
			continue;
		ret = ni_err_errno(e, errno, "%s: cannot lock", dir);
		close(fd);
		return ret;
	}
	return fd;
}

void bld_catalog_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- adding, approving, declining -------------------------------------- */

static int check_new(const struct bld_catalog *cat, const char *id,
		     enum bld_severity sev, const char *title,
		     char *const *sup, size_t n_sup, struct ni_err *e)
{
	size_t i, j;

	if (!id_valid(id))
		return cat_err(e, cat->dir, NI_EINVAL,
			       "bad patch id '%s' (use 1-%d of A-Z a-z 0-9 . _ : + -)",
			       id, ID_MAX);
	if (bld_catalog_find(cat, id) != NULL)
		return cat_err(e, cat->dir, NI_EDUP, "patch %s already exists", id);
	if ((unsigned)sev >= NAMES(sev_names))
		return cat_err(e, cat->dir, NI_EINVAL, "patch %s: bad severity", id);
	if (title != NULL && !text_valid(title))
		return cat_err(e, cat->dir, NI_EINVAL,
			       "patch %s: the title must be one line of text", id);
	for (i = 0; i < n_sup; i++) {
		if (strcmp(sup[i], id) == 0)
			return cat_err(e, cat->dir, NI_ECYCLE,
				       "patch %s: supersedence cycle %s -> %s",
				       id, id, id);
		if (!id_valid(sup[i]) || bld_catalog_find(cat, sup[i]) == NULL)
			return cat_err(e, cat->dir, NI_ENOENT,
				       "patch %s: supersedes unknown patch %s",
				       id, sup[i]);
		for (j = 0; j < i; j++)
			if (strcmp(sup[i], sup[j]) == 0)
				return cat_err(e, cat->dir, NI_EDUP,
					       "patch %s: supersedes %s twice",
					       id, sup[i]);
	}
	return 0;
}

static const char *base_name(const char *file)
{
	const char *slash = strrchr(file, '/');

	return slash ? slash + 1 : file;
}

/* Fills every field but the hash and seq; returns 0 or NI_ENOMEM. */
static int fill_new(struct bld_patch *p, const char *file, const char *id,
		    enum bld_severity sev, const char *title, char *const *sup,
		    size_t n_sup, int64_t now)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->id = strdup(id);
	p->title = strdup(title ? title : "");
	p->source_name = strdup(base_name(file));
	p->supersedes = calloc(n_sup + 1, sizeof(char *));
	if (asprintf(&p->file, "files/%s/%s", id, base_name(file)) < 0)
		p->file = NULL;
	p->severity = sev;
	p->state = BLD_PENDING;
	p->when = p->added = now;
	if (!p->id || !p->title || !p->source_name || !p->supersedes || !p->file)
		return NI_ENOMEM;
	for (i = 0; i < n_sup; i++) {
		p->supersedes[i] = strdup(sup[i]);
		if (p->supersedes[i] == NULL)
			return NI_ENOMEM;
		p->n_supersedes = i + 1;
	}
	return 0;
}

/* Streams src into the atomic file a, hashing what is written. */
static int copy_fd(int src, const char *file, struct ni_atomic *a,
		   uint8_t *sha, struct ni_err *e)
{
	static __thread char buf[1 << 16];
	struct ni_sha256 *h = ni_sha256_new();
	ssize_t n;
	int ret = 0;

	if (h == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", file);
	while (ret == 0 && (n = read(src, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = ni_err_errno(e, errno, "%s: read", file);
		else if ((ret = ni_atomic_write(a, buf, (size_t)n, e)) == 0)
			ni_sha256_update(h, buf, (size_t)n);
	}
	if (ret) {
		ni_sha256_free(h);
		return ret;
	}
	ni_sha256_final(h, sha);
	return 0;
}

static int open_source(const char *file, struct ni_err *e)
{
	struct stat st;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ni_err_errno(e, errno, "%s", file);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ni_err_set(e, NI_EINVAL, "%s: not a regular file", file);
	}
	return fd;
}

/* Copies file to DIR/p->file (temp file, fsync, rename), pinning its hash. */
static int copy_in(const struct bld_catalog *cat, const char *file,
		   struct bld_patch *p, struct ni_err *e)
{
	char *dest = bld_patch_path(cat, p), *folder = NULL;
	struct ni_atomic a;
	int src = -1, ret;

	if (dest == NULL || (folder = ni_dirname(dest)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "%s: out of memory", cat->dir);
	else if ((src = ret = open_source(file, e)) >= 0 &&
		 (ret = ni_mkdir_p(folder, 0755, e)) == 0 &&
		 (ret = ni_atomic_open(&a, dest, 0644, e)) == 0) {
		ret = copy_fd(src, file, &a, p->sha256, e);
		if (ret)
			ni_atomic_abort(&a);
		else
			ret = ni_atomic_commit(&a, e);
	}
	if (src >= 0)
		close(src);
	free(dest);
	free(folder);
	return ret;
}

int bld_catalog_add(struct bld_catalog *cat, const char *file,
		    const char *id, enum bld_severity sev, const char *title,
		    char *const *supersedes, size_t n_supersedes,
		    int64_t now, struct ni_err *e)
{
	struct bld_patch p, *grown;
	const char *base = base_name(file);
	int ret;

	ret = check_new(cat, id, sev, title, supersedes, n_supersedes, e);
	if (ret)
		return ret;
	if (base[0] == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0 || !text_valid(base))
		return ni_err_set(e, NI_EINVAL,
				  "%s: not a usable file name", file);
	grown = realloc(cat->patches, (cat->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", cat->dir);
	cat->patches = grown;
	ret = fill_new(&p, file, id, sev, title, supersedes, n_supersedes, now);
	if (ret)
		ni_err_set(e, ret, "%s: out of memory", cat->dir);
	else
		ret = copy_in(cat, file, &p, e);
	if (ret) {
		patch_free(&p);
		return ret;
	}
	/* Nothing can supersede a new id, so no cycle can form here. */
	p.seq = cat->next_seq++;
	cat->patches[cat->n++] = p;
	return 0;
}

static int set_state(struct bld_catalog *cat, const char *id,
		     enum bld_state state, const char *by, const char *reason,
		     int64_t now, struct ni_err *e)
{
	struct bld_patch *p = bld_catalog_find(cat, id);
	char *nb, *nr = NULL;

	if (p == NULL)
		return cat_err(e, cat->dir, NI_ENOENT, "no patch %s", id);
	if (by == NULL || by[0] == '\0' || !text_valid(by))
		return cat_err(e, cat->dir, NI_EINVAL,
			       "patch %s: the name must be one line of text", id);
	if (state == BLD_DECLINED &&
	    (reason == NULL || reason[0] == '\0' || !text_valid(reason)))
		return cat_err(e, cat->dir, NI_EINVAL,
			       "patch %s: the reason must be one line of text", id);
	nb = strdup(by);
	if (nb == NULL || (reason != NULL && (nr = strdup(reason)) == NULL)) {
		free(nb);
		return cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
	}
	free(p->by);
	free(p->reason);
	p->by = nb;
	p->reason = nr;
	p->state = state;
	p->when = now;
	return 0;
}

int bld_catalog_approve(struct bld_catalog *cat, const char *id,
			const char *by, int64_t now, struct ni_err *e)
{
	return set_state(cat, id, BLD_APPROVED, by, NULL, now, e);
}

int bld_catalog_decline(struct bld_catalog *cat, const char *id,
			const char *by, const char *reason, int64_t now,
			struct ni_err *e)
{
	return set_state(cat, id, BLD_DECLINED, by, reason, now, e);
}

/* ---- selection ------------------------------------------------------------ */

/* Everything but supersedence: state, exclusion, severity. */
static int mark_basic(const struct bld_catalog *cat, enum bld_severity min_sev,
		      char *const *exclude, size_t n_exclude,
		      enum bld_skip *why, struct ni_err *e)
{
	size_t i;

	for (i = 0; i < cat->n; i++) {
		const struct bld_patch *p = &cat->patches[i];

		if (p->state == BLD_DECLINED)
			why[i] = BLD_SKIP_DECLINED;
		else if (p->state == BLD_PENDING)
			why[i] = BLD_SKIP_PENDING;
		else if (p->severity < min_sev)
			why[i] = BLD_SKIP_SEVERITY;
	}
	for (i = 0; i < n_exclude; i++) {
		struct bld_patch *p = bld_catalog_find(cat, exclude[i]);

		if (p == NULL)
			return cat_err(e, cat->dir, NI_ENOENT,
				       "excluded patch %s is not in the catalog",
				       exclude[i]);
		if (p->state == BLD_APPROVED)
			why[p - cat->patches] = BLD_SKIP_EXCLUDED;
	}
	return 0;
}

/* Walks the graph from the superseders down (Kahn's order): a patch is
 * superseded when an applied patch supersedes it directly or through a
 * chain. by[i] names that patch (a direct one preferred). */
static int mark_superseded(const struct bld_catalog *cat, const struct graph *g,
			   enum bld_skip *why, size_t *by)
{
	size_t *indeg = calloc(g->n + 1, sizeof(size_t));
	size_t *queue = calloc(g->n + 1, sizeof(size_t));
	size_t *trans = calloc(g->n + 1, sizeof(size_t));
	size_t i, k, head = 0, tail = 0;
	int ret = indeg && queue && trans ? 0 : NI_ENOMEM;

	for (i = 0; ret == 0 && i < g->n; i++)
		by[i] = trans[i] = NO_IDX;
	for (k = 0; ret == 0 && k < g->off[g->n]; k++)
		indeg[g->to[k]]++;
	for (i = 0; ret == 0 && i < g->n; i++)
		if (indeg[i] == 0)
			queue[tail++] = i;
	while (ret == 0 && head < tail) {
		size_t q = queue[head++];

		if (by[q] == NO_IDX)
			by[q] = trans[q];
		if (by[q] != NO_IDX && why[q] == BLD_SKIP_NONE)
			why[q] = BLD_SKIP_SUPERSEDED;
		for (k = g->off[q]; k < g->off[q + 1]; k++) {
			size_t t = g->to[k];

			if (why[q] == BLD_SKIP_NONE && by[t] == NO_IDX)
				by[t] = q;
			else if (by[q] != NO_IDX && trans[t] == NO_IDX)
				trans[t] = by[q];
			if (--indeg[t] == 0)
				queue[tail++] = t;
		}
	}
	free(indeg);
	free(queue);
	free(trans);
	return ret;
}

static int fill_selection(const struct bld_catalog *cat,
			  const enum bld_skip *why, const size_t *by,
			  struct bld_selection *sel)
{
	size_t i;

	sel->apply = calloc(cat->n + 1, sizeof(*sel->apply));
	sel->skipped = calloc(cat->n + 1, sizeof(*sel->skipped));
	if (sel->apply == NULL || sel->skipped == NULL)
		return NI_ENOMEM;
	for (i = 0; i < cat->n; i++) {
		const struct bld_patch *p = &cat->patches[i];
		struct bld_skipped *s;

		if (why[i] == BLD_SKIP_NONE) {
			sel->apply[sel->n_apply++] = p;
			continue;
		}
		s = &sel->skipped[sel->n_skipped++];
		s->patch = p;
		s->why = why[i];
		s->by_id = why[i] == BLD_SKIP_SUPERSEDED ?
			cat->patches[by[i]].id : NULL;
	}
	return 0;
}

static int verify_file(const struct bld_catalog *cat, const struct bld_patch *p,
		       struct ni_err *e)
{
	char *path = bld_patch_path(cat, p);
	char want[NI_SHA256_HEX], got[NI_SHA256_HEX];
	uint8_t sha[NI_SHA256_LEN];
	int ret;

	if (path == NULL)
		return cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
	ret = ni_sha256_file(path, sha);
	if (ret < 0) {
		ret = ni_err_errno(e, -ret, "%s", path);
	} else if (memcmp(sha, p->sha256, NI_SHA256_LEN) != 0) {
		ni_hex(p->sha256, NI_SHA256_LEN, want);
		ni_hex(sha, NI_SHA256_LEN, got);
		ret = ni_err_set(e, NI_EHASH,
				 "%s: SHA-256 mismatch (pinned %s, file has %s)",
				 path, want, got);
	}
	free(path);
	return ret;
}

int bld_catalog_select(const struct bld_catalog *cat, enum bld_severity min_sev,
		       char *const *exclude, size_t n_exclude,
		       struct bld_selection *sel, struct ni_err *e)
{
	enum bld_skip *why = calloc(cat->n + 1, sizeof(*why));
	size_t *by = calloc(cat->n + 1, sizeof(*by)), i;
	struct graph g;
	int ret;

	memset(sel, 0, sizeof(*sel));
	if (why == NULL || by == NULL) {
		free(why);
		free(by);
		return cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
	}
	ret = graph_build(cat, &g, e);
	if (ret == 0) {
		ret = mark_basic(cat, min_sev, exclude, n_exclude, why, e);
		if (ret == 0 && (mark_superseded(cat, &g, why, by) != 0 ||
				 fill_selection(cat, why, by, sel) != 0))
			ret = cat_err(e, cat->dir, NI_ENOMEM, "out of memory");
		graph_free(&g);
	}
	for (i = 0; ret == 0 && i < sel->n_apply; i++)
		ret = verify_file(cat, sel->apply[i], e);
	free(why);
	free(by);
	if (ret)
		bld_selection_free(sel);
	return ret;
}

void bld_selection_free(struct bld_selection *sel)
{
	free(sel->apply);
	free(sel->skipped);
	memset(sel, 0, sizeof(*sel));
}
