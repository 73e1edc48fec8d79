/* main.c: the netboot initramfs's init. It boots exactly the version the
 * kernel command line names, when the channel's verified pointer names it
 * now or in its history; every byte of the image is verified before use;
 * on failure it falls back to an earlier version of the channel built for
 * this kernel, or says why and reboots. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cache/image.h"
#include "cache/pointer.h"
#include "cache/source.h"
#include "common/hash.h"
#include "common/version.h"
#include "images/keys.h"
#include "images/manifest.h"
#include "netboot/init/init.h"

#define IMAGE "/run/netimg/image.sqfs"
#define REBOOT_DELAY_S 10
#define RAM_RESERVE_MIB 48   /* what the system needs beside the image */

struct args {
	char *repo, *channel, *version, *init;
};

static int reboot_delay = REBOOT_DELAY_S;
static uint64_t ram_reserve = (uint64_t)RAM_RESERVE_MIB << 20;

/* netimg.repo=, netimg.channel=, netimg.version= from /proc/cmdline. */
static int read_cmdline(struct args *a)
{
	FILE *f = fopen("/proc/cmdline", "r");
	char buf[4096], *tok, *save = NULL;

	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
		if (f != NULL)
			fclose(f);
		say("cannot read /proc/cmdline");
		return -1;
	}
	fclose(f);
	for (tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, "netimg.repo=", 12) == 0)
			a->repo = strdup(tok + 12);
		else if (strncmp(tok, "netimg.channel=", 15) == 0)
			a->channel = strdup(tok + 15);
		else if (strncmp(tok, "netimg.version=", 15) == 0)
			a->version = strdup(tok + 15);
		else if (strncmp(tok, "init=", 5) == 0 && tok[5] == '/')
			a->init = strdup(tok + 5);
		else if (strncmp(tok, "netimg.ram_reserve=", 19) == 0)
			ram_reserve = strtoull(tok + 19, NULL, 10) << 20;
		else if (strncmp(tok, "netimg.reboot_delay=", 20) == 0)
			reboot_delay = atoi(tok + 20) >= 0 ? atoi(tok + 20) : REBOOT_DELAY_S;
	}
	if (a->repo == NULL || a->channel == NULL || a->version == NULL) {
		say("the kernel command line lacks netimg.repo=, netimg.channel= or netimg.version= (boot through the repository's iPXE scripts)");
		return -1;
	}
	return 0;
}

static uint64_t floor_of(const char *channel)
{
	json_t *j = json_load_file(INIT_ETC "/floors.json", 0, NULL);
	uint64_t f = (uint64_t)json_integer_value(json_object_get(j, channel));

	json_decref(j);
	return f;
}

/* The progress line: what the tmpfs under /run holds, against the size. */
struct progress {
	pthread_t th;
	volatile int stop;
	const char *what;
	uint64_t base, size;
};

static uint64_t run_used(void)
{
	struct statvfs s;

	if (statvfs("/run", &s) != 0)
		return 0;
	return (uint64_t)(s.f_blocks - s.f_bfree) * s.f_frsize;
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;
	int t = 0;

	while (!p->stop) {
		if (t++ % 10 == 0) {
			uint64_t now = run_used() - p->base;

			printf("\rnetimg: fetching %s: %.1f of %.1f MiB", p->what,
			       (double)(now > p->size ? p->size : now) / 1048576.0,
			       (double)p->size / 1048576.0);
			fflush(stdout);
		}
		usleep(50000);
	}
	return NULL;
}

struct cand {
	char target[160], sha[65];
};

/* Fetches and checks the manifest of target (its bytes must hash to sha):
 * the image size and the kernel release it was built for. */
static int manifest_of(struct cache_source *src, EVP_PKEY *key, const char *target,
		       const char *sha, uint64_t *size, char *release, size_t rn,
		       struct ni_err *e)
{
	char *name = NULL, *version = NULL, *rel = NULL, hex[NI_SHA256_HEX];
	uint8_t *buf = NULL, d[NI_SHA256_LEN];
	json_t *m = NULL, *boot;
	size_t len;
	int ret = img_split_version(target, &name, &version, e);

