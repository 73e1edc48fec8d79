/* keys.c: creating, loading and naming the repository's Ed25519 key. */
#include "images/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/fsutil.h"
#include "common/hash.h"

/* A PEM key is a few hundred bytes; anything far larger is not a key. */
#define KEY_FILE_MAX 16384

char *img_key_private_path(const char *repo_dir)
{
	return ni_path_join(repo_dir, IMG_KEY_PRIVATE);
}

char *img_key_public_path(const char *repo_dir)
{
	return ni_path_join(repo_dir, IMG_KEY_PUBLIC);
}

int img_key_is_ed25519(EVP_PKEY *key)
{
	return key != NULL && EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;
}

int img_key_fingerprint(EVP_PKEY *key, uint8_t out[IMG_KEY_FPR_LEN])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0) {
		ERR_clear_error();
		return NI_EINVAL;
	}
	ni_sha256_buf(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

/* Never let OpenSSL prompt on the terminal for an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Parses a PEM key from buf; private selects the kind. */
static EVP_PKEY *parse_pem(const char *buf, size_t len, int private)
{
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	EVP_PKEY *key;

	if (bio == NULL)
		return NULL;
	key = private ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
		      : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return key;
}

static int check_type(const char *path, EVP_PKEY *key, struct ni_err *e)
{
	const char *name;

	if (img_key_is_ed25519(key))
		return 0;
	name = EVP_PKEY_get0_type_name(key);
	return ni_err_set(e, NI_EINVAL, "%s: not an Ed25519 key (%s)", path,
			  name != NULL ? name : "unknown type");
}

/* The private key's file must be ours alone: checked on the descriptor we
 * read, so the file cannot be swapped between the check and the read. */
static int check_private_mode(const char *path, int fd, struct ni_err *e)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return ni_err_errno(e, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return ni_err_set(e, NI_EINVAL, "%s: not a regular file", path);
	if (st.st_mode & (S_IRGRP | S_IROTH))
		return ni_err_set(e, NI_EPERM, "%s: private key is readable by "
				  "others (chmod 600)", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return ni_err_set(e, NI_EPERM, "%s: private key is writable by "
				  "others (chmod 600)", path);
	return 0;
}

/* Reads at most KEY_FILE_MAX bytes of fd into buf (KEY_FILE_MAX + 1). */
static int read_key_fd(const char *path, int fd, char *buf, size_t *len,
		       struct ni_err *e)
{
	size_t used = 0;

	for (;;) {
		ssize_t n = read(fd, buf + used, KEY_FILE_MAX + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ni_err_errno(e, errno, "%s", path);
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > KEY_FILE_MAX)
			return ni_err_set(e, NI_EINVAL, "%s: larger than %d "
					  "bytes, not a key", path,
					  KEY_FILE_MAX);
	}
	*len = used;
	return 0;
}

int img_key_load_private(const char *path, EVP_PKEY **out, struct ni_err *e)
{
	char buf[KEY_FILE_MAX + 1];
	size_t len = 0;
	EVP_PKEY *key = NULL;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ni_err_errno(e, errno, "%s", path);
	ret = check_private_mode(path, fd, e);
	if (ret == 0)
		ret = read_key_fd(path, fd, buf, &len, e);
	close(fd);
	if (ret == 0) {
		key = parse_pem(buf, len, 1);
		if (key == NULL)
			ret = ni_err_set(e, NI_EINVAL, "%s: not an unencrypted "
					 "PEM private key", path);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (ret == 0)
		ret = check_type(path, key, e);
	if (ret != 0) {
		EVP_PKEY_free(key);
		return ret;
	}
	*out = key;
	return 0;
}

int img_key_load_public(const char *path, EVP_PKEY **out, struct ni_err *e)
{
	char *buf;
	size_t len;
	EVP_PKEY *key;
	int ret;

	*out = NULL;
	ret = ni_read_file(path, KEY_FILE_MAX, &buf, &len, e);
	if (ret != 0)
		return ret;
	key = parse_pem(buf, len, 0);
	free(buf);
	if (key == NULL)
		return ni_err_set(e, NI_EINVAL, "%s: not a PEM public key "
				  "(-----BEGIN PUBLIC KEY-----)", path);
	ret = check_type(path, key, e);
	if (ret != 0) {
		EVP_PKEY_free(key);
		return ret;
	}
	*out = key;
	return 0;
}

/* --- generation --------------------------------------------------------- */

static int check_repo_dir(const char *dir, struct ni_err *e)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return ni_err_set(e, NI_ENOENT, "%s: no such folder",
					  dir);
		return ni_err_errno(e, errno, "%s", dir);
	}
	if (!S_ISDIR(st.st_mode))
		return ni_err_set(e, NI_EINVAL, "%s: not a folder", dir);
	return 0;
}

/* Opens DIR/private (made 0700 if missing) and locks it, so that two
 * keygens cannot interleave and leave a key and a public key that do not
 * belong together. Returns the descriptor, or a negative NI_E* code. */
static int open_private_dir(const char *repo_dir, struct ni_err *e)
{
	char *dir = ni_path_join(repo_dir, IMG_KEY_PRIVATE_DIR);
	int fd, ret = 0;

	if (dir == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", repo_dir);
	if (mkdir(dir, 0700) == 0) {
		if (chmod(dir, 0700) != 0) /* mkdir's mode went through umask */
			ret = ni_err_errno(e, errno, "%s: chmod", dir);
	} else if (errno != EEXIST) {
		ret = ni_err_errno(e, errno, "%s: cannot create folder", dir);
	}
	if (ret != 0) {
		free(dir);
		return ret;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		ret = ni_err_errno(e, errno, "%s", dir);
	else if (flock(fd, LOCK_EX) != 0)
		ret = ni_err_errno(e, errno, "%s: lock", dir);
	free(dir);
	if (ret != 0) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

static int refuse_existing(const char *path, struct ni_err *e)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return ni_err_set(e, NI_EEXIST, "%s: the repository already "
				  "has a key (--force replaces it)", path);
	if (errno != ENOENT)
		return ni_err_errno(e, errno, "%s", path);
	return 0;
}

/* Writes the PEM form of key (private or public) into the temporary file
 * a; the private PEM is wiped from memory afterwards. */
static int write_pem(struct ni_atomic *a, EVP_PKEY *key, int private,
		     struct ni_err *e)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len = 0;
	int ok, ret;

	if (bio == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", a->path);
	ok = private ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
						NULL)
		     : PEM_write_bio_PUBKEY(bio, key);
	if (ok == 1)
		len = BIO_get_mem_data(bio, &data);
	if (ok != 1 || len <= 0) {
		ERR_clear_error();
		BIO_free(bio);
		return ni_err_set(e, NI_EINVAL, "%s: cannot encode the key",
				  a->path);
	}
	ret = ni_atomic_write(a, data, (size_t)len, e);
	OPENSSL_cleanse(data, (size_t)len);
	BIO_free(bio);
	return ret;
}

/* Both files are written in full under temporary names before either is
 * renamed into place: a failed write leaves the old pair untouched. */
static int write_pair(EVP_PKEY *key, const char *key_path,
		      const char *pub_path, struct ni_err *e)
{
	struct ni_atomic k, p;
	int ret;

	ret = ni_atomic_open(&k, key_path, 0600, e);
	if (ret != 0)
		return ret;
	ret = ni_atomic_open(&p, pub_path, 0644, e);
	if (ret != 0)
		goto err_pub;
	ret = write_pem(&k, key, 1, e);
	if (ret == 0)
		ret = write_pem(&p, key, 0, e);
	if (ret == 0)
		ret = ni_atomic_commit(&k, e);
	if (ret != 0)
		goto err_write;
	return ni_atomic_commit(&p, e);
err_write:
	ni_atomic_abort(&p);
err_pub:
	ni_atomic_abort(&k);
	return ret;
}

static int generate_locked(const char *key_path, const char *pub_path,
			   int force, char fpr_hex[IMG_KEY_FPR_HEX],
			   struct ni_err *e)
{
	uint8_t fpr[IMG_KEY_FPR_LEN];
	EVP_PKEY *key;
	int ret;

	if (!force) {
		ret = refuse_existing(key_path, e);
		if (ret == 0)
			ret = refuse_existing(pub_path, e);
		if (ret != 0)
			return ret;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL) {
		ERR_clear_error();
		return ni_err_set(e, NI_EINVAL, "%s: OpenSSL cannot make an "
				  "Ed25519 key", key_path);
	}
	ret = img_key_fingerprint(key, fpr);
	if (ret != 0)
		ni_err_set(e, ret, "%s: cannot encode the key", pub_path);
	else
		ret = write_pair(key, key_path, pub_path, e);
	EVP_PKEY_free(key);
	if (ret == 0)
		ni_hex(fpr, sizeof(fpr), fpr_hex);
	return ret;
}

int img_key_generate(const char *repo_dir, int force,
		     char fpr_hex[IMG_KEY_FPR_HEX], struct ni_err *e)
{
	char *key_path = NULL, *pub_path = NULL;
	int fd, ret;

	ret = check_repo_dir(repo_dir, e);
	if (ret != 0)
		return ret;
	key_path = img_key_private_path(repo_dir);
	pub_path = img_key_public_path(repo_dir);
	if (key_path == NULL || pub_path == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "%s: out of memory", repo_dir);
		goto out;
	}
	fd = open_private_dir(repo_dir, e);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	ret = generate_locked(key_path, pub_path, force, fpr_hex, e);
	close(fd); /* releases the lock */
out:
	free(key_path);
	free(pub_path);
	return ret;
}
