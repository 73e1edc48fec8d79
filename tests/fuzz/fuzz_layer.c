/* fuzz_layer.c: libFuzzer target for a patch archive laid over a tree:
 * libarchive's readers, path normalization, symlink resolution, whiteouts
 * and the tar-bomb checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "builder/input.h"
#include "builder/overlay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-layer.XXXXXX";
	struct bld_overlay ov = { 0 };
	struct bld_input *in;
	struct bld_tree t;
	struct ni_err e;
	int fd = mkstemp(path);
	FILE *spool = tmpfile();
	uint64_t spooled = 0;

	if (fd < 0 || spool == NULL) {
		if (fd >= 0)
			close(fd);
		if (spool != NULL)
			fclose(spool);
		return 0;
	}
	if (write(fd, data, size) == (ssize_t)size && bld_tree_init(&t, 0) == 0) {
		if (bld_input_open(&in, path, &e) == 0) {
			ov.tree = &t;
			ov.layer = 1;
			ov.clamp = -1;
			ov.e = &e;
			ov.spool_fd = fileno(spool);
			ov.spool_size = &spooled;
			bld_overlay_apply(&ov, in);
			bld_overlay_free(&ov);
			bld_input_close(in);
		}
		bld_tree_free(&t);
	}
	close(fd);
	unlink(path);
	if (spool != NULL)
		fclose(spool);
	return 0;
}
