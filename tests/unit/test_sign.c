/* test_sign.c: the repository key (generate, load, fingerprint) and the
 * signed-file envelope: the round trip, each way a signed file is refused
 * and the kind it is refused as, and a cross-check both ways with the
 * openssl command line (its signatures verify here, ours verify there). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/keys.h"
#include "images/sign.h"
#include "tests/unit/unit.h"

#define SIG_AT (sizeof(IMG_SIG_MAGIC) - 1 + 1 + 64 + 1)

/* A repository folder with a fresh key, loaded both ways. */
struct kp {
	char *dir, *key_path, *pub_path;
	EVP_PKEY *priv, *pub;
	char fpr[IMG_KEY_FPR_HEX];
};

static int kp_init(struct kp *k)
{
	struct ni_err e = { 0 };

	memset(k, 0, sizeof(*k));
	k->dir = unit_tmpdir();
	k->key_path = img_key_private_path(k->dir);
	k->pub_path = img_key_public_path(k->dir);
	if (img_key_generate(k->dir, 0, k->fpr, &e) != 0 ||
	    img_key_load_private(k->key_path, &k->priv, &e) != 0 ||
	    img_key_load_public(k->pub_path, &k->pub, &e) != 0) {
		printf("#   key: %s\n", e.msg);
		return 1;
	}
	return 0;
}

static void kp_free(struct kp *k)
{
	EVP_PKEY_free(k->priv);
	EVP_PKEY_free(k->pub);
	free(k->key_path);
	free(k->pub_path);
	unit_rmtree(k->dir);
}

/* Signs text with k; returns the signed file (malloc'd) or NULL. */
static char *sign_text(struct kp *k, const char *text, size_t *len)
{
	struct ni_err e = { 0 };
	char *out = NULL;

	if (img_sign(k->priv, text, strlen(text), &out, len, &e) != 0)
		printf("#   sign: %s\n", e.msg);
	return out;
}

/* 0 when buf is refused as kind, with a message holding "what: msg". */
static int refused(EVP_PKEY *pub, const char *buf, size_t len,
		   enum img_sig_error kind, const char *msg)
{
	struct ni_err e = { 0 };
	enum img_sig_error why = IMG_SIG_OK;
	const void *p = (void *)1;
	size_t plen = 1;
	int fails = 0, ret;

