/* ipxe.c: writing the iPXE scripts from the pointers and the inventory. */
#include "netboot/ipxe.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/channel.h"
#include "images/keys.h"
#include "images/manifest.h"
#include "images/sign.h"
#include "netboot/bootfiles.h"
#include "netboot/hosts.h"

#define RETRY_S 30            /* a channel that cannot boot: wait, retry */
#define UNKNOWN_RETRY_S 60    /* an unknown machine with no default */
#define HEADER "#!ipxe\n# Written by netimg from the repository; do not edit.\n"

int nb_ipxe_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '$' || *s == '"' ||
		    *s == '\'' || *s == '\\')
			return -1;
	return 0;
}

static char *conf_path(const struct img_repo *r)
{
	return ni_path_join(r->priv, NB_CONF_FILE);
}

int nb_conf_load(const struct img_repo *r, json_t **conf, struct ni_err *e)
{
	char *path = conf_path(r), *buf = NULL;
	json_t *urls, *def;
	json_error_t je;
	size_t len, i;
	int ret = 0;

	*conf = NULL;
	if (path == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0) {
		free(path);
		return 0;
	}
	if ((ret = ni_read_file(path, 1u << 20, &buf, &len, e)) == 0 &&
	    (*conf = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		ret = ni_err_set(e, NI_EINVAL, "%s:%d: %s", path, je.line, je.text);
	urls = json_object_get(*conf, "urls");
	def = json_object_get(*conf, "default");
	if (ret == 0 && (json_integer_value(json_object_get(*conf, "format")) != 1 ||
			 !json_is_array(urls) || json_array_size(urls) == 0 ||
			 !(json_is_null(def) || (json_is_string(def) &&
						 img_valid_channel(json_string_value(def))))))
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed netboot settings", path);
	for (i = 0; ret == 0 && i < json_array_size(urls); i++) {
		const char *u = json_string_value(json_array_get(urls, i));

		if (u == NULL || nb_ipxe_safe(u) != 0 || strchr(u, ',') || strchr(u, ' '))
			ret = ni_err_set(e, NI_EINVAL, "%s: malformed netboot settings", path);
	}
	if (ret != 0) {
		json_decref(*conf);
		*conf = NULL;
	}
	free(buf);
	free(path);
	return ret;
}

/* A growing string; on allocation failure it becomes NULL and stays so. */
struct sb {
	char *s;
	size_t len;
};

static void add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *t = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&t, fmt, ap);
	va_end(ap);
	if (b->len == (size_t)-1)
		goto out;
	if (n < 0 || (b->s = realloc(b->s, b->len + (size_t)n + 1)) == NULL) {
		free(b->s);
		b->s = NULL;
		b->len = (size_t)-1;
		goto out;
	}
	memcpy(b->s + b->len, t, (size_t)n + 1);
	b->len += (size_t)n;
out:
	free(t);
}

static int write_text(const struct img_repo *r, const char *rel, struct sb *b,
		      struct ni_err *e)
{
	int ret;

	if (b->s == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = img_repo_write(r, rel, b->s, b->len, e);
	free(b->s);
	b->s = NULL;
	return ret;
}

/* The script of a channel that cannot boot now: say why, wait, retry
 * (the script may have been rewritten meanwhile). */
static void cannot_boot(struct sb *b, const char *channel, const char *why)
{
	add(b, "echo netimg: channel %s: %s; retrying in %d s\n", channel, why, RETRY_S);
	add(b, "sleep %d\n", RETRY_S);
	add(b, "chain --replace --autofree %s.ipxe\n", channel);
}

static int read_signed(const struct img_repo *r, EVP_PKEY *pub, const char *rel,
		       char hex[NI_SHA256_HEX], json_t **out, struct ni_err *e)
{
	char *path = img_repo_path(r, rel), *buf = NULL;
	const void *payload;
	size_t len, plen;
	uint8_t d[NI_SHA256_LEN];
	int ret;

	*out = NULL;
	if (path == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0) {
		free(path);
		return NI_ENOENT;
	}
	ret = ni_read_file(path, 16u << 20, &buf, &len, e);
	if (ret == 0)
		ret = img_open_signed(pub, path, buf, len, &payload, &plen, NULL, e);
	if (ret == 0 && (*out = json_loadb(payload, plen, 0, NULL)) == NULL)
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed", path);
	if (ret == 0 && hex != NULL) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
	}
	free(buf);
	free(path);
	return ret;
}

