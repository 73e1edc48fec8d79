/* cmd_hot.c: `netimg hot --repo DIR NAME@VERSION FILE [--by WHO]`: checks
 * a hot list (as `netimg mount --record` writes it) against the version's
 * image, then attaches it as the version's "hot" attachment (or replaces
 * the one it had). Clients fetch its files first (cache/hot.h).
 *
 * The image is read from the repository's packs through the cache's
 * virtual image over a scratch cache folder (removed afterwards): only
 * the superblock, the tables and the folders on the list's paths are
 * read. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/store.h"
#include "cache/vimage.h"
#include "cli/cli.h"
#include "common/fsutil.h"
#include "common/progress.h"
#include "images/attach.h"
#include "images/hot.h"
#include "images/keys.h"
#include "images/manifest.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	(void)remove(path);   /* best effort: a scratch folder */
	return 0;
}

/* Every path of h must be a regular file of NAME@VERSION's image. */
static int check_paths(const char *repo, const char *target, const char *file,
		       const struct img_hot *h, struct ni_err *e)
{
	char tmpl[] = "/tmp/netimg-hot.XXXXXX", *pub, *name = NULL, *version = NULL;
	struct cache_store *st = NULL;
	struct cache_vimage *v = NULL;
	struct cache_vimage_opts o;
	EVP_PKEY *key = NULL;
	sqfs_file_t *f = NULL;
	int ret;

	if ((ret = img_split_version(target, &name, &version, e)) != 0)
		return ret;
	if ((pub = ni_path_join(repo, "repo.pub")) == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	ret = img_key_load_public(pub, &key, e);
	free(pub);
	if (ret != 0)
		goto out;
	if (mkdtemp(tmpl) == NULL) {
		ret = ni_err_errno(e, errno, "%s", tmpl);
		goto out;
	}
	cache_vimage_opts_init(&o);
	o.repo = repo;
	o.key = key;
	o.name = name;
	o.version = version;
	if ((ret = cache_store_open(&st, tmpl, 0, e)) == 0 &&
	    (ret = cache_vimage_open(&v, st, &o, e)) == 0) {
		if ((f = cache_vimage_file(v)) == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		else
			ret = img_hot_resolve(f, target, file, h, IMG_HOT_STRICT, NULL, NULL, e);
		if (ret != 0 && ret != NI_ENOENT && ret != NI_EINVAL && ret != NI_ENOMEM) {
			struct ni_err re = { 0 };

			cache_vimage_last_error(v, &re);   /* a pack that cannot be read */
			if (re.code != 0)
				*e = re;
		}
	}
	if (f != NULL)
		sqfs_destroy(f);
	cache_vimage_close(v);
	cache_store_close(st);
	nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
out:
	EVP_PKEY_free(key);
	free(name);
	free(version);
	return ret;
}

int cmd_hot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_attach_opts o = { 0 };
	struct img_attach_result r;
	struct ni_err e = { 0 };
	struct img_hot h;
	char *buf = NULL, size[32];
	size_t len;
	int ch, ret;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'b': o.who = optarg; break;
		default: return cli_usage_error("hot", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (o.repo == NULL || argc - optind != 2)
		return cli_usage_error("hot", "expected --repo DIR NAME@VERSION FILE");
	o.target = argv[optind];
	o.kind = IMG_HOT_KIND;
	o.file = argv[optind + 1];
	if (ni_read_file(o.file, IMG_HOT_MAX, &buf, &len, &e) != 0)
		return cli_fail(&e);
	ret = img_hot_parse(o.file, (const uint8_t *)buf, len, &h, &e);
	free(buf);
	if (ret != 0)
		return cli_fail(&e);
	ret = check_paths(o.repo, o.target, o.file, &h, &e);
	if (ret == 0)
		ret = img_attach(&o, &r, &e);
	if (ret != 0) {
		img_hot_free(&h);
		return cli_fail(&e);
	}
	ni_fmt_bytes(r.size, size, sizeof(size));
	printf("attached the hot list to %s: %zu files, %s, sha256 %s", o.target, h.n, size,
	       r.sha256);
	if (r.replaced[0] != '\0')
		printf(" (replaces %.16s...)", r.replaced);
	printf("\n");
	img_hot_free(&h);
	return 0;
}
