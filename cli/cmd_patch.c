/* cmd_patch.c: `netimg patch add|approve|decline|list`: the catalog
 * commands. Each parses its options, then runs one load-change-save cycle
 * of the catalog under its lock (list only reads). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/catalog.h"
#include "cli/cli.h"

enum { O_CATALOG = 1, O_ID, O_SEVERITY, O_TITLE, O_SUPERSEDES, O_BY,
       O_REASON, O_JSON };

struct popts {
	const char *catalog, *id, *severity, *title, *supersedes, *by, *reason;
	int json;
	char **pos;
	int n_pos;
	/* add: the parsed values and the pinned hash to report */
	enum bld_severity sev;
	char **sup;
	size_t n_sup;
	char hex[NI_SHA256_HEX];
};

struct sub {
	const char *name;
	const struct option *opts;
	int n_pos;
	const char *pos_name;
	int (*run)(struct popts *o);
};

#define OPT_CATALOG { "catalog", required_argument, NULL, O_CATALOG }
#define OPT_BY { "by", required_argument, NULL, O_BY }
#define OPT_END { NULL, 0, NULL, 0 }

static const struct option add_opts[] = {
	OPT_CATALOG,
	{ "id", required_argument, NULL, O_ID },
	{ "severity", required_argument, NULL, O_SEVERITY },
	{ "title", required_argument, NULL, O_TITLE },
	{ "supersedes", required_argument, NULL, O_SUPERSEDES },
	OPT_END,
};
static const struct option approve_opts[] = { OPT_CATALOG, OPT_BY, OPT_END };
static const struct option decline_opts[] = {
	OPT_CATALOG, OPT_BY,
	{ "reason", required_argument, NULL, O_REASON },
	OPT_END,
};
static const struct option list_opts[] = {
	OPT_CATALOG,
	{ "json", no_argument, NULL, O_JSON },
	OPT_END,
};

static void set_opt(struct popts *o, int c, const char *arg)
{
	switch (c) {
	case O_CATALOG: o->catalog = arg; break;
	case O_ID: o->id = arg; break;
	case O_SEVERITY: o->severity = arg; break;
	case O_TITLE: o->title = arg; break;
	case O_SUPERSEDES: o->supersedes = arg; break;
	case O_BY: o->by = arg; break;
	case O_REASON: o->reason = arg; break;
	case O_JSON: o->json = 1; break;
	}
}

/* argv[0] is the subcommand; options and positionals may mix. */
static int parse(int argc, char **argv, const struct sub *s, struct popts *o)
{
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", s->opts, NULL)) != -1) {
		if (c == '?' && optopt > ' ' && optopt < 127)
			return cli_usage_error("patch", "%s: unknown option '-%c'",
					       s->name, optopt);
		if (c == '?')
			return cli_usage_error("patch", "%s: unknown option '%s'",
					       s->name, argv[optind - 1]);
		if (c == ':')
			return cli_usage_error("patch", "%s: option '%s' needs a value",
					       s->name, argv[optind - 1]);
		set_opt(o, c, optarg);
	}
	o->pos = argv + optind;
	o->n_pos = argc - optind;
	if (o->n_pos < s->n_pos)
		return cli_usage_error("patch", "%s: missing %s", s->name,
				       s->pos_name);
	if (o->n_pos > s->n_pos)
		return cli_usage_error("patch", "%s: unexpected argument '%s'",
				       s->name, o->pos[s->n_pos]);
	if (o->catalog == NULL)
		return cli_usage_error("patch", "%s: missing --catalog DIR",
				       s->name);
	return 0;
}

typedef int (*change_fn)(struct bld_catalog *cat, struct popts *o,
			 struct ni_err *e);

/* Lock, load, change, save, unlock. */
static int change_catalog(struct popts *o, change_fn fn)
{
	struct bld_catalog cat;
	struct ni_err e = { 0 };
	int lock, ret;

	lock = bld_catalog_lock(o->catalog, &e);
	if (lock < 0)
		return cli_fail(&e);
	ret = bld_catalog_load(o->catalog, &cat, &e);
	if (ret == 0) {
		ret = fn(&cat, o, &e);
		if (ret == 0)
			ret = bld_catalog_save(&cat, &e);
		bld_catalog_free(&cat);
	}
	bld_catalog_unlock(lock);
	return ret ? cli_fail(&e) : 0;
}

/* Splits "A,B,C" into o->sup (pointers into a copy of the list). */
static int split_ids(struct popts *o, char *list)
{
	size_t n = 1;
	char *p, *save = NULL;

	for (p = list; *p != '\0'; p++)
		n += *p == ',';
	if (list[0] == '\0' || list[0] == ',' || p[-1] == ',' ||
	    strstr(list, ",,") != NULL)
		return cli_usage_error("patch", "add: --supersedes wants ID[,ID...]");
	o->sup = calloc(n, sizeof(char *));
	if (o->sup == NULL) {
		fprintf(stderr, "netimg: out of memory\n");
		return 1;
	}
	for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
		o->sup[o->n_sup++] = p;
	return 0;
}

static int add_change(struct bld_catalog *cat, struct popts *o,
		      struct ni_err *e)
{
	int ret = bld_catalog_add(cat, o->pos[0], o->id, o->sev, o->title,
				  o->sup, o->n_sup, (int64_t)time(NULL), e);