	if (ret == 0 && (rel = img_manifest_path(name, version)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = cache_source_get(src, rel, 16u << 20, &buf, &len, e);
	if (ret == 0) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, sha) != 0)
			ret = ni_err_set(e, NI_EHASH, "%s: the manifest is not the one the channel pointer names",
					 target);
	}
	if (ret == 0)
		ret = img_manifest_open(key, rel, buf, len, &m, e);
	if (ret == 0) {
		boot = json_object_get(m, "boot");
		*size = (uint64_t)json_integer_value(json_object_get(json_object_get(m, "image"), "size"));
		snprintf(release, rn, "%s", json_string_value(json_object_get(boot, "kernel_release")) ?
			 json_string_value(json_object_get(boot, "kernel_release")) : "");
	}
	json_decref(m);
	free(buf);
	free(rel);
	free(name);
	free(version);
	return ret;
}

/* Fetches target into RAM, every byte verified, and switches into it.
 * Returns only on failure, with e saying why. */
static int try_boot(struct cache_source *src, EVP_PKEY *key, const struct cand *c,
		    struct booted *b, int need_release, struct ni_err *e)
{
	struct cache_image_req rq = { .manifest_sha256 = c->sha, .out = IMAGE };
	struct cache_image_stats st;
	struct progress p = { .what = c->target };
	char release[128], *name = NULL, *version = NULL;
	struct timespec t0, t1;
	uint64_t size = 0, avail;
	int ret;

	if ((ret = manifest_of(src, key, c->target, c->sha, &size, release, sizeof(release), e)) != 0)
		return ret;
	if (need_release && strcmp(release, sys_release()) != 0)
		return ni_err_set(e, NI_ESTATE, "%s was built for kernel %s, not the running %s",
				  c->target, release[0] ? release : "(none)", sys_release());
	avail = sys_mem_available();
	if (size + ram_reserve > avail)
		return ni_err_set(e, NI_ENOSPC,
				  "%s: not enough RAM: the image needs %llu MiB and the system %llu MiB, %llu MiB are free",
				  c->target, (unsigned long long)(size + (1u << 20) - 1) >> 20,
				  (unsigned long long)ram_reserve >> 20, (unsigned long long)avail >> 20);
	if ((ret = img_split_version(c->target, &name, &version, e)) != 0)
		return ret;
	rq.name = name;
	rq.version = version;
	p.size = size;
	p.base = run_used();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&p.th, NULL, progress_main, &p) != 0)
		p.stop = 2;
	ret = cache_get_image(src, key, &rq, &st, e);
	if (p.stop != 2) {
		p.stop = 1;
		pthread_join(p.th, NULL);
		putchar('\n');
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret == 0) {
		say("fetched %s: %llu bytes in %zu requests, every chunk verified, %.1f s",
		    c->target, (unsigned long long)st.bytes_fetched, st.requests,
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		b->target = c->target;
		b->manifest_sha256 = c->sha;
		ret = root_switch(IMAGE, b);
		unlink(IMAGE);
		ret = ni_err_set(e, NI_EIO, "%s: could not switch into the image", c->target);
	}
	free(name);
	free(version);
	return ret;
}

/* The versions to fall back to: the pointer's current one and its
 * history, newest first, once each, without the one that failed. */
static size_t candidates(const struct cache_pointer *p, const char *failed,
			 struct cand *out, size_t max)
{
	json_t *h;
	size_t i, n = 0, k;
	const char *t, *s;

	for (i = 0; n < max; i++) {
		if (i == 0) {
			t = p->target;
			s = p->manifest_sha256;
		} else {
			h = json_array_get(json_object_get(p->payload, "history"), i - 1);
			if (h == NULL)
				break;
			t = json_string_value(json_object_get(h, "target"));
			s = json_string_value(json_object_get(h, "manifest_sha256"));
		}
		if (t == NULL || s == NULL || strlen(t) >= sizeof(out->target) ||
		    strlen(s) != 64 || strcmp(t, failed) == 0)
			continue;
		for (k = 0; k < n && strcmp(out[k].target, t) != 0; k++)
			;
		if (k < n)
			continue;
		snprintf(out[n].target, sizeof(out[n].target), "%s", t);
		snprintf(out[n].sha, sizeof(out[n].sha), "%s", s);
		n++;
	}
	return n;
}