	ret = img_open_signed(pub, "f.json", buf, len, &p, &plen, &why, &e);
	UCHECK(ret == NI_EINVAL && e.code == NI_EINVAL);
	UCHECK(why == kind);
	UCHECK(p == NULL && plen == 0);
	UCHECK(strncmp(e.msg, "f.json: ", 8) == 0 && strstr(e.msg, msg));
	if (fails)
		printf("#   got %s: '%s', want %s: '%s'\n",
		       img_sig_error_name(why), e.msg,
		       img_sig_error_name(kind), msg);
	return fails;
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int t_roundtrip(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	enum img_sig_error why = IMG_SIG_BAD;
	const char *text = "{\"name\": \"minbase\", \"version\": \"1\"}\n";
	const void *p;
	size_t len, plen;
	char *out;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	out = sign_text(&k, text, &len);
	UCHECK(out != NULL);
	if (out == NULL)
		goto done;
	UCHECK(len == IMG_SIG_HEADER_LEN + strlen(text) && len == 171 + strlen(text));
	UCHECK(strncmp(out, "netimg-signed-v1 ", 17) == 0);
	UCHECK(strncmp(out + 17, k.fpr, 64) == 0 && out[81] == ' ');
	UCHECK(out[168] == '=' && out[169] == '=' && out[170] == '\n');
	UCHECK(strcmp(out + 171, text) == 0);
	UCHECK(img_open_signed(k.pub, "f", out, len, &p, &plen, &why, &e) == 0);
	UCHECK(why == IMG_SIG_OK);
	UCHECK(plen == strlen(text) && p == out + 171 &&
	       memcmp(p, text, plen) == 0);
	/* why may be NULL */
	UCHECK(img_open_signed(k.pub, "f", out, len, &p, &plen, NULL, &e) == 0);
	free(out);
done:
	kp_free(&k);
	return fails;
}

static int t_empty_and_large(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	const void *p;
	size_t len, plen, big_len = (4 << 20) + 3;
	char *out = NULL, *big;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	UCHECK(img_sign(k.priv, NULL, 0, &out, &len, &e) == 0);
	UCHECK(out != NULL && len == IMG_SIG_HEADER_LEN && out[len] == '\0');
	UCHECK(img_open_signed(k.pub, "f", out, len, &p, &plen, NULL, &e) == 0);
	UCHECK(plen == 0);
	/* an empty payload and a payload "x" have different signatures */
	if (out != NULL) {
		char *x = malloc(len + 2);

		memcpy(x, out, len);
		strcpy(x + len, "x");
		fails += refused(k.pub, x, len + 1, IMG_SIG_BAD, "bad signature");
		free(x);
	}
	free(out);
	big = malloc(big_len);
	UCHECK(big != NULL);
	if (big != NULL) {
		memset(big, 'z', big_len);
		big[7] = '\n';
		UCHECK(img_sign(k.priv, big, big_len, &out, &len, &e) == 0);
		UCHECK(img_open_signed(k.pub, "f", out, len, &p, &plen, NULL,
				       &e) == 0);
		UCHECK(plen == big_len && memcmp(p, big, big_len) == 0);
		out[len - 1] ^= 1;
		UCHECK(refused(k.pub, out, len, IMG_SIG_BAD, "bad sig") == 0);
		free(out);
		free(big);
	}
	kp_free(&k);
	return fails;
}

static int t_tampered(void)
{
	struct kp k;
	size_t len, i;
	char *out;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	out = sign_text(&k, "channel stable -> minbase@2\n", &len);
	if (out == NULL) {
		kp_free(&k);
		return 1;
	}
	for (i = IMG_SIG_HEADER_LEN; i < len; i += 5) {
		out[i] ^= 0x01;
		fails += refused(k.pub, out, len, IMG_SIG_BAD,
				 "f.json: bad signature (tampered)");
		out[i] ^= 0x01;
	}
	/* a byte more, a byte less */
	fails += refused(k.pub, out, len - 1, IMG_SIG_BAD, "bad signature");
	out[len] = '\n';
	fails += refused(k.pub, out, len + 1, IMG_SIG_BAD, "bad signature");
	out[len] = '\0';
	/* a changed signature that is still canonical base64 */
	out[SIG_AT] = out[SIG_AT] == 'A' ? 'B' : 'A';
	fails += refused(k.pub, out, len, IMG_SIG_BAD, "bad signature");
	free(out);
	kp_free(&k);
	return fails;
}

static int t_other_key(void)
{
	struct kp a, b;
	char want[200];
	size_t len;
	char *out;
	int fails = 0;

	if (kp_init(&a) != 0)
		return 1;
	if (kp_init(&b) != 0) {
		kp_free(&a);
		return 1;
	}
	UCHECK(strcmp(a.fpr, b.fpr) != 0);
	out = sign_text(&b, "payload\n", &len);
	snprintf(want, sizeof(want), "f.json: signed by another key "
		 "(fingerprint %s, expected %s)", b.fpr, a.fpr);
	if (out != NULL)
		fails += refused(a.pub, out, len, IMG_SIG_OTHER_KEY, want);
	/* b's fingerprint on a's signature: still another key, not "bad" */
	free(out);
	out = sign_text(&a, "payload\n", &len);
	if (out != NULL) {
		memcpy(out + 17, b.fpr, 64);
		fails += refused(a.pub, out, len, IMG_SIG_OTHER_KEY,
				 "signed by another key");
	}
	free(out);
	kp_free(&a);
	kp_free(&b);
	return fails;
}

/* Copies good (len bytes) with the cut bytes at offset at replaced by put,
 * and checks the copy is refused as malformed with msg. */
static int malformed_after(EVP_PKEY *pub, const char *good, size_t len,
			   size_t at, const char *put, size_t cut,
			   const char *msg)
{
	char *b = malloc(len + strlen(put) + 1);
	size_t n;
	int fails;

	memcpy(b, good, at);
	strcpy(b + at, put);
	n = at + strlen(put);
	if (at + cut < len) {
		memcpy(b + n, good + at + cut, len - at - cut);
		n += len - at - cut;
	}
	fails = refused(pub, b, n, IMG_SIG_MALFORMED, msg);
	free(b);
	return fails;
}

static int t_malformed(void)
{
	struct kp k;
	const char *m = "malformed signature line";
	char *out, *sig, line[400];
	unsigned char raw[64];
	size_t len;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	out = sign_text(&k, "{\"a\": 1}\n", &len);
	if (out == NULL) {
		kp_free(&k);
		return 1;
	}
	/* truncated inside the header, at any point */
	fails += refused(k.pub, out, 100, IMG_SIG_MALFORMED, "truncated");
	fails += refused(k.pub, out, 5, IMG_SIG_MALFORMED, "truncated");
	fails += refused(k.pub, out, 170, IMG_SIG_MALFORMED, "truncated");
	fails += refused(k.pub, out, 0, IMG_SIG_MALFORMED, "empty file");
	/* the newline replaced: no end of line within 256 bytes */
	fails += malformed_after(k.pub, out, len, 170, " ", 1, m);
	/* a character not in base64, and base64 that is not canonical */
	fails += malformed_after(k.pub, out, len, SIG_AT + 10, "!", 1, "bad base64");
	fails += malformed_after(k.pub, out, len, SIG_AT + 85, "B", 1, "bad base64");
	fails += malformed_after(k.pub, out, len, SIG_AT, " ", 1, m);
	/* a base64 character less, or more */
	fails += malformed_after(k.pub, out, len, SIG_AT + 5, "", 1, "wrong length");
	fails += malformed_after(k.pub, out, len, SIG_AT + 5, "AA", 1, "wrong length");
	/* 88 characters of base64 that decode to 65 bytes */
	fails += malformed_after(k.pub, out, len, SIG_AT + 86, "A", 1,
				 "not 64 bytes");
	/* a 48-byte signature: 64 characters of base64, and the same padded
	 * with spaces to the right line length */
	sig = malloc(100);
	memset(raw, 7, sizeof(raw));
	EVP_EncodeBlock((unsigned char *)sig, raw, 48);
	snprintf(line, sizeof(line), "netimg-signed-v1 %s %s\n", k.fpr, sig);
	fails += refused(k.pub, line, strlen(line), IMG_SIG_MALFORMED,
			 "wrong length");
	snprintf(line, sizeof(line), "netimg-signed-v1 %s %s%24s\n", k.fpr,
		 sig, "");
	fails += refused(k.pub, line, strlen(line), IMG_SIG_MALFORMED, m);
	free(sig);
	/* the fingerprint: uppercase, not hex, two spaces */
	fails += malformed_after(k.pub, out, len, 17, "A", 1, "fingerprint");
	fails += malformed_after(k.pub, out, len, 20, "g", 1, "fingerprint");
	fails += malformed_after(k.pub, out, len, 16, "  ", 1, m);
	/* another version, a long first line */
	fails += malformed_after(k.pub, out, len, 15, "2", 1, "unknown version");
	memset(line, 'a', sizeof(line));
	memcpy(line, "netimg-signed-v1 ", 17);
	line[sizeof(line) - 1] = '\n';
	fails += refused(k.pub, line, sizeof(line), IMG_SIG_MALFORMED,
			 "no end of line");
	free(out);
	kp_free(&k);
	return fails;
}

static int t_unsigned(void)
{
	struct kp k;
	const char *json = "{\"name\": \"minbase\"}\n";
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	fails += refused(k.pub, json, strlen(json), IMG_SIG_UNSIGNED,
			 "f.json: not signed");
	fails += refused(k.pub, "x", 1, IMG_SIG_UNSIGNED, "not signed");
	fails += refused(k.pub, "\n", 1, IMG_SIG_UNSIGNED, "not signed");
	kp_free(&k);
	return fails;
}

/* SHA-256 of `openssl pkey -pubin -outform DER`, as the shell sees it. */
static int openssl_fpr(const char *pub_path, char out[65])
{
	char cmd[600];
	FILE *f;
	int ok;

	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in '%s' -outform DER"
		 " | sha256sum", pub_path);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	ok = fread(out, 1, 64, f) == 64;
	out[64] = '\0';
	return pclose(f) == 0 && ok ? 0 : -1;
}

