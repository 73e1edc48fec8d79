#!/bin/bash
# The sample nginx configuration, docs/nginx-repo.conf, as serve_nginx runs
# it (Debian's nginx, workers as nobody when run as root) over a published
# repository: GET/HEAD only, ranges, validators, MIME types, caching headers
# per kind of file, no listing, nothing outside public/, no symlinks, no
# temporary files; and a client reading it.
source "$(dirname "$0")/../lib.sh"
command -v nginx >/dev/null || skip_all "nginx is not installed (make deps-test)"
command -v curl >/dev/null || skip_all "curl is not installed"
plan 30
R=$T/repo
P=$R/public
printf '[image]\nname = bb\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' "$CACHE/busybox-base.tar" >"$T/bb.ini"
"$NETIMG" build -q "$T/bb.ini" -o "$T/bb.sqfs"
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
"$NETIMG" publish --repo "$R" "$T/bb.sqfs" >/dev/null
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
PACK=$(cd "$P" && ls packs/*.pack | head -1)
IDX=$(cd "$P" && ls indexes/*.bin | head -1)
echo partial >"$P/packs/x.pack.tmp.AbC123"
echo dot >"$P/.hidden"
mkdir -p "$P/boot" "$P/ipxe/channels"
echo kernel >"$P/boot/$(printf '%064d' 0).vmlinuz"
echo '#!ipxe' >"$P/boot.ipxe"
echo '#!ipxe' >"$P/ipxe/channels/stable.ipxe"
chmod 644 "$P/boot/"* "$P/boot.ipxe" "$P/ipxe/channels/stable.ipxe"
ln -s ../private/repo.key "$P/key"
ln -s "$PACK" "$P/alias.pack"
serve_nginx "$R" || { echo "Bail out! nginx did not start"; exit 1; }
U=$URL

# get PATH [CURL-ARGS...]: the status in CODE, headers in $T/hdr, body in $T/body.
get() {
	local path=$1; shift
	: >"$T/body"
	CODE=$(curl -s --max-time 10 -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$U$path")
}
hdr() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
IMM="public, max-age=31536000, immutable"

get "$PACK"
is "$CODE $(hdr Content-Type)" "200 application/octet-stream" "a pack: 200, application/octet-stream"
ok "... its exact bytes" cmp "$T/body" "$P/$PACK"
is "$(hdr Content-Length) $(hdr Cache-Control)" "$(stat -c %s "$P/$PACK") $IMM" "... its length, immutable"
ETAG=$(hdr ETag)
get "$PACK" -r 1000-1999
is "$CODE $(hdr Content-Range) $(hdr Content-Length)" "206 bytes 1000-1999/$(stat -c %s "$P/$PACK") 1000" "Range: 206, its Content-Range"
ok "... the right bytes" cmp "$T/body" <(tail -c +1001 "$P/$PACK" | head -c 1000)
get "$PACK" -H "If-None-Match: $ETAG"
is "$CODE $(stat -c %s "$T/body")" "304 0" "If-None-Match with its ETag: 304, no body"
out=$(curl -s --max-time 10 -I -o "$T/hdr" -w '%{http_code} %{size_download}' "$U$PACK")
is "$out $(hdr Content-Length)" "200 0 $(stat -c %s "$P/$PACK")" "HEAD: 200, the length, no body"
get "$PACK" -X POST
is "$CODE" 405 "POST: 405"
get "$PACK" -X PUT --data x
is "$CODE" 405 "PUT: 405"
ok "... the pack is untouched" cmp "$P/$PACK" "$T/bb.sqfs"
get "${PACK%.pack}.idx"
is "$CODE $(hdr Cache-Control)" "200 $IMM" "a pack's .idx: immutable"
get "$IDX"
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 application/octet-stream $IMM" "a chunk index (binary): application/octet-stream, immutable"
get versions/bb/1.json
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 application/json $IMM" "a manifest: application/json, immutable"
get versions/index.json
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 application/json no-cache" "versions/index.json: no-cache"
get channels/stable.json
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 application/json no-cache" "a channel pointer: no-cache"
get locations/bb/1.json
is "$CODE $(hdr Cache-Control)" "200 no-cache" "a location file: no-cache"
get "boot/$(printf '%064d' 0).vmlinuz"
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 application/octet-stream $IMM" "a netboot file: immutable"
get boot.ipxe
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 text/plain no-cache" "boot.ipxe: text/plain, no-cache"
get ipxe/channels/stable.ipxe
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 text/plain no-cache" "a channel's iPXE script: text/plain, no-cache"
get repo.json
is "$CODE $(hdr Cache-Control)" "200 no-cache" "repo.json: no-cache"
get packs/
is "$CODE" 404 "a folder: 404, no listing"
get packs
is "$CODE" 404 "a folder without its slash: 404, no redirect"
get ""
is "$CODE" 404 "the root: 404"
get packs/x.pack.tmp.AbC123
is "$CODE" 404 "a writer's temporary file: 404"
get .hidden
is "$CODE" 404 "a dotfile: 404"
get key
like "$CODE" '^40[34]$' "a symlink to the private key: refused ($CODE)"
ok "... and no key in the body" sh -c "! grep -q PRIVATE '$T/body'"
get alias.pack
like "$CODE" '^40[34]$' "a symlink inside public/: not followed ($CODE)"
get ../private/repo.key --path-as-is
like "$CODE" '^40[034]$' "../private: refused ($CODE)"

# a client reads the repository through it
ok "netimg fetch through nginx, byte for byte" sh -c \
	"'$NETIMG' fetch --repo '$U' --key '$R/repo.pub' bb@1 -o '$T/f.sqfs' && cmp '$T/f.sqfs' '$T/bb.sqfs'"
done_testing
