/* sign.c: writing and checking the signed-file envelope (sign.h). The
 * header is parsed strictly (one spelling per signature: lowercase hex,
 * canonical padded base64) and only within its first IMG_SIG_HEADER_MAX
 * bytes, whatever the size of the payload. */
#include "images/sign.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "common/hash.h"
#include "images/keys.h"

#define MAGIC_LEN (sizeof(IMG_SIG_MAGIC) - 1)
#define SIG_LEN 64
#define SIG_B64_LEN 88 /* 4 * ceil(64 / 3) */
#define FPR_HEX_LEN (2 * IMG_KEY_FPR_LEN)
/* Offsets in the header line. */
#define FPR_AT (MAGIC_LEN + 1)
#define SIG_AT (FPR_AT + FPR_HEX_LEN + 1)
#define LINE_LEN (SIG_AT + SIG_B64_LEN) /* without the newline */

struct header {
	uint8_t fpr[IMG_KEY_FPR_LEN];
	uint8_t sig[SIG_LEN];
};

const char *img_sig_error_name(enum img_sig_error why)
{
	switch (why) {
	case IMG_SIG_OK: return "ok";
	case IMG_SIG_UNSIGNED: return "unsigned";
	case IMG_SIG_MALFORMED: return "malformed";
	case IMG_SIG_OTHER_KEY: return "other key";
	case IMG_SIG_BAD: return "bad signature";
	}
	return "unknown";
}

/* Ed25519 signs the message itself (no digest); OpenSSL wants a pointer
 * even for an empty message. */
static const unsigned char *msg_ptr(const void *p)
{
	static const unsigned char empty[1];

	return p != NULL ? p : empty;
}

static int sign_raw(EVP_PKEY *priv, const void *payload, size_t len,
		    uint8_t sig[SIG_LEN], struct ni_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = SIG_LEN;
	int ok;

	if (ctx == NULL)
		return ni_err_set(e, NI_ENOMEM, "signing: out of memory");
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, priv) == 1 &&
	     EVP_DigestSign(ctx, sig, &sig_len, msg_ptr(payload), len) == 1 &&
	     sig_len == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return ni_err_set(e, NI_EINVAL, "signing: OpenSSL cannot sign "
				  "with this key (not an Ed25519 private key)");
	}
	return 0;
}

int img_sign(EVP_PKEY *priv, const void *payload, size_t len, char **out,
	     size_t *out_len, struct ni_err *e)
{
	uint8_t fpr[IMG_KEY_FPR_LEN], sig[SIG_LEN];
	char hex[FPR_HEX_LEN + 1], b64[SIG_B64_LEN + 1];
	char *buf;
	int ret;

	*out = NULL;
	if (!img_key_is_ed25519(priv))
		return ni_err_set(e, NI_EINVAL, "signing: not an Ed25519 key");
	if (len > SIZE_MAX - IMG_SIG_HEADER_LEN - 1)
		return ni_err_set(e, NI_ENOMEM, "signing: payload too large");
	ret = sign_raw(priv, payload, len, sig, e);
	if (ret != 0)
		return ret;
	if (img_key_fingerprint(priv, fpr) != 0)
		return ni_err_set(e, NI_EINVAL, "signing: cannot encode the key");
	ni_hex(fpr, sizeof(fpr), hex);
	EVP_EncodeBlock((unsigned char *)b64, sig, SIG_LEN);
	buf = malloc(IMG_SIG_HEADER_LEN + len + 1);
	if (buf == NULL)
		return ni_err_set(e, NI_ENOMEM, "signing: out of memory");
	snprintf(buf, IMG_SIG_HEADER_LEN + 1, "%s %s %s\n", IMG_SIG_MAGIC, hex,
		 b64);
	if (len > 0)
		memcpy(buf + IMG_SIG_HEADER_LEN, payload, len);
	buf[IMG_SIG_HEADER_LEN + len] = '\0';
	*out = buf;
	*out_len = IMG_SIG_HEADER_LEN + len;
	return 0;
}

/* --- reading -------------------------------------------------------------- */

static int refuse(enum img_sig_error kind, enum img_sig_error *why)
{
	if (why != NULL)
		*why = kind;
	return NI_EINVAL;
}

static int malformed(const char *what, const char *detail,
		     enum img_sig_error *why, struct ni_err *e)
{
	ni_err_set(e, NI_EINVAL, "%s: malformed signature line (%s)", what,
		   detail);
	return refuse(IMG_SIG_MALFORMED, why);
}

