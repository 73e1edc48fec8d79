#!/bin/bash
# netimg versions and show: from a folder and over HTTP (netimg serve, with
# a dead mirror first), every manifest verified: tampering, another key,
# a missing version and a URL without --key are refused.
. "$(dirname "$0")/../lib.sh"
plan 16
R=$T/repo
BB=$CACHE/busybox-base.tar

mk() {
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$1" "$BB" >"$T/bb-$1.ini"
	"$NETIMG" build -q "$T/bb-$1.ini" -o "$T/bb-$1.sqfs" && "$NETIMG" publish --repo "$R" "$T/bb-$1.sqfs" >/dev/null
}
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
ok "two versions published" sh -c "$(declare -f mk); NETIMG='$NETIMG' T='$T' BB='$BB' R='$R'; mk 1 && mk 2"

out=$("$NETIMG" versions --repo "$R" 2>&1)
like "$out" "^bb@1	.*0 patches" "versions lists bb@1 (folder, its repo.pub)"
like "$out" "bb@2	" "... and bb@2"
like "$("$NETIMG" show --repo "$R" bb@2 2>&1)" "image: [0-9]+ bytes, sha256 $(sha256sum <"$T/bb-2.sqfs" | cut -d' ' -f1)" \
	"show names the image's SHA-256"
fails "show of a missing version" "bb@9: no such version" "$NETIMG" show --repo "$R" bb@9
fails "show of a name that is neither NAME@VERSION nor a channel" "channels/bb.json: no such channel \(give a CHANNEL or NAME@VERSION\)" "$NETIMG" show --repo "$R" bb

# over HTTP, through netimg serve, with a dead mirror listed first
serve_repo "$R"
DEAD=http://127.0.0.1:9/
fails "a URL without --key is refused" "give the repository's public key with --key" \
	"$NETIMG" versions --repo "$URL"
like "$("$NETIMG" versions --repo "$DEAD,$URL" --key "$R/repo.pub" 2>&1)" "bb@1.*bb@2|bb@2" \
	"versions over HTTP, failing over from a dead mirror"
is "$("$NETIMG" show --repo "$URL" --key "$R/repo.pub" --json bb@1 | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{image}{sha256}')" \
	"$(sha256sum <"$T/bb-1.sqfs" | cut -d' ' -f1)" "show --json over HTTP"

# another key
mkdir -p "$T/other"
"$NETIMG" keygen --repo "$T/other" >/dev/null
fails "a manifest checked with another key is refused" "signed by another key" \
	"$NETIMG" show --repo "$URL" --key "$T/other/repo.pub" bb@1
fails "versions with another key fails too" "signed by another key" \
	"$NETIMG" versions --repo "$R" --key "$T/other/repo.pub"

# tampering: one byte of the payload, then the signature line
M=$R/public/versions/bb/1.json
cp "$M" "$T/m.good"
perl -0777 -pi -e 's/"bb"/"bc"/' "$M"
fails "a tampered manifest is refused (folder)" "bad signature" "$NETIMG" show --repo "$R" bb@1
fails "a tampered manifest is refused (HTTP)" "bad signature" "$NETIMG" show --repo "$URL" --key "$R/repo.pub" bb@1
tail -n +2 "$T/m.good" >"$M"
fails "an unsigned manifest is refused" "not signed" "$NETIMG" show --repo "$R" bb@1
cp "$T/m.good" "$M"
ok "the restored manifest verifies again" "$NETIMG" show --repo "$R" bb@1
fails "a folder that is not a repository" "not a repository" "$NETIMG" versions --repo "$T/other/nothing"
done_testing
