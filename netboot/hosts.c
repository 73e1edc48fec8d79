/* hosts.c: the host inventory, DIR/private/hosts.json. */
#include "netboot/hosts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "images/channel.h"
#include "images/repo.h"
#include "netboot/ipxe.h"

int nb_mac_parse(const char *s, char out[NB_MAC_LEN])
{
	int i;

	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':' && s[i] != '-')
				return -1;
			out[i] = ':';
		} else {
			if (!isxdigit((unsigned char)s[i]))
				return -1;
			out[i] = (char)tolower((unsigned char)s[i]);
		}
	}
	out[17] = '\0';
	return 0;
}

void nb_mac_hyphens(const char mac[NB_MAC_LEN], char out[NB_MAC_LEN])
{
	int i;

	for (i = 0; i < 18; i++)
		out[i] = mac[i] == ':' ? '-' : mac[i];
}

int nb_valid_host_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

static char *hosts_path(const char *repo_dir)
{
	char *priv = ni_path_join(repo_dir, "private");
	char *p = priv ? ni_path_join(priv, NB_HOSTS_FILE) : NULL;

	free(priv);
	return p;
}

/* Every host well formed, no MAC or name twice. */
static int check(const char *path, json_t *inv, struct ni_err *e)
{
	json_t *hosts = json_object_get(inv, "hosts"), *h, *g;
	size_t i, k;

	if (!json_is_object(inv) || json_integer_value(json_object_get(inv, "format")) != 1 ||
	    !json_is_array(hosts))
		return ni_err_set(e, NI_EINVAL, "%s: not a host inventory (format 1)", path);
	json_array_foreach(hosts, i, h) {
		const char *mac = json_string_value(json_object_get(h, "mac"));
		const char *name = json_string_value(json_object_get(h, "name"));
		const char *ch = json_string_value(json_object_get(h, "channel"));
		char m[NB_MAC_LEN];

		if (mac == NULL || nb_mac_parse(mac, m) != 0 || strcmp(m, mac) != 0 ||
		    name == NULL || !nb_valid_host_name(name) ||
		    ch == NULL || !img_valid_channel(ch) || json_object_size(h) != 3)
			return ni_err_set(e, NI_EINVAL, "%s: host #%zu is malformed", path, i + 1);
		json_array_foreach(hosts, k, g) {
			if (k >= i)
				break;
			if (strcmp(mac, json_string_value(json_object_get(g, "mac"))) == 0 ||
			    strcmp(name, json_string_value(json_object_get(g, "name"))) == 0)
				return ni_err_set(e, NI_EINVAL, "%s: host #%zu repeats a MAC or name",
						  path, i + 1);
		}
	}
	return 0;
}

