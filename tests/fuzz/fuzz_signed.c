/* fuzz_signed.c: libFuzzer target for the signed-file envelope reader,
 * which reads manifests and channel pointers fetched from mirrors. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

#include "images/sign.h"

static EVP_PKEY *key(void)
{
	static EVP_PKEY *k;

	if (k == NULL) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);

		if (c != NULL && EVP_PKEY_keygen_init(c) == 1)
			EVP_PKEY_keygen(c, &k);
		EVP_PKEY_CTX_free(c);
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum img_sig_error why;
	const void *payload;
	size_t plen;
	struct ni_err e;
	char *signed_buf;
	size_t slen;

	if (key() == NULL)
		return 0;
	img_open_signed(key(), "fuzz", data, size, &payload, &plen, &why, &e);
	/* And a real signature over the input must verify. */
	if (img_sign(key(), data, size, &signed_buf, &slen, &e) == 0) {
		if (img_open_signed(key(), "fuzz", signed_buf, slen, &payload,
				    &plen, &why, &e) != 0 || plen != size)
			abort();
		free(signed_buf);
	}
	return 0;
}
