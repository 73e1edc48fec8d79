/* test_catalog.c: the catalog module: save and load, and above all the
 * selection (states, severity, exclusion, transitive supersedence, apply
 * order, pinned hashes), which the shell tests only reach through build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/catalog.h"
#include "common/fsutil.h"
#include "tests/unit/unit.h"

/* A catalog in a fresh folder with patches P1..Pn added in order, each
 * with the given severity and supersedes list ("" for none, "A,B"). */
struct fixture {
	char *dir;
	struct bld_catalog cat;
};

static int add(struct fixture *f, const char *id, enum bld_severity sev,
	       const char *sup)
{
	char *list = strdup(sup), *ids[8], *save = NULL, *p, *file;
	size_t n = 0;
	struct ni_err e = { 0 };
	int ret;

	for (p = strtok_r(list, ",", &save); p && n < 8;
	     p = strtok_r(NULL, ",", &save))
		ids[n++] = p;
	file = unit_write(f->dir, "in.tar", id);
	ret = bld_catalog_add(&f->cat, file, id, sev, id, ids, n, 1000, &e);
	if (ret)
		printf("#   add %s: %s\n", id, e.msg);
	free(file);
	free(list);
	return ret;
}

static void fixture_init(struct fixture *f)
{
	struct ni_err e = { 0 };

	f->dir = unit_tmpdir();
	if (bld_catalog_load(f->dir, &f->cat, &e) != 0) {
		printf("#   %s\n", e.msg);
		exit(1);
	}
}

static void fixture_free(struct fixture *f)
{
	bld_catalog_free(&f->cat);
	unit_rmtree(f->dir);
}

static void approve(struct fixture *f, const char *id)
{
	bld_catalog_approve(&f->cat, id, "tester", 2000, NULL);
}

/* "P1 P3" for the applied ids; "P2:superseded:P1 ..." for the skipped. */
static void describe(const struct bld_selection *s, char *applied,
		     char *skipped)
{
	size_t i;

	applied[0] = skipped[0] = '\0';
	for (i = 0; i < s->n_apply; i++)
		sprintf(applied + strlen(applied), "%s%s", i ? " " : "",
			s->apply[i]->id);
	for (i = 0; i < s->n_skipped; i++)
		sprintf(skipped + strlen(skipped), "%s%s:%s%s%s", i ? " " : "",
			s->skipped[i].patch->id, bld_skip_name(s->skipped[i].why),
			s->skipped[i].by_id ? ":" : "",
			s->skipped[i].by_id ? s->skipped[i].by_id : "");
}

static int expect(struct fixture *f, enum bld_severity min, char **excl,
		  size_t n_excl, const char *want_applied,
		  const char *want_skipped)
{
	struct bld_selection s;
	struct ni_err e = { 0 };
	char applied[512], skipped[512];
	int fails = 0;

	UCHECK(bld_catalog_select(&f->cat, min, excl, n_excl, &s, &e) == 0);
	if (fails) {
		printf("#   %s\n", e.msg);
		return fails;
	}
	describe(&s, applied, skipped);
	UCHECK(strcmp(applied, want_applied) == 0);
	UCHECK(strcmp(skipped, want_skipped) == 0);
	if (fails)
		printf("#   applied '%s' skipped '%s'\n", applied, skipped);
	bld_selection_free(&s);
	return fails;
}

static int t_roundtrip(void)
{
	struct fixture f;
	struct bld_catalog back;
	struct ni_err e = { 0 };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P1", BLD_SEV_LOW, "") == 0);
	UCHECK(add(&f, "P2", BLD_SEV_CRITICAL, "P1") == 0);
	bld_catalog_decline(&f.cat, "P1", "bob", "no", 3000, NULL);
	UCHECK(bld_catalog_save(&f.cat, &e) == 0);
	UCHECK(bld_catalog_load(f.dir, &back, &e) == 0);
	UCHECK(back.n == 2 && back.next_seq == 3);
	if (back.n == 2) {
		struct bld_patch *a = &back.patches[0], *b = &back.patches[1];

		UCHECK(strcmp(a->id, "P1") == 0 && a->state == BLD_DECLINED);
		UCHECK(strcmp(a->by, "bob") == 0 && strcmp(a->reason, "no") == 0);
		UCHECK(a->when == 3000 && a->added == 1000 && a->seq == 1);
		UCHECK(memcmp(a->sha256, f.cat.patches[0].sha256, NI_SHA256_LEN) == 0);
		UCHECK(b->severity == BLD_SEV_CRITICAL && b->state == BLD_PENDING);
		UCHECK(b->by == NULL && b->reason == NULL && b->when == 1000);
		UCHECK(b->n_supersedes == 1 && strcmp(b->supersedes[0], "P1") == 0);
		UCHECK(strcmp(b->file, "files/P2/in.tar") == 0);
		UCHECK(strcmp(b->source_name, "in.tar") == 0);
		bld_catalog_free(&back);
	}
	fixture_free(&f);
	return fails;
}

