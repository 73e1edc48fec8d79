#!/bin/bash
# netimg keygen: the repository's Ed25519 key pair, its file modes, its
# fingerprint as openssl computes it, and refusing to overwrite a key.
# (Signatures themselves, and their cross-check with `openssl pkeyutl`,
# are tested in tests/unit/test_sign.c.)
source "$(dirname "$0")/../lib.sh"
command -v openssl >/dev/null || skip_all "no openssl command"

R=$T/repo
mkdir "$R"
# fpr FILE: the SHA-256 of the DER SubjectPublicKeyInfo, as openssl sees it.
fpr() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

plan 30

# --- a new key ---------------------------------------------------------------
out=$("$NETIMG" keygen --repo "$R" 2>"$T/err"); rc=$?
is "$rc" 0 "keygen exits 0"
ok "keygen prints nothing on stderr" test ! -s "$T/err"
like "$out" "^key: $R/private/repo.key
public key: $R/repo.pub
fingerprint: SHA256:[0-9a-f]{64}$" "keygen prints the key, the public key and the fingerprint"
is "$(stat -c %a "$R/private/repo.key")" 600 "the private key is mode 0600"
is "$(stat -c %a "$R/private")" 700 "private/ is mode 0700"
is "$(stat -c %a "$R/repo.pub")" 644 "repo.pub is mode 0644"
ok "the public key is outside private/ and public/" test ! -e "$R/public/repo.pub"
is "$(head -1 "$R/repo.pub")" "-----BEGIN PUBLIC KEY-----" "repo.pub is a PEM SubjectPublicKeyInfo"
is "$(head -1 "$R/private/repo.key")" "-----BEGIN PRIVATE KEY-----" "repo.key is PEM PKCS#8, unencrypted"
ok "openssl accepts repo.pub" openssl pkey -pubin -in "$R/repo.pub" -noout
like "$(openssl pkey -pubin -in "$R/repo.pub" -text -noout)" "^ED25519 Public-Key" "the key is Ed25519"
like "$(openssl pkey -in "$R/private/repo.key" -text -noout)" "^ED25519 Private-Key" "the private key is Ed25519"
is "$(openssl pkey -in "$R/private/repo.key" -pubout)" "$(cat "$R/repo.pub")" "repo.pub is repo.key's public half"
f1=$(fpr "$R/repo.pub")
is "${out##*SHA256:}" "$f1" "the printed fingerprint is sha256 of the DER public key"
ok "no temporary files are left" test -z "$(find "$R" -name '*.tmp.*')"

# --- an existing key is kept -------------------------------------------------
cp "$R/private/repo.key" "$T/key.before"
cp "$R/repo.pub" "$T/pub.before"
fails "a second keygen refuses" \
	"^netimg: $R/private/repo.key: the repository already has a key \(--force replaces it\)$" \
	"$NETIMG" keygen --repo "$R"
"$NETIMG" keygen --repo "$R" >/dev/null 2>&1; rc=$?
is "$rc" 1 "refusing exits 1"
ok "the refused keygen left the key alone" cmp "$R/private/repo.key" "$T/key.before"
ok "the refused keygen left repo.pub alone" cmp "$R/repo.pub" "$T/pub.before"

# --- --force replaces it -------------------------------------------------------
out=$("$NETIMG" keygen --force --repo "$R"); rc=$?
is "$rc" 0 "keygen --force exits 0"
f2=$(fpr "$R/repo.pub")
ok "--force made a new key" test "$f2" != "$f1"
is "${out##*SHA256:}" "$f2" "--force prints the new fingerprint"
is "$(stat -c %a "$R/private/repo.key") $(stat -c %a "$R/repo.pub")" "600 644" \
	"--force keeps the modes"

# --- any existing folder will do; a missing one will not -----------------------
mkdir -p "$T/other/private"
chmod 755 "$T/other/private"
ok "keygen in a folder whose private/ exists" "$NETIMG" keygen --repo "$T/other/"
ok "the key is in the existing private/" test -s "$T/other/private/repo.key"
fails "a missing folder" "^netimg: $T/nowhere: no such folder$" "$NETIMG" keygen --repo "$T/nowhere"
ok "nothing was created for a missing folder" test ! -e "$T/nowhere"
echo x >"$T/file"
fails "a file is not a folder" "^netimg: $T/file: not a folder$" "$NETIMG" keygen --repo "$T/file"

# --- usage -------------------------------------------------------------------
"$NETIMG" keygen >/dev/null 2>"$T/err"; rc=$?
is "$rc $(cat "$T/err")" "2 netimg keygen: missing --repo (see 'netimg keygen --help')" \
	"keygen without --repo is a usage error"
"$NETIMG" keygen --repo "$R" extra >/dev/null 2>"$T/err"; rc=$?
is "$rc" 2 "an extra argument is a usage error"

done_testing
