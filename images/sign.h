/* sign.h: the signed-file envelope. Everything the repository signs
 * (manifests, channel pointers, attachment records) is one file holding
 * both the signature and the payload, so that it is replaced atomically:
 *
 *   netimg-signed-v1 <key fingerprint, 64 hex> <signature, 88 base64>\n
 *   <the exact payload bytes>
 *
 * The Ed25519 signature covers the payload bytes only. The fingerprint
 * (images/keys.h) names the key that signed, so that a file signed by
 * another key is told apart from a tampered one; it is never trusted: the
 * caller supplies the public key to verify with. */
#ifndef IMG_SIGN_H
#define IMG_SIGN_H

#include <stddef.h>

#include <openssl/evp.h>

#include "common/err.h"

#define IMG_SIG_MAGIC "netimg-signed-v1"
/* The header line, newline included: magic, space, 64 hex digits, space,
 * 88 base64 characters, newline. */
#define IMG_SIG_HEADER_LEN (sizeof(IMG_SIG_MAGIC) - 1 + 1 + 64 + 1 + 88 + 1)
/* How far a reader looks for the header's newline. */
#define IMG_SIG_HEADER_MAX 256

/* Why a signed file was refused. */
enum img_sig_error {
	IMG_SIG_OK = 0,
	IMG_SIG_UNSIGNED,  /* no envelope at all */
	IMG_SIG_MALFORMED, /* an envelope, but truncated or not well formed */
	IMG_SIG_OTHER_KEY, /* well formed, signed by a key we do not hold */
	IMG_SIG_BAD,       /* our key, but the signature does not verify */
};

/* Signs payload (len bytes; payload may be NULL when len is 0) with the
 * Ed25519 private key priv. *out is the whole signed file (malloc'd, with
 * a NUL after its *out_len bytes). */
int img_sign(EVP_PKEY *priv, const void *payload, size_t len, char **out,
	     size_t *out_len, struct ni_err *e);

/* Checks the signed file buf (len bytes) against the public key pub. On
 * success *payload points into buf at the signed bytes. On failure returns
 * NI_EINVAL with e->msg naming what (a file name or URL) and the reason,
 * and sets *why (which may be NULL) to the kind of failure. */
int img_open_signed(EVP_PKEY *pub, const char *what, const void *buf,
		    size_t len, const void **payload, size_t *payload_len,
		    enum img_sig_error *why, struct ni_err *e);

/* A short name of each kind ("unsigned", "bad signature", ...). */
const char *img_sig_error_name(enum img_sig_error why);

#endif