static int t_states_severity_exclude(void)
{
	struct fixture f;
	char *excl[] = { "P4" };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P1", BLD_SEV_CRITICAL, "") == 0);
	UCHECK(add(&f, "P2", BLD_SEV_CRITICAL, "") == 0);
	UCHECK(add(&f, "P3", BLD_SEV_LOW, "") == 0);
	UCHECK(add(&f, "P4", BLD_SEV_IMPORTANT, "") == 0);
	UCHECK(add(&f, "P5", BLD_SEV_MODERATE, "") == 0);
	approve(&f, "P5");
	approve(&f, "P3");
	approve(&f, "P4");
	bld_catalog_decline(&f.cat, "P2", "x", "y", 1, NULL);
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "P3 P4 P5",
			"P1:pending P2:declined");
	fails += expect(&f, BLD_SEV_MODERATE, excl, 1, "P5",
			"P1:pending P2:declined P3:below severity P4:excluded");
	fixture_free(&f);
	return fails;
}

static int t_supersedes_direct(void)
{
	struct fixture f;
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "OLD", BLD_SEV_IMPORTANT, "") == 0);
	UCHECK(add(&f, "NEW", BLD_SEV_LOW, "OLD") == 0);
	approve(&f, "OLD");
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "OLD", "NEW:pending");
	approve(&f, "NEW");
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "NEW",
			"OLD:superseded:NEW");
	/* the superseder below the threshold is not applied: OLD is */
	fails += expect(&f, BLD_SEV_MODERATE, NULL, 0, "OLD",
			"NEW:below severity");
	fixture_free(&f);
	return fails;
}

static int t_supersedes_transitive(void)
{
	struct fixture f;
	char *excl[] = { "A" };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "C", BLD_SEV_LOW, "") == 0);
	UCHECK(add(&f, "B", BLD_SEV_LOW, "C") == 0);
	UCHECK(add(&f, "A", BLD_SEV_LOW, "B") == 0);
	approve(&f, "A");
	approve(&f, "C");
	/* B is pending, yet A supersedes C through it */
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "A",
			"C:superseded:A B:pending");
	approve(&f, "B");
	/* B is not applied either: A is what supersedes C */
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "A",
			"C:superseded:A B:superseded:A");
	fails += expect(&f, BLD_SEV_LOW, excl, 1, "B",
			"C:superseded:B A:excluded");
	fixture_free(&f);
	return fails;
}

/* B and C both supersede A, D supersedes B and C: a diamond. */
static int t_supersedes_many(void)
{
	struct fixture f;
	char *excl[] = { "D" };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "A", BLD_SEV_LOW, "") == 0);
	UCHECK(add(&f, "B", BLD_SEV_LOW, "A") == 0);
	UCHECK(add(&f, "C", BLD_SEV_LOW, "A") == 0);
	UCHECK(add(&f, "D", BLD_SEV_LOW, "B,C") == 0);
	approve(&f, "A");
	approve(&f, "C");
	approve(&f, "D");
	fails += expect(&f, BLD_SEV_LOW, NULL, 0, "D",
			"A:superseded:D B:pending C:superseded:D");
	fails += expect(&f, BLD_SEV_LOW, excl, 1, "C",
			"A:superseded:C B:pending D:excluded");
	fixture_free(&f);
	return fails;
}

static int t_exclude_unknown(void)
{
	struct fixture f;
	struct bld_selection s;
	struct ni_err e = { 0 };
	char *excl[] = { "NOPE" };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P1", BLD_SEV_LOW, "") == 0);
	UCHECK(bld_catalog_select(&f.cat, BLD_SEV_LOW, excl, 1, &s, &e) ==
	       NI_ENOENT);
	UCHECK(strstr(e.msg, "catalog.json: excluded patch NOPE") != NULL);
	fixture_free(&f);
	return fails;
}

static int t_hash_checked(void)
{
	struct fixture f;
	struct bld_selection s;
	struct ni_err e = { 0 };
	char *path, *tampered, want[200];
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P1", BLD_SEV_LOW, "") == 0);
	approve(&f, "P1");
	path = bld_patch_path(&f.cat, &f.cat.patches[0]);
	tampered = unit_write(f.dir, "files/P1/in.tar", "tampered");
	UCHECK(bld_catalog_select(&f.cat, BLD_SEV_LOW, NULL, 0, &s, &e) ==
	       NI_EHASH);
	snprintf(want, sizeof(want), "%s: SHA-256 mismatch (pinned ", path);
	UCHECK(strncmp(e.msg, want, strlen(want)) == 0);
	UCHECK(s.apply == NULL && s.skipped == NULL);
	remove(tampered);
	UCHECK(bld_catalog_select(&f.cat, BLD_SEV_LOW, NULL, 0, &s, &e) ==
	       NI_ENOENT);
	UCHECK(strncmp(e.msg, path, strlen(path)) == 0);
	free(tampered);
	free(path);
	fixture_free(&f);
	return fails;
}