/* The kernel and initramfs lines of a version that has boot files. */
static int boot_lines(struct sb *b, json_t *conf, const char *channel,
		      const char *target, const struct nb_bootfiles *bf,
		      struct ni_err *e)
{
	json_t *urls = json_object_get(conf, "urls"), *u;
	size_t i;

	if (nb_ipxe_safe(bf->cmdline) != 0)
		return ni_err_set(e, NI_EINVAL,
				  "%s: its kernel command line holds characters an iPXE script cannot carry ($, quotes, backslashes, control characters)",
				  target);
	add(b, ":retry\n");
	add(b, "echo netimg: channel %s -> %s\n", channel, target);
	add(b, "kernel ../../%s initrd=initramfs%s%s netimg.repo=", bf->kernel,
	    bf->cmdline[0] ? " " : "", bf->cmdline);
	json_array_foreach(urls, i, u)
		add(b, "%s%s", i ? "," : "", json_string_value(u));
	add(b, " netimg.channel=%s netimg.version=%s || goto failed\n", channel, target);
	add(b, "initrd --name initramfs ../../%s || goto failed\n", bf->initramfs);
	add(b, "boot || goto failed\n");
	add(b, ":failed\n");
	add(b, "echo netimg: channel %s: could not load %s's kernel or initramfs; retrying in %d s\n",
	    channel, target, RETRY_S);
	add(b, "sleep %d\n", RETRY_S);
	add(b, "chain --replace --autofree %s.ipxe\n", channel);
	return 0;
}