int nb_hosts_load(const char *repo_dir, json_t **out, struct ni_err *e)
{
	char *path = hosts_path(repo_dir), *buf = NULL;
	json_error_t je;
	size_t len;
	int ret = 0;

	*out = NULL;
	if (path == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0)
		*out = json_pack("{s:i, s:[]}", "format", 1, "hosts");
	else if ((ret = ni_read_file(path, 64u << 20, &buf, &len, e)) == 0 &&
		 (*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		ret = ni_err_set(e, NI_EINVAL, "%s:%d: %s", path, je.line, je.text);
	if (ret == 0 && *out == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = check(path, *out, e);
	if (ret != 0) {
		json_decref(*out);
		*out = NULL;
	}
	free(buf);
	free(path);
	return ret;
}

static int cmp_mac(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;

	return strcmp(json_string_value(json_object_get(*x, "mac")),
		      json_string_value(json_object_get(*y, "mac")));
}

int nb_hosts_save(const char *repo_dir, json_t *inv, struct ni_err *e)
{
	json_t *hosts = json_object_get(inv, "hosts"), **v, *sorted;
	char *path = hosts_path(repo_dir), *text = NULL;
	size_t n = json_array_size(hosts), i;
	int ret;

	v = calloc(n + 1, sizeof(*v));
	sorted = json_array();
	if (path == NULL || v == NULL || sorted == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		v[i] = json_array_get(hosts, i);
	qsort(v, n, sizeof(*v), cmp_mac);
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	json_object_set(inv, "hosts", sorted);
	text = json_dumps(inv, JSON_INDENT(2) | JSON_SORT_KEYS);
	ret = text ? ni_write_file_atomic(path, text, strlen(text), 0600, e)
		   : ni_err_set(e, NI_ENOMEM, "out of memory");
out:
	json_decref(sorted);
	free(text);
	free(v);
	free(path);
	return ret;
}

/* The index of the host whose MAC or name is key, or -1. */
static ssize_t find(json_t *hosts, const char *key)
{
	char mac[NB_MAC_LEN];
	int is_mac = nb_mac_parse(key, mac) == 0;
	json_t *h;
	size_t i;

	json_array_foreach(hosts, i, h) {
		if (is_mac && strcmp(mac, json_string_value(json_object_get(h, "mac"))) == 0)
			return (ssize_t)i;
		if (!is_mac && strcmp(key, json_string_value(json_object_get(h, "name"))) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static int apply(json_t *hosts, enum nb_host_op op, const char *key,
		 const char *name, const char *channel, char mac[NB_MAC_LEN],
		 json_t **changed, struct ni_err *e)
{
	ssize_t at = find(hosts, key);

	if (op == NB_HOST_ADD) {
		if (nb_mac_parse(key, mac) != 0)
			return ni_err_set(e, NI_EINVAL, "'%s': not a MAC address (aa:bb:cc:dd:ee:ff)", key);
		if (at >= 0)
			return ni_err_set(e, NI_EEXIST, "%s: already in the inventory (as %s)", mac,
					  json_string_value(json_object_get(json_array_get(hosts, (size_t)at), "name")));
		if ((at = find(hosts, name)) >= 0)
			return ni_err_set(e, NI_EEXIST, "host name '%s' is already taken (by %s)", name,
					  json_string_value(json_object_get(json_array_get(hosts, (size_t)at), "mac")));
		*changed = json_pack("{s:s, s:s, s:s}", "mac", mac, "name", name, "channel", channel);
		if (*changed == NULL || json_array_append(hosts, *changed) != 0)
			return ni_err_set(e, NI_ENOMEM, "out of memory");
		return 0;
	}
	if (at < 0)
		return ni_err_set(e, NI_ENOENT, "%s: no such host in the inventory", key);
	*changed = json_incref(json_array_get(hosts, (size_t)at));
	snprintf(mac, NB_MAC_LEN, "%s", json_string_value(json_object_get(*changed, "mac")));
	if (op == NB_HOST_REMOVE)
		return json_array_remove(hosts, (size_t)at) == 0 ? 0
			: ni_err_set(e, NI_ENOMEM, "out of memory");
	return json_object_set_new(*changed, "channel", json_string(channel)) == 0 ? 0
		: ni_err_set(e, NI_ENOMEM, "out of memory");
}

int nb_host_change(const char *repo_dir, enum nb_host_op op,
		   const char *mac_or_name, const char *name,
		   const char *channel, char mac_out[NB_MAC_LEN],
		   struct ni_err *e)
{
	struct img_repo r;
	json_t *inv = NULL, *conf = NULL, *changed = NULL;
	char mac[NB_MAC_LEN] = "";
	int ret;

	if (op == NB_HOST_ADD && !nb_valid_host_name(name))
		return ni_err_set(e, NI_EINVAL, "'%s': a host name is 1-64 of A-Z a-z 0-9 . _ -", name);
	if (op != NB_HOST_REMOVE && !img_valid_channel(channel))
		return ni_err_set(e, NI_EINVAL, "'%s': a channel name is 1-64 of A-Z a-z 0-9 . _ -",
				  channel);
	if ((ret = img_repo_open(&r, repo_dir, 1, e)) != 0)
		return ret;
	if ((ret = nb_hosts_load(repo_dir, &inv, e)) == 0 &&
	    (ret = nb_conf_load(&r, &conf, e)) == 0 &&
	    (ret = apply(json_object_get(inv, "hosts"), op, mac_or_name, name, channel,
			 mac, &changed, e)) == 0 &&
	    (ret = nb_hosts_save(repo_dir, inv, e)) == 0 && conf != NULL) {
		/* The inventory first: it is the source the scripts are
		 * derived from, and netimg ipxe rewrites them all from it. */
		if (op == NB_HOST_REMOVE)
			ret = nb_remove_host_script(&r, mac, e);
		else if ((ret = nb_write_channel_script(&r, conf, channel, e)) == 0)
			ret = nb_write_host_script(&r, changed, e);
	}
	if (mac_out != NULL)
		snprintf(mac_out, NB_MAC_LEN, "%s", mac);
	json_decref(changed);
	json_decref(conf);
	json_decref(inv);
	img_repo_close(&r);
	return ret;
}