static int t_fingerprint(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	uint8_t a[32], b[32];
	char hex[65], shell[65];
	EVP_PKEY *again = NULL;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	UCHECK(img_key_fingerprint(k.priv, a) == 0);
	UCHECK(img_key_fingerprint(k.pub, b) == 0);
	UCHECK(memcmp(a, b, 32) == 0);
	ni_hex(a, 32, hex);
	UCHECK(strcmp(hex, k.fpr) == 0);
	UCHECK(img_key_load_public(k.pub_path, &again, &e) == 0);
	UCHECK(img_key_fingerprint(again, b) == 0 && memcmp(a, b, 32) == 0);
	EVP_PKEY_free(again);
	UCHECK(openssl_fpr(k.pub_path, shell) == 0);
	UCHECK(strcmp(shell, k.fpr) == 0);
	if (fails)
		printf("#   ours %s, openssl %s\n", k.fpr, shell);
	kp_free(&k);
	return fails;
}

static int write_file(const char *dir, const char *name, const void *buf,
		      size_t len, char **path)
{
	struct ni_err e = { 0 };

	*path = ni_path_join(dir, name);
	return ni_write_file_atomic(*path, buf, len, 0644, &e);
}

/* Our signature verifies with `openssl pkeyutl`, and the other way. */
static int t_openssl_cross(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	const char *text = "{\"channel\": \"stable\", \"serial\": 7}\n";
	unsigned char sig[66];
	char *out, *payload = NULL, *sigf = NULL, *bad = NULL, cmd[1500];
	char *theirs = NULL, *env = NULL, b64[89];
	const void *p;
	size_t len, plen, slen;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	out = sign_text(&k, text, &len);
	if (out == NULL) {
		kp_free(&k);
		return 1;
	}
	UCHECK(EVP_DecodeBlock(sig, (unsigned char *)out + SIG_AT, 88) == 66);
	UCHECK(write_file(k.dir, "payload", out + 171, len - 171, &payload) == 0);
	UCHECK(write_file(k.dir, "sig", sig, 64, &sigf) == 0);
	UCHECK(write_file(k.dir, "bad", "{}\n", 3, &bad) == 0);
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -verify -pubin -inkey '%s'"
		 " -rawin -in '%s' -sigfile '%s' >/dev/null 2>&1", k.pub_path,
		 payload, sigf);
	UCHECK(run(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -verify -pubin -inkey '%s'"
		 " -rawin -in '%s' -sigfile '%s' >/dev/null 2>&1", k.pub_path,
		 bad, sigf);
	UCHECK(run(cmd) != 0);
	/* openssl signs with repo.key; the envelope of that verifies here */
	theirs = ni_path_join(k.dir, "theirs.sig");
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -sign -inkey '%s' -rawin"
		 " -in '%s' -out '%s' 2>/dev/null", k.key_path, payload,
		 theirs);
	UCHECK(run(cmd) == 0);
	free(out);
	out = NULL;
	UCHECK(ni_read_file(theirs, 1000, &out, &slen, &e) == 0 && slen == 64);
	if (out != NULL && slen == 64) {
		EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)out, 64);
		UCHECK(asprintf(&env, "netimg-signed-v1 %s %s\n%s", k.fpr, b64,
				text) > 0);
		UCHECK(img_open_signed(k.pub, "theirs", env, strlen(env), &p,
				       &plen, NULL, &e) == 0);
		UCHECK(plen == strlen(text) && memcmp(p, text, plen) == 0);
		free(env);
	}
	free(out);
	free(theirs);
	free(payload);
	free(sigf);
	free(bad);
	kp_free(&k);
	return fails;
}