int nb_write_channel_script(const struct img_repo *r, json_t *conf,
			    const char *channel, struct ni_err *e)
{
	char rel[128], prel[128], hex[NI_SHA256_HEX], *pub_path;
	struct sb b = { 0 };
	struct nb_bootfiles bf;
	json_t *ptr = NULL, *man = NULL;
	EVP_PKEY *pub = NULL;
	const char *target, *want;
	char *name = NULL, *version = NULL, *mrel = NULL;
	int ret;

	memset(&bf, 0, sizeof(bf));
	snprintf(rel, sizeof(rel), "ipxe/channels/%s.ipxe", channel);
	snprintf(prel, sizeof(prel), "channels/%s.json", channel);
	add(&b, HEADER);
	pub_path = ni_path_join(r->dir, IMG_KEY_PUBLIC);
	if (pub_path == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = img_key_load_public(pub_path, &pub, e);
	free(pub_path);
	if (ret == 0)
		ret = read_signed(r, pub, prel, NULL, &ptr, e);
	if (ret == NI_ENOENT) {
		add(&b, "# channel %s has no pointer yet\n", channel);
		cannot_boot(&b, channel, "no version is pointed at yet (netimg point)");
		ret = 0;
		goto write;
	}
	if (ret != 0)
		goto out;
	target = json_string_value(json_object_get(ptr, "target"));
	want = json_string_value(json_object_get(ptr, "manifest_sha256"));
	if (target == NULL || want == NULL ||
	    img_split_version(target, &name, &version, e) != 0 ||
	    (mrel = img_manifest_path(name, version)) == NULL) {
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed channel pointer", prel);
		goto out;
	}
	ret = read_signed(r, pub, mrel, hex, &man, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s: points at %s, which is not published", prel, target);
	if (ret == 0 && strcmp(hex, want) != 0)
		ret = ni_err_set(e, NI_EHASH, "%s: %s is not the manifest the pointer names", prel, mrel);
	if (ret != 0)
		goto out;
	add(&b, "# channel %s -> %s (pointer serial %lld)\n", channel, target,
	    (long long)json_integer_value(json_object_get(ptr, "serial")));
	ret = nb_bootfiles_of(r, name, version, man, hex, &bf, e);
	if (ret == NI_ENOENT) {
		cannot_boot(&b, channel, "its version has no boot files (its recipe needs a [boot] section)");
		ret = 0;
	} else if (ret == 0) {
		ret = boot_lines(&b, conf, channel, target, &bf, e);
	}
write:
	if (ret == 0)
		ret = write_text(r, rel, &b, e);
out:
	nb_bootfiles_free(&bf);
	free(b.s);
	free(name);
	free(version);
	free(mrel);
	json_decref(ptr);
	json_decref(man);
	EVP_PKEY_free(pub);
	return ret;
}

int nb_write_host_script(const struct img_repo *r, json_t *host, struct ni_err *e)
{
	const char *mac = json_string_value(json_object_get(host, "mac"));
	char hy[NB_MAC_LEN], rel[64];
	struct sb b = { 0 };

	nb_mac_hyphens(mac, hy);
	snprintf(rel, sizeof(rel), "ipxe/hosts/%s.ipxe", hy);
	add(&b, HEADER);
	add(&b, "# host %s (%s) boots channel %s\n",
	    json_string_value(json_object_get(host, "name")), mac,
	    json_string_value(json_object_get(host, "channel")));
	add(&b, "chain --replace --autofree ../channels/%s.ipxe\n",
	    json_string_value(json_object_get(host, "channel")));
	return write_text(r, rel, &b, e);
}

int nb_remove_host_script(const struct img_repo *r, const char *mac, struct ni_err *e)
{
	char hy[NB_MAC_LEN], rel[64], *path, *dir;
	int ret = 0;

	nb_mac_hyphens(mac, hy);
	snprintf(rel, sizeof(rel), "ipxe/hosts/%s.ipxe", hy);
	if ((path = img_repo_path(r, rel)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (unlink(path) != 0 && errno != ENOENT)
		ret = ni_err_errno(e, errno, "%s", path);
	else if ((dir = ni_dirname(path)) != NULL) {
		ni_fsync_dir(dir);
		free(dir);
	}
	free(path);
	return ret;
}

static int write_boot(const struct img_repo *r, json_t *conf, struct ni_err *e)
{
	const char *def = json_string_value(json_object_get(conf, "default"));
	struct sb b = { 0 };

	add(&b, HEADER);
	add(&b, "# Every machine fetches this first: its host's script by MAC, else %s.\n",
	    def ? "the default channel" : "a message and a retry");
	add(&b, ":start\n");
	add(&b, "chain --replace --autofree ipxe/hosts/${net0/mac:hexhyp}.ipxe || goto unknown\n");
	add(&b, ":unknown\n");
	if (def != NULL) {
		add(&b, "echo netimg: ${net0/mac} is not in the inventory; booting the default channel %s\n",
		    def);
		add(&b, "chain --replace --autofree ipxe/channels/%s.ipxe || goto failed\n", def);
		add(&b, ":failed\n");
		add(&b, "echo netimg: could not load the script of channel %s; retrying in %d s\n",
		    def, RETRY_S);
		add(&b, "sleep %d\n", RETRY_S);
	} else {
		add(&b, "echo netimg: ${net0/mac} is not in the inventory, and unknown machines boot nothing here (netimg host add); retrying in %d s\n",
		    UNKNOWN_RETRY_S);
		add(&b, "sleep %d\n", UNKNOWN_RETRY_S);
	}
	add(&b, "goto start\n");
	return write_text(r, "boot.ipxe", &b, e);
}

/* The channels with a script: every channel with a pointer, the hosts'
 * channels and the default. */
static int add_channel(json_t *set, const char *c)
{
	return c == NULL ? 0 : json_object_set_new(set, c, json_true());
}

static int channels(const struct img_repo *r, json_t *conf, json_t *inv, json_t *set)
{
	char *dir = img_repo_path(r, "channels");
	json_t *h;
	size_t i;
	DIR *d;
	struct dirent *de;

	add_channel(set, json_string_value(json_object_get(conf, "default")));
	json_array_foreach(json_object_get(inv, "hosts"), i, h)
		add_channel(set, json_string_value(json_object_get(h, "channel")));
	if (dir == NULL)
		return NI_ENOMEM;
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			size_t n = strlen(de->d_name);
			char c[80];

			if (n <= 5 || n - 5 >= sizeof(c) || strcmp(de->d_name + n - 5, ".json") != 0)
				continue;
			snprintf(c, sizeof(c), "%.*s", (int)(n - 5), de->d_name);
			if (img_valid_channel(c))
				add_channel(set, c);
		}
		closedir(d);
	}
	free(dir);
	return 0;
}

static int parse_urls(const char *spec, json_t **out, struct ni_err *e)
{
	char *s = strdup(spec), *tok, *save = NULL;
	int ret = 0;

	*out = json_array();
	if (s == NULL || *out == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	for (tok = s ? strtok_r(s, ",", &save) : NULL; ret == 0 && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if ((strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) ||
		    strchr(tok, ' ') || nb_ipxe_safe(tok) != 0)
			ret = ni_err_set(e, NI_EINVAL,
					 "--url '%s': a repository URL is http:// or https://, without spaces, quotes or '$'",
					 tok);
		else
			json_array_append_new(*out, json_string(tok));
	}
	if (ret == 0 && json_array_size(*out) == 0)
		ret = ni_err_set(e, NI_EINVAL, "--url: no repository URL given");
	free(s);
	return ret;
}

static int save_conf(const struct img_repo *r, json_t *conf, struct ni_err *e)
{
	char *path = conf_path(r), *text = json_dumps(conf, JSON_INDENT(2) | JSON_SORT_KEYS);
	int ret = path && text ? ni_write_file_atomic(path, text, strlen(text), 0600, e)
			       : ni_err_set(e, NI_ENOMEM, "out of memory");

	free(path);
	free(text);
	return ret;
}

int nb_ipxe_setup(const struct nb_ipxe_opts *o, struct nb_ipxe_result *r,
		  struct ni_err *e)
{
	struct img_repo repo;
	json_t *conf = NULL, *inv = NULL, *set = json_object(), *urls = NULL, *h, *v;
	const char *c;
	size_t i;
	int ret;

	memset(r, 0, sizeof(*r));
	if (o->default_channel && *o->default_channel && !img_valid_channel(o->default_channel))
		return ni_err_set(e, NI_EINVAL, "--default '%s': a channel name is 1-64 of A-Z a-z 0-9 . _ -",
				  o->default_channel);
	if (o->urls != NULL && (ret = parse_urls(o->urls, &urls, e)) != 0) {
		json_decref(urls);
		json_decref(set);
		return ret;
	}
	if ((ret = img_repo_open(&repo, o->repo, 1, e)) != 0) {
		json_decref(urls);
		json_decref(set);
		return ret;
	}
	if ((ret = nb_conf_load(&repo, &conf, e)) != 0)
		goto out;
	if (conf == NULL && urls == NULL) {
		ret = ni_err_set(e, NI_EUSAGE, "%s: netboot is not set up yet: give --url URL[,URL...]",
				 o->repo);
		goto out;
	}
	if (conf == NULL)
		conf = json_pack("{s:i, s:n}", "format", 1, "default");
	if (urls != NULL)
		json_object_set(conf, "urls", urls);
	if (o->default_channel != NULL)
		json_object_set_new(conf, "default", *o->default_channel ?
				    json_string(o->default_channel) : json_null());
	if ((ret = nb_hosts_load(repo.dir, &inv, e)) != 0 ||
	    (ret = save_conf(&repo, conf, e)) != 0 ||
	    (ret = channels(&repo, conf, inv, set)) != 0)
		goto out;
	json_object_foreach(set, c, v) {
		if ((ret = nb_write_channel_script(&repo, conf, c, e)) != 0)
			goto out;
		r->channels++;
	}
	json_array_foreach(json_object_get(inv, "hosts"), i, h) {
		if ((ret = nb_write_host_script(&repo, h, e)) != 0)
			goto out;
		r->hosts++;
	}
	/* boot.ipxe last: what it chains to is in place. */
	ret = write_boot(&repo, conf, e);
	c = json_string_value(json_object_get(conf, "default"));
	snprintf(r->default_channel, sizeof(r->default_channel), "%s", c ? c : "");
out:
	json_decref(urls);
	json_decref(set);
	json_decref(conf);
	json_decref(inv);
	img_repo_close(&repo);
	return ret;
}

int nb_ipxe_channel_changed(const char *repo_dir, const char *channel,
			    int *written, struct ni_err *e)
{
	struct img_repo repo;
	json_t *conf = NULL;
	int ret;

	*written = 0;
	if ((ret = img_repo_open(&repo, repo_dir, 1, e)) != 0)
		return ret;
	if ((ret = nb_conf_load(&repo, &conf, e)) == 0 && conf != NULL) {
		ret = nb_write_channel_script(&repo, conf, channel, e);
		*written = ret == 0;
	}
	json_decref(conf);
	img_repo_close(&repo);
	return ret;
}