	if (ret == 0)
		ni_hex(bld_catalog_find(cat, o->id)->sha256, NI_SHA256_LEN,
		       o->hex);
	return ret;
}

static int run_add(struct popts *o)
{
	char *list = NULL;
	int ret;

	if (o->id == NULL || o->severity == NULL)
		return cli_usage_error("patch", "add: missing %s",
				       o->id ? "--severity S" : "--id ID");
	if (bld_severity_parse(o->severity, &o->sev) != 0)
		return cli_usage_error("patch",
				       "add: unknown severity '%s' (critical, important, moderate, low)",
				       o->severity);
	if (o->supersedes != NULL) {
		list = strdup(o->supersedes);
		ret = list ? split_ids(o, list) : 1;
		if (ret) {
			free(list);
			return ret;
		}
	}
	ret = change_catalog(o, add_change);
	if (ret == 0)
		printf("added %s (sha256 %s)\n", o->id, o->hex);
	free(o->sup);
	free(list);
	return ret;
}

static int approve_change(struct bld_catalog *cat, struct popts *o,
			  struct ni_err *e)
{
	return bld_catalog_approve(cat, o->pos[0], o->by, (int64_t)time(NULL), e);
}

static int decline_change(struct bld_catalog *cat, struct popts *o,
			  struct ni_err *e)
{
	return bld_catalog_decline(cat, o->pos[0], o->by, o->reason,
				   (int64_t)time(NULL), e);
}

static int run_approve(struct popts *o)
{
	int ret;

	if (o->by == NULL)
		return cli_usage_error("patch", "approve: missing --by NAME");
	ret = change_catalog(o, approve_change);
	if (ret == 0)
		printf("approved %s by %s\n", o->pos[0], o->by);
	return ret;
}

static int run_decline(struct popts *o)
{
	int ret;

	if (o->by == NULL || o->reason == NULL)
		return cli_usage_error("patch", "decline: missing %s",
				       o->by ? "--reason TEXT" : "--by NAME");
	ret = change_catalog(o, decline_change);
	if (ret == 0)
		printf("declined %s by %s\n", o->pos[0], o->by);
	return ret;
}

static int width(const struct bld_catalog *cat, const char *head,
		 const char *(*field)(const struct bld_patch *))
{
	size_t i, w = strlen(head);

	for (i = 0; i < cat->n; i++)
		if (strlen(field(&cat->patches[i])) > w)
			w = strlen(field(&cat->patches[i]));
	return (int)w;
}

static const char *f_id(const struct bld_patch *p) { return p->id; }
static const char *f_sev(const struct bld_patch *p) { return bld_severity_name(p->severity); }
static const char *f_state(const struct bld_patch *p) { return bld_state_name(p->state); }
static const char *f_by(const struct bld_patch *p) { return p->by ? p->by : "-"; }

static void list_table(const struct bld_catalog *cat)
{
	int wi = width(cat, "ID", f_id), ws = width(cat, "SEVERITY", f_sev);
	int wt = width(cat, "STATE", f_state), wb = width(cat, "BY", f_by);
	size_t i;

	printf("%-*s  %-*s  %-*s  %-*s  %s\n", wi, "ID", ws, "SEVERITY", wt,
	       "STATE", wb, "BY", "TITLE");
	for (i = 0; i < cat->n; i++) {
		const struct bld_patch *p = &cat->patches[i];

		printf("%-*s  %-*s  %-*s  %-*s  %s\n", wi, f_id(p), ws,
		       f_sev(p), wt, f_state(p), wb, f_by(p),
		       p->title[0] ? p->title : "-");
	}
}

static int list_json(const struct bld_catalog *cat)
{
	json_t *arr = json_array();
	size_t i;
	int ret = arr ? 0 : -1;

	for (i = 0; ret == 0 && i < cat->n; i++)
		ret = json_array_append_new(arr, bld_patch_json(&cat->patches[i]));
	if (ret == 0)
		ret = json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(arr);
	if (ret == 0)
		putchar('\n');
	return ret;
}

static int run_list(struct popts *o)
{
	struct bld_catalog cat;
	struct ni_err e = { 0 };
	int ret = 0;

	if (bld_catalog_load(o->catalog, &cat, &e) != 0)
		return cli_fail(&e);
	if (o->json)
		ret = list_json(&cat);
	else
		list_table(&cat);
	bld_catalog_free(&cat);
	if (ret != 0 || fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "netimg: cannot write the list to stdout\n");
		return 1;
	}
	return 0;
}

static const struct sub subs[] = {
	{ "add", add_opts, 1, "FILE", run_add },
	{ "approve", approve_opts, 1, "ID", run_approve },
	{ "decline", decline_opts, 1, "ID", run_decline },
	{ "list", list_opts, 0, NULL, run_list },
	{ NULL, NULL, 0, NULL, NULL },
};

int cmd_patch(int argc, char **argv)
{
	struct popts o = { 0 };
	const struct sub *s;
	int ret;

	if (argc < 2)
		return cli_usage_error("patch",
				       "missing subcommand (add, approve, decline, list)");
	for (s = subs; s->name != NULL; s++)
		if (strcmp(s->name, argv[1]) == 0)
			break;
	if (s->name == NULL)
		return cli_usage_error("patch",
				       "no subcommand '%s' (add, approve, decline, list)",
				       argv[1]);
	ret = parse(argc - 1, argv + 1, s, &o);
	if (ret)
		return ret;
	return s->run(&o);
}