static int t_generate_refuses(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	char fpr[IMG_KEY_FPR_HEX], *before = NULL, *after = NULL, *missing;
	size_t n1 = 0, n2 = 0;
	struct stat st;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	UCHECK(ni_read_file(k.key_path, 10000, &before, &n1, &e) == 0);
	UCHECK(img_key_generate(k.dir, 0, fpr, &e) == NI_EEXIST);
	UCHECK(strstr(e.msg, "private/repo.key: the repository already has "
			     "a key (--force replaces it)") != NULL);
	UCHECK(ni_read_file(k.key_path, 10000, &after, &n2, &e) == 0);
	UCHECK(n1 == n2 && before && after && memcmp(before, after, n1) == 0);
	free(after);
	/* a public key alone also blocks */
	unlink(k.key_path);
	UCHECK(img_key_generate(k.dir, 0, fpr, &e) == NI_EEXIST);
	UCHECK(strstr(e.msg, "repo.pub: the repository already has") != NULL);
	UCHECK(img_key_generate(k.dir, 1, fpr, &e) == 0);
	UCHECK(strcmp(fpr, k.fpr) != 0);
	UCHECK(stat(k.key_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	free(before);
	missing = ni_path_join(k.dir, "nowhere");
	UCHECK(img_key_generate(missing, 0, fpr, &e) == NI_ENOENT);
	UCHECK(strstr(e.msg, "nowhere: no such folder") != NULL);
	UCHECK(img_key_generate(k.key_path, 0, fpr, &e) == NI_EINVAL);
	UCHECK(strstr(e.msg, "repo.key: not a folder") != NULL);
	free(missing);
	kp_free(&k);
	return fails;
}

static int t_load_refuses(void)
{
	struct kp k;
	struct ni_err e = { 0 };
	EVP_PKEY *key = (EVP_PKEY *)1, *ec;
	char *path, *ec_path = NULL;
	BIO *bio;
	int fails = 0;

	if (kp_init(&k) != 0)
		return 1;
	UCHECK(chmod(k.key_path, 0640) == 0);
	UCHECK(img_key_load_private(k.key_path, &key, &e) == NI_EPERM);
	UCHECK(key == NULL);
	UCHECK(strstr(e.msg, "repo.key: private key is readable by others "
			     "(chmod 600)") != NULL);
	UCHECK(chmod(k.key_path, 0604) == 0);
	UCHECK(img_key_load_private(k.key_path, &key, &e) == NI_EPERM);
	UCHECK(chmod(k.key_path, 0620) == 0);
	UCHECK(img_key_load_private(k.key_path, &key, &e) == NI_EPERM);
	UCHECK(chmod(k.key_path, 0600) == 0);
	UCHECK(img_key_load_private(k.key_path, &key, &e) == 0);
	EVP_PKEY_free(key);
	/* the public key file is not a private key, and the other way */
	path = unit_write(k.dir, "not-a-key", "hello\n");
	UCHECK(chmod(path, 0600) == 0);
	UCHECK(img_key_load_private(path, &key, &e) == NI_EINVAL);
	UCHECK(strstr(e.msg, "not-a-key: not an unencrypted PEM private key"));
	UCHECK(img_key_load_public(path, &key, &e) == NI_EINVAL);
	UCHECK(strstr(e.msg, "not-a-key: not a PEM public key") != NULL);
	UCHECK(img_key_load_public(k.key_path, &key, &e) == NI_EINVAL);
	free(path);
	path = ni_path_join(k.dir, "missing.pub");
	UCHECK(img_key_load_public(path, &key, &e) == NI_ENOENT);
	UCHECK(strstr(e.msg, "missing.pub") != NULL);
	free(path);
	/* an EC public key is refused naming the file */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	UCHECK(ec != NULL);
	ec_path = ni_path_join(k.dir, "ec.pub");
	bio = BIO_new_file(ec_path, "w");
	UCHECK(bio != NULL && PEM_write_bio_PUBKEY(bio, ec) == 1);
	BIO_free(bio);
	UCHECK(img_key_load_public(ec_path, &key, &e) == NI_EINVAL);
	UCHECK(key == NULL);
	UCHECK(strstr(e.msg, "ec.pub: not an Ed25519 key (EC)") != NULL);
	if (fails)
		printf("#   %s\n", e.msg);
	/* and cannot sign */
	{
		char *out = NULL;
		size_t len;

		UCHECK(img_sign(ec, "x", 1, &out, &len, &e) == NI_EINVAL);
		UCHECK(out == NULL);
	}
	EVP_PKEY_free(ec);
	free(ec_path);
	kp_free(&k);
	return fails;
}

const struct unit_test unit_sign_tests[] = {
	{ "sign: round trip", t_roundtrip },
	{ "sign: empty and 4 MiB payloads", t_empty_and_large },
	{ "sign: a changed payload or signature is a bad signature", t_tampered },
	{ "sign: a file signed by another key", t_other_key },
	{ "sign: truncated and malformed signature lines", t_malformed },
	{ "sign: a file without an envelope is unsigned", t_unsigned },
	{ "keys: the fingerprint is stable and matches openssl", t_fingerprint },
	{ "sign: cross-checked with openssl pkeyutl both ways", t_openssl_cross },
	{ "keys: generate refuses an existing key unless forced", t_generate_refuses },
	{ "keys: loading refuses open modes, other types, non-keys", t_load_refuses },
	{ NULL, NULL },
};
