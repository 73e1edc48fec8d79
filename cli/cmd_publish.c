/* cmd_publish.c: `netimg publish --repo DIR IMAGE.sqfs [--name N --version V]`. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/progress.h"
#include "images/publish.h"
#include "netboot/bootmake.h"

/* The build record beside IMAGE.sqfs (IMAGE.json), or NULL. */
static json_t *record_of(const char *image)
{
	size_t n = strlen(image);
	char *rec;
	json_t *j = NULL;

	if (n > 5 && strcmp(image + n - 5, ".sqfs") == 0)
		n -= 5;
	if (asprintf(&rec, "%.*s.json", (int)n, image) < 0)
		return NULL;
	if (access(rec, R_OK) == 0)
		j = json_load_file(rec, 0, NULL);
	free(rec);
	return j;
}

/* A record with [boot]: the kernel and the netboot initramfs go into
 * public/boot/ first; the manifest, signed last, lists them. */
static int boot_files(struct img_publish_opts *o, struct ni_err *e)
{
	json_t *rec = record_of(o->image), *boot = json_object_get(rec, "boot");
	int ret = 0;

	if (json_is_object(boot))
		ret = nb_boot_make(o->repo, o->image, boot,
				   json_string_value(json_object_get(json_object_get(rec, "recipe"), "path")),
				   &o->boot_files, e);
	json_decref(rec);
	return ret;
}

int cmd_publish(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_publish_opts o = { 0 };
	struct img_publish_result r;
	struct ni_err e = { 0 };
	char newb[32], size[32];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.repo = optarg; break;
		case 'n': o.name = optarg; break;
		case 'v': o.version = optarg; break;
		default: return cli_usage_error("publish", "bad option");
		}
	}
	if (o.repo == NULL || optind != argc - 1)
		return cli_usage_error("publish", "expected --repo DIR and one IMAGE");
	o.image = argv[optind];
	if (boot_files(&o, &e) != 0)
		return cli_fail(&e);
	if (img_publish(&o, &r, &e) != 0) {
		json_decref(o.boot_files);
		img_publish_result_free(&r);
		return cli_fail(&e);
	}
	ni_fmt_bytes(r.new_bytes, newb, sizeof(newb));
	ni_fmt_bytes(r.image_size, size, sizeof(size));
	if (r.already)
		printf("%s@%s is already published with this image; nothing to do\n",
		       r.name, r.version);
	else
		printf("published %s@%s: %s image, %zu chunks, %zu new (%s new to the repository)\n",
		       r.name, r.version, size, r.chunks, r.new_chunks, newb);
	if (o.boot_files != NULL && !r.already)
		printf("boot files: kernel %s, initramfs %lld bytes\n",
		       json_string_value(json_object_get(o.boot_files, "kernel_release")),
		       (long long)json_integer_value(json_object_get(json_object_get(
			       json_object_get(o.boot_files, "files"), "initramfs"), "size")));
	json_decref(o.boot_files);
	img_publish_result_free(&r);
	return 0;
}