/* jansson seeds its hash tables from /dev/urandom at its first use. Early
 * in boot the kernel's random pool is not ready yet, and that read makes
 * the kernel gather entropy first: a second under emulation. The seed
 * only spreads object keys over buckets (against crafted colliding
 * keys): the kernel's bytes before its pool is fully seeded, taken
 * without waiting, do for that. */
static void json_seed(void)
{
	struct timespec ts;
	size_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_INSECURE | GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (size_t)ts.tv_nsec ^ ((size_t)ts.tv_sec << 20);
	}
	json_object_seed(seed != 0 ? seed : 1);
}

static void fail(const char *what)
{
	say("%s", what);
	sys_reboot(reboot_delay);
}

int main(void)
{
	struct args a = { 0 };
	struct cache_source *src = NULL;
	struct cache_pointer p;
	struct cache_pointer_opts po = { 0 };
	struct booted b = { 0 };
	struct ni_err e = { 0 };
	struct cand want, alt[8];
	EVP_PKEY *key = NULL;
	json_t *h;
	size_t i, n;

	json_seed();
	sys_mounts();
	mkdir("/run/netimg", 0755);
	say("netimg %s init, kernel %s", NETIMG_VERSION, sys_release());
	sys_modules();
	if (read_cmdline(&a) != 0)
		fail("cannot boot: no version to boot");
	if (img_key_load_public(INIT_ETC "/repo.pub", &key, &e) != 0)
		fail(e.msg);
	if (net_up() != 0)
		fail("cannot boot: no network");
	if (cache_source_open(&src, a.repo, &e) != 0)
		fail(e.msg);
	po.min_serial = floor_of(a.channel);
	if (cache_pointer_get(src, key, a.channel, &po, &p, &e) != 0) {
		say("cannot boot: channel %s's pointer: %s", a.channel, e.msg);
		sys_reboot(reboot_delay);
	}
	/* Exactly the version iPXE was told: the pointer names it now, or
	 * in its history (this boot raced a repoint). */
	want.target[0] = '\0';
	if (strcmp(p.target, a.version) == 0) {
		snprintf(want.target, sizeof(want.target), "%s", p.target);
		snprintf(want.sha, sizeof(want.sha), "%s", p.manifest_sha256);
	}
	json_array_foreach(json_object_get(p.payload, "history"), i, h) {
		const char *t = json_string_value(json_object_get(h, "target"));
		const char *s = json_string_value(json_object_get(h, "manifest_sha256"));

		if (want.target[0] == '\0' && t && s && strcmp(t, a.version) == 0 && strlen(s) == 64) {
			snprintf(want.target, sizeof(want.target), "%s", t);
			snprintf(want.sha, sizeof(want.sha), "%s", s);
		}
	}
	if (want.target[0] == '\0') {
		say("channel %s (serial %llu) points at %s and never pointed at %s: not booting it",
		    a.channel, (unsigned long long)p.serial, p.target, a.version);
		sys_reboot(reboot_delay);
	}
	say("channel %s (serial %llu) -> %s%s", a.channel, (unsigned long long)p.serial,
	    want.target, strcmp(p.target, a.version) ? " (from its history: the channel was repointed meanwhile)" : "");
	b.channel = a.channel;
	b.serial = p.serial;
	b.init = a.init ? a.init : "/sbin/init";
	try_boot(src, key, &want, &b, 0, &e);
	say("FAILED to boot %s: %s", want.target, e.msg);
	b.fallback_from = want.target;
	b.why = strdup(e.msg);
	n = candidates(&p, want.target, alt, sizeof(alt) / sizeof(alt[0]));
	for (i = 0; i < n; i++) {
		say("falling back to %s, the channel's previous version", alt[i].target);
		try_boot(src, key, &alt[i], &b, 1, &e);
		say("cannot boot %s either: %s", alt[i].target, e.msg);
	}
	fail("no verified version of the channel could be booted");
	return 1;
}