static int parse_fpr(const char *s, uint8_t out[IMG_KEY_FPR_LEN])
{
	char hex[FPR_HEX_LEN + 1];
	size_t i;

	for (i = 0; i < FPR_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	memcpy(hex, s, FPR_HEX_LEN);
	hex[FPR_HEX_LEN] = '\0';
	return ni_unhex(hex, out, IMG_KEY_FPR_LEN);
}

/* Decodes the 88 characters at s. Only the canonical encoding of 64
 * bytes is accepted: it must encode back to the very same characters. */
static const char *parse_sig(const char *s, uint8_t out[SIG_LEN])
{
	unsigned char bin[SIG_B64_LEN / 4 * 3], back[SIG_B64_LEN + 1];
	int n, pad = 0;

	n = EVP_DecodeBlock(bin, (const unsigned char *)s, SIG_B64_LEN);
	if (n != (int)sizeof(bin))
		return "bad base64";
	while (pad < 2 && s[SIG_B64_LEN - 1 - pad] == '=')
		pad++;
	if (n - pad != SIG_LEN)
		return "the signature is not 64 bytes";
	EVP_EncodeBlock(back, bin, SIG_LEN);
	if (memcmp(back, s, SIG_B64_LEN) != 0)
		return "bad base64";
	memcpy(out, bin, SIG_LEN);
	return NULL;
}

/* Finds and parses the header line; on success *body is the payload. */
static int parse_header(const char *what, const char *b, size_t len,
			struct header *h, size_t *body,
			enum img_sig_error *why, struct ni_err *e)
{
	size_t lim = len < IMG_SIG_HEADER_MAX ? len : IMG_SIG_HEADER_MAX;
	const char *nl, *bad;

	if (len == 0)
		return malformed(what, "empty file", why, e);
	if (memcmp(b, IMG_SIG_MAGIC, len < MAGIC_LEN ? len : MAGIC_LEN) != 0) {
		if (len >= 14 && memcmp(b, "netimg-signed-", 14) == 0)
			return malformed(what, "unknown version", why, e);
		ni_err_set(e, NI_EINVAL, "%s: not signed", what);
		return refuse(IMG_SIG_UNSIGNED, why);
	}
	nl = memchr(b, '\n', lim);
	if (nl == NULL)
		return malformed(what, lim < IMG_SIG_HEADER_MAX ? "truncated" :
				 "no end of line", why, e);
	if ((size_t)(nl - b) != LINE_LEN)
		return malformed(what, "wrong length", why, e);
	if (b[MAGIC_LEN] != ' ' || b[SIG_AT - 1] != ' ')
		return malformed(what, "fields not separated by one space",
				 why, e);
	if (parse_fpr(b + FPR_AT, h->fpr) != 0)
		return malformed(what, "the key fingerprint is not 64 "
				 "lowercase hex digits", why, e);
	bad = parse_sig(b + SIG_AT, h->sig);
	if (bad != NULL)
		return malformed(what, bad, why, e);
	*body = LINE_LEN + 1;
	return 0;
}

static int verify_raw(EVP_PKEY *pub, const uint8_t sig[SIG_LEN],
		      const void *msg, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (ctx == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, SIG_LEN, msg_ptr(msg), len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int img_open_signed(EVP_PKEY *pub, const char *what, const void *buf,
		    size_t len, const void **payload, size_t *payload_len,
		    enum img_sig_error *why, struct ni_err *e)
{
	uint8_t fpr[IMG_KEY_FPR_LEN];
	char got[FPR_HEX_LEN + 1], want[FPR_HEX_LEN + 1];
	struct header h;
	size_t body = 0;
	int ret;

	*payload = NULL;
	*payload_len = 0;
	if (why != NULL)
		*why = IMG_SIG_OK;
	if (!img_key_is_ed25519(pub) || img_key_fingerprint(pub, fpr) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: the key to verify with is "
				  "not an Ed25519 key", what);
	ret = parse_header(what, buf, len, &h, &body, why, e);
	if (ret != 0)
		return ret;
	if (memcmp(h.fpr, fpr, sizeof(fpr)) != 0) {
		ni_hex(h.fpr, sizeof(h.fpr), got);
		ni_hex(fpr, sizeof(fpr), want);
		ni_err_set(e, NI_EINVAL, "%s: signed by another key "
			   "(fingerprint %s, expected %s)", what, got, want);
		return refuse(IMG_SIG_OTHER_KEY, why);
	}
	if (!verify_raw(pub, h.sig, (const char *)buf + body, len - body)) {
		ni_err_set(e, NI_EINVAL, "%s: bad signature (tampered)", what);
		return refuse(IMG_SIG_BAD, why);
	}
	*payload = (const char *)buf + body;
	*payload_len = len - body;
	return 0;
}