static int t_add_refusals_leave_catalog(void)
{
	struct fixture f;
	struct ni_err e = { 0 };
	char *file, *sup[] = { "NOPE" };
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P1", BLD_SEV_LOW, "") == 0);
	file = unit_write(f.dir, "x.tar", "x");
	UCHECK(bld_catalog_add(&f.cat, file, "P2", BLD_SEV_LOW, NULL, sup, 1,
			       1, &e) == NI_ENOENT);
	UCHECK(bld_catalog_add(&f.cat, file, "P1", BLD_SEV_LOW, NULL, NULL, 0,
			       1, &e) == NI_EDUP);
	UCHECK(bld_catalog_add(&f.cat, file, "", BLD_SEV_LOW, NULL, NULL, 0,
			       1, &e) == NI_EINVAL);
	UCHECK(bld_catalog_add(&f.cat, file, "a/b", BLD_SEV_LOW, NULL, NULL, 0,
			       1, &e) == NI_EINVAL);
	UCHECK(bld_catalog_add(&f.cat, "/nonexistent/x", "P3", BLD_SEV_LOW,
			       NULL, NULL, 0, 1, &e) == NI_ENOENT);
	UCHECK(f.cat.n == 1 && f.cat.next_seq == 2);
	UCHECK(bld_catalog_add(&f.cat, file, "Az09._:+-", BLD_SEV_LOW, NULL,
			       NULL, 0, 1, &e) == 0);
	UCHECK(f.cat.n == 2 && f.cat.patches[1].seq == 2);
	free(file);
	fixture_free(&f);
	return fails;
}

/* A 20000-long chain loads (no recursion) and a long cycle is named. */
static int t_long_chain(void)
{
	struct fixture f;
	struct bld_catalog back;
	struct ni_err e = { 0 };
	size_t i, n = 20000; /* about 8 MiB of catalog.json */
	int fails = 0;

	fixture_init(&f);
	UCHECK(add(&f, "P0", BLD_SEV_LOW, "") == 0);
	f.cat.patches = realloc(f.cat.patches, n * sizeof(*f.cat.patches));
	for (i = 1; i < n; i++) {
		struct bld_patch *p = &f.cat.patches[i];

		*p = f.cat.patches[0];
		if (asprintf(&p->id, "P%zu", i) < 0 ||
		    asprintf(&p->title, "t") < 0 ||
		    asprintf(&p->file, "files/P0/in.tar") < 0 ||
		    asprintf(&p->source_name, "in.tar") < 0)
			exit(1);
		p->supersedes = malloc(sizeof(char *));
		if (asprintf(&p->supersedes[0], "P%zu", i - 1) < 0)
			exit(1);
		p->n_supersedes = 1;
		p->seq = i + 1;
	}
	f.cat.n = n;
	f.cat.next_seq = n + 1;
	UCHECK(bld_catalog_save(&f.cat, &e) == 0);
	UCHECK(bld_catalog_load(f.dir, &back, &e) == 0);
	if (fails)
		printf("#   %s\n", e.msg);
	else
		bld_catalog_free(&back);
	/* close the chain into a cycle: P0 supersedes the last */
	free(f.cat.patches[0].supersedes);
	f.cat.patches[0].supersedes = malloc(sizeof(char *));
	if (asprintf(&f.cat.patches[0].supersedes[0], "P%zu", n - 1) < 0)
		exit(1);
	f.cat.patches[0].n_supersedes = 1;
	UCHECK(bld_catalog_save(&f.cat, &e) == 0);
	UCHECK(bld_catalog_load(f.dir, &back, &e) == NI_ECYCLE);
	UCHECK(strstr(e.msg, "catalog.json: patch P0: supersedence cycle P0 -> ") != NULL);
	UCHECK(strstr(e.msg, " -> ... -> P0") != NULL);
	UCHECK(strchr(e.msg, '\n') == NULL);
	fixture_free(&f);
	return fails;
}

const struct unit_test unit_catalog_tests[] = {
	{ "catalog: save and load round trip", t_roundtrip },
	{ "catalog: select by state, severity, exclusion", t_states_severity_exclude },
	{ "catalog: direct supersedence", t_supersedes_direct },
	{ "catalog: transitive supersedence", t_supersedes_transitive },
	{ "catalog: a patch superseded by several", t_supersedes_many },
	{ "catalog: excluding an unknown id", t_exclude_unknown },
	{ "catalog: pinned hashes are checked", t_hash_checked },
	{ "catalog: refused adds leave the catalog unchanged", t_add_refusals_leave_catalog },
	{ "catalog: long chains and long cycles", t_long_chain },
	{ NULL, NULL },
};
