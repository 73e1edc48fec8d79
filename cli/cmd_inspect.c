/* cmd_inspect.c: `netimg inspect IMAGE [--chunks|--files]`: the image's
 * layout as the repository chunks it: counts and bytes per kind, or every
 * chunk with its SHA-256 (for comparing two versions), or where each
 * regular file keeps its bytes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "cli/cli.h"
#include "common/hash.h"
#include "images/files.h"
#include "images/layout.h"

static int list_chunks(const char *path, const struct img_layout *l)
{
	unsigned char *buf = malloc(IMG_CHUNK_MAX > IMG_META_CHUNK ? IMG_CHUNK_MAX : IMG_META_CHUNK);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t i;

	if (buf == NULL || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "netimg: %s: cannot read\n", path);
		return 1;
	}
	for (i = 0; i < l->n; i++) {
		uint8_t d[NI_SHA256_LEN];
		char hex[NI_SHA256_HEX];
		size_t len = l->c[i].len;

		/* A chunk of padding or stray bytes can exceed the buffer. */
		unsigned char *p = len > IMG_CHUNK_MAX ? malloc(len) : buf;

		if (p == NULL || pread(fd, p, len, (off_t)l->c[i].off) != (ssize_t)len) {
			fprintf(stderr, "netimg: %s: cannot read\n", path);
			if (p != buf)
				free(p);
			free(buf);
			close(fd);
			return 1;
		}
		ni_sha256_buf(p, len, d);
		ni_hex(d, sizeof(d), hex);
		printf("%llu %zu %s %s\n", (unsigned long long)l->c[i].off, len,
		       img_chunk_kind_name(l->c[i].kind), hex);
		if (p != buf)
			free(p);
	}
	free(buf);
	close(fd);
	return 0;
}

static void summary(const struct img_layout *l)
{
	uint64_t n[IMG_CHUNK_OTHER + 1] = { 0 }, b[IMG_CHUNK_OTHER + 1] = { 0 };
	size_t i;
	int k;

	for (i = 0; i < l->n; i++) {
		n[l->c[i].kind]++;
		b[l->c[i].kind] += l->c[i].len;
	}
	printf("%-12s %8s %14s\n", "kind", "chunks", "bytes");
	for (k = 0; k <= IMG_CHUNK_OTHER; k++)
		printf("%-12s %8llu %14llu\n", img_chunk_kind_name(k),
		       (unsigned long long)n[k], (unsigned long long)b[k]);
	printf("%-12s %8zu %14llu\n", "total", l->n, (unsigned long long)l->size);
}

/* One line per regular file: SIZE DATA TAIL SHARE FRAGMENT INODE PATH. */
static int list_files(const char *path)
{
	struct img_files fs;
	struct ni_err e = { 0 };
	size_t i;

	if (img_files_read(path, &fs, &e) != 0)
		return cli_fail(&e);
	for (i = 0; i < fs.n; i++) {
		const struct img_file *f = &fs.f[i];
		char frag[32] = "-";

		if (f->frag != IMG_NO_FRAG)
			snprintf(frag, sizeof(frag), "%llu",
				 (unsigned long long)f->frag_start);
		printf("%llu %llu %u %llu %s %u %s\n", (unsigned long long)f->size,
		       (unsigned long long)f->data, f->tail,
		       (unsigned long long)img_file_frag_share(f), frag, f->inode,
		       f->path);
	}
	img_files_free(&fs);
	return 0;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "chunks", no_argument, NULL, 'c' },
		{ "files", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_layout l;
	struct ni_err e = { 0 };
	int c, chunks = 0, files = 0, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'c')
			chunks = 1;
		else if (c == 'f')
			files = 1;
		else
			return cli_usage_error("inspect", "bad option");
	}
	if (optind != argc - 1)
		return cli_usage_error("inspect", "expected one IMAGE");
	if (chunks && files)
		return cli_usage_error("inspect", "--chunks and --files exclude each other");
	if (files)
		return list_files(argv[optind]);
	if (img_layout_read(argv[optind], &l, &e) != 0)
		return cli_fail(&e);
	if (chunks)
		ret = list_chunks(argv[optind], &l);
	else {
		summary(&l);
		ret = 0;
	}
	img_layout_free(&l);
	return ret;
}
