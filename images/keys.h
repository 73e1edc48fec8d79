/* keys.h: the repository's Ed25519 signing key (OpenSSL). The private key
 * lives in DIR/private/repo.key (PEM PKCS#8, mode 0600, never served); the
 * public key clients hold is DIR/repo.pub (PEM SubjectPublicKeyInfo, the
 * `openssl pkey -pubout` format). A key is named by its fingerprint: the
 * SHA-256 of its DER SubjectPublicKeyInfo, so that
 * `openssl pkey -pubin -in repo.pub -outform DER | sha256sum` shows it. */
#ifndef IMG_KEYS_H
#define IMG_KEYS_H

#include <stdint.h>

#include <openssl/evp.h>

#include "common/err.h"

#define IMG_KEY_PRIVATE_DIR "private"
#define IMG_KEY_PRIVATE "private/repo.key" /* relative to the repository */
#define IMG_KEY_PUBLIC "repo.pub"
#define IMG_KEY_FPR_LEN 32
#define IMG_KEY_FPR_HEX 65 /* 64 digits and a NUL */

/* malloc'd paths of a repository's private and public key files. */
char *img_key_private_path(const char *repo_dir);
char *img_key_public_path(const char *repo_dir);

/* Creates a new key pair for the repository folder repo_dir, which must
 * exist: DIR/private/ (0700, made if missing), DIR/private/repo.key (0600)
 * and DIR/repo.pub (0644). Refuses with NI_EEXIST when either key file
 * exists, unless force. Writes the new key's fingerprint in hex. */
int img_key_generate(const char *repo_dir, int force,
		     char fpr_hex[IMG_KEY_FPR_HEX], struct ni_err *e);

/* Loads an unencrypted Ed25519 private key (PEM). Refuses a file that
 * group or others can read or write (NI_EPERM). *out is the caller's to
 * EVP_PKEY_free. */
int img_key_load_private(const char *path, EVP_PKEY **out, struct ni_err *e);

/* Loads an Ed25519 public key (PEM "PUBLIC KEY"); any other key type is
 * refused (NI_EINVAL) naming the file. */
int img_key_load_public(const char *path, EVP_PKEY **out, struct ni_err *e);

/* The key's fingerprint (works on a private key too: its public half).
 * Returns 0, or NI_EINVAL if OpenSSL cannot encode the key. */
int img_key_fingerprint(EVP_PKEY *key, uint8_t out[IMG_KEY_FPR_LEN]);

/* True when key is an Ed25519 key (public or private). */
int img_key_is_ed25519(EVP_PKEY *key);

#endif
