#!/bin/bash
# The client against real servers (issue 4, "Proof" and "Bad input").
# 1. The same versions, show, history, fetch and verify against `netimg
#    serve`, Debian's nginx with docs/nginx-repo.conf, and nginx as a
#    caching proxy (docs/nginx-cache.conf) in front of netimg serve, each
#    with a down mirror listed first; images compared with the originals.
# 2. Proxies: the caching tier serves packs again from its cache, while
#    pointers and the list of versions pass through fresh; an HTTP forward
#    proxy (tinyproxy, from http_proxy as libcurl reads it) carries fetches,
#    and its log shows it did.
# 3. Every bad input against a real server (netimg serve and nginx over the
#    same tampered copies; tests/tools/badhttpd.pl for what they never do):
#    each fails with one line naming the file or URL, the lines are distinct,
#    and nothing is written (an earlier output file stays as it was).
source "$(dirname "$0")/../lib.sh"
command -v nginx >/dev/null || skip_all "nginx is not installed (make deps-test)"
command -v tinyproxy >/dev/null || skip_all "tinyproxy is not installed (make deps-test)"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export NETIMG_CONFIG=$T/no-client.conf   # never the machine's /etc/netimg/client.conf
touch "$NETIMG_CONFIG"
plan 113

R=$T/repo
K=$R/repo.pub
BB=$CACHE/busybox-base.tar
# mk V: builds bb@V (busybox with /etc/release saying V) and publishes it.
mk() {
	mkdir -p "$T/root$1" && tar -xf "$BB" -C "$T/root$1" && echo "release $1" >"$T/root$1/etc/release" &&
		printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' \
			"$1" "$T/root$1" >"$T/bb$1.ini" &&
		"$NETIMG" build -q "$T/bb$1.ini" -o "$T/bb$1.sqfs" >/dev/null &&
		"$NETIMG" publish --repo "$R" "$T/bb$1.sqfs" >/dev/null
}
bail() { echo "Bail out! $*"; exit 1; }
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null || bail "init"
mk 1 && mk 2 || bail "cannot build and publish the test images"
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null || bail "point"
HEX='[0-9a-f]{64}'
sha() { sha256sum <"$1" | cut -d' ' -f1; }
# count FILE REGEX: lines of a log matching REGEX.
count() { grep -Ec -- "$2" "$1"; }

# The bad copies of part 3 are served by the same servers' kind, from one
# folder: $T/site/public/CASE/ is a whole public/ folder, tampered one way.
S=$T/site/public
mkdir -p "$S"
P1=$(jget "$R/public/locations/bb/1.json" '$d->{packs}[$d->{runs}[0][0]]')
IDX1=indexes/$(basename "$(idx_file "$R/public" bb 1)")
test -f "$R/public/packs/$P1.pack" -a -f "$R/public/$IDX1" || bail "no pack or index for bb@1"
for c in good chunk manifest index pointer otherkey truncman truncpack nopack; do
	cp -a "$R/public" "$S/$c"
done
flip() { # FILE OFFSET: flips one byte
	perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!"; binmode $f; seek($f, $ARGV[1], 0);
		read($f, my $b, 1); seek($f, $ARGV[1], 0); print $f chr(ord($b) ^ 0xff)' "$1" "$2"
}
flip "$S/chunk/packs/$P1.pack" 100000
perl -0777 -pi -e 's/"bb"/"bx"/' "$S/manifest/versions/bb/1.json"
flip "$S/index/$IDX1" 100
perl -0777 -pi -e 's/"bb\@1"/"bb\@2"/' "$S/pointer/channels/stable.json"
truncate -s 400 "$S/truncman/versions/bb/1.json"
truncate -s 500000 "$S/truncpack/packs/$P1.pack"
rm "$S/nopack/packs/$P1.pack"
# A pointer signed by another repository's key, for the same versions.
O=$T/other
"$NETIMG" init --repo "$O" >/dev/null && "$NETIMG" keygen --repo "$O" >/dev/null &&
	cp -a "$R/public/versions" "$R/public/indexes" "$R/public/locations" "$R/public/packs" "$O/public/" &&
	"$NETIMG" point --repo "$O" stable bb@1 >/dev/null &&
	cp "$O/public/channels/stable.json" "$S/otherkey/channels/stable.json" || bail "the other key's pointer"

# Servers.
serve_repo "$R"; SERVE=$URL; SERVE_ACCESS=$SERVE_LOG
serve_nginx "$R" || bail "nginx did not start"
NGINX=$URL; NGINX_ACCESS=$NGINX_LOG
cache_nginx "$SERVE" || bail "the caching nginx did not start"
CACHED=$URL; CACHE_ACCESS=$NGINX_LOG
DOWN=http://127.0.0.1:$(free_port)/
# badhttpd over the good copy: BH misbehaves on every file (by the path's
# first segment), BHP only on packs.
badhttpd() {
	local out=$T/.bh.$RANDOM i
	perl "$TOP/tests/tools/badhttpd.pl" --root "$S/good" --lifetime 300 "$@" >"$out" 2>&1 &
	BG_PIDS+=($!)
	for i in $(seq 100); do grep -q '^[0-9][0-9]*$' "$out" 2>/dev/null && break; sleep 0.1; done
	grep -q '^[0-9][0-9]*$' "$out" || bail "badhttpd did not start: $(cat "$out")"
	BHURL=http://127.0.0.1:$(cat "$out")/
}
badhttpd; BH=$BHURL
badhttpd --only '\.pack$'; BHP=$BHURL

# A stalling server costs the client 4 x 10 s (libcurl's low-speed limit
# of 1 KiB/s for 10 s, and 3 retries) for each file: both stall cases run
# now, in the background, for 60 s at most, and are checked at the end.
mkdir -p "$T/stall1" "$T/stall2"
echo old >"$T/stall1/keep.sqfs"
stalljob() { # N MIRRORS
	timeout 60 "$NETIMG" fetch --repo "$2" --key "$K" --state "$T/st-stall$1" bb@1 \
		-o "$T/stall$1/keep.sqfs" >"$T/stall$1.out" 2>"$T/stall$1.err"
	echo $? >"$T/stall$1.rc"
}
stalljob 1 "${BH}stall/" &
BG_PIDS+=($!)
stalljob 2 "${BH}stall/,$SERVE" &
BG_PIDS+=($!)

# --- 1. the same client tests against each server -----------------------
# client NAME URL: versions, show, history, fetch CHANNEL and NAME@VERSION,
# verify, with the down mirror first.
client() {
	local name=$1 m="$DOWN,$2" st=$T/state-$1 out
	local opts=(--repo "$m" --key "$K" --state "$st")
	is "$("$NETIMG" versions "${opts[@]}" 2>&1 | cut -f1 | tr '\n' ' ')" "bb@1 bb@2 " "$name: versions"
	is "$("$NETIMG" show "${opts[@]}" --json bb@2 2>&1 | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{image}{sha256}')" \
		"$(sha "$T/bb2.sqfs")" "$name: show --json bb@2 gives the image's SHA-256"
	like "$("$NETIMG" history "${opts[@]}" stable 2>&1)" '^\* serial 1 +bb@1 ' "$name: history stable"
	out=$("$NETIMG" fetch "${opts[@]}" stable -o "$T/$name-stable.sqfs" 2>&1)
	like "$out" "^channel stable: serial 1, bb@1\$" "$name: fetch stable"
	ok "$name: ... the image is bb@1, byte for byte" cmp "$T/$name-stable.sqfs" "$T/bb1.sqfs"
	ok "$name: fetch bb@2, byte for byte" sh -c \
		"\"\$0\" fetch --repo '$m' --key '$K' bb@2 -o '$T/$name-2.sqfs' && cmp '$T/$name-2.sqfs' '$T/bb2.sqfs'" "$NETIMG"
	is "$("$NETIMG" verify --repo "$2" --key "$K" 2>&1 | grep -c '^bb@[12]: ok (signature, index and [0-9]* chunks verified)$')" 2 \
		"$name: verify checks both versions"
	out=$("$NETIMG" verify "${opts[@]}" 2>&1)
	is "$(printf '%s\n' "$out" | grep -c '^bb@[12]: ok (signature, index and [0-9]* chunks verified)$')" 2 \
		"$name: verify, the down mirror first"
}
client serve "$SERVE"
client nginx "$NGINX"
client cache "$CACHED"
n=$(count "$NGINX_ACCESS" "^GET /packs/$P1\\.pack 206 [0-9]+ bytes=[0-9]+-[0-9]+ ")
ok "nginx served bb@1's pack as ranges (206) to two fetches and two verifies ($n)" test "$n" -ge 4
is "$(grep '^GET /packs/' "$NGINX_ACCESS" | cut -d' ' -f3 | sort -u)" 206 "nginx: every pack request was a range (206)"
is "$(count "$NGINX_ACCESS" "^GET /channels/stable\\.json 200 ")" 2 "nginx served the pointer (history, fetch)"

# --- 2. proxies ------------------------------------------------------------
# The caching tier: packs come from its cache the second time.
origin_packs=$(count "$SERVE_ACCESS" '"GET /packs/')
ok "cache: bb@2 again through the cache, byte for byte" sh -c \
	"\"\$0\" fetch --repo '$CACHED' --key '$K' bb@2 -o '$T/cache-2b.sqfs' && cmp '$T/cache-2b.sqfs' '$T/bb2.sqfs'" "$NETIMG"
is "$(count "$SERVE_ACCESS" '"GET /packs/')" "$origin_packs" "cache: ... no pack request reached the origin"
like "$(grep '^GET /packs/' "$CACHE_ACCESS" | tail -1)" ' 206 .* HIT$' "cache: ... the cache log says HIT"
like "$(grep '^GET /packs/' "$CACHE_ACCESS" | head -1)" ' 206 .* MISS$' "cache: the first pack request was a MISS"
# A rollout and a new version are seen through the cache at once.
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
out=$("$NETIMG" fetch --repo "$CACHED" --key "$K" --state "$T/state-cache" stable -o "$T/cache-stable2.sqfs" 2>&1)
like "$out" "^channel stable: serial 2, bb@2\$" "cache: a rollout is seen through the cache at once (pointers are no-cache)"
ok "cache: ... the image is bb@2" cmp "$T/cache-stable2.sqfs" "$T/bb2.sqfs"
mk 3 || bail "bb@3"
is "$("$NETIMG" versions --repo "$CACHED" --key "$K" 2>&1 | cut -f1 | tr '\n' ' ')" "bb@1 bb@2 bb@3 " \
	"cache: a new version is listed through the cache at once (versions/index.json is no-cache)"
ok "cache: bb@3 through the cache, byte for byte" sh -c \
	"\"\$0\" fetch --repo '$CACHED' --key '$K' bb@3 -o '$T/cache-3.sqfs' && cmp '$T/cache-3.sqfs' '$T/bb3.sqfs'" "$NETIMG"
# An HTTP forward proxy, from http_proxy.
forward_proxy || bail "tinyproxy did not start"
out=$(http_proxy=$PROXY "$NETIMG" fetch --repo "$DOWN,$NGINX" --key "$K" --state "$T/state-proxy" stable \
	-o "$T/proxy.sqfs" 2>&1)
like "$out" "^channel stable: serial 2, bb@2\$" "forward proxy: fetch stable from nginx through http_proxy"
ok "forward proxy: ... byte for byte" cmp "$T/proxy.sqfs" "$T/bb2.sqfs"
ok "forward proxy: its log shows the pack requests" \
	grep -Eq "Request \(file descriptor [0-9]+\): GET ${NGINX}packs/$HEX\\.pack HTTP/1\\.1" "$PROXY_LOG"
ok "forward proxy: ... and the pointer's" grep -q "GET ${NGINX}channels/stable\\.json HTTP" "$PROXY_LOG"
out=$(http_proxy=$PROXY "$NETIMG" fetch --repo "$CACHED" --key "$K" bb@3 -o "$T/proxy-cache.sqfs" 2>&1)
ok "client -> forward proxy -> caching nginx -> netimg serve: bb@3, byte for byte" \
	sh -c "grep -q 'GET ${CACHED}versions/bb/3\\.json' '$PROXY_LOG' && cmp '$T/proxy-cache.sqfs' '$T/bb3.sqfs'"

# --- 3. bad input -------------------------------------------------------------
serve_repo "$T/site"; BADSERVE=$URL
serve_nginx "$T/site" || bail "nginx over the bad copies did not start"
BADNGINX=$URL
mkdir -p "$T/out"
ERRS=$T/errs
# bad NAME PATTERN MIRRORS SPEC [STATE]: fetch SPEC from MIRRORS fails with
# one stderr line matching PATTERN; the earlier output file is untouched and
# nothing else is left beside it. The line goes to $ERRS.
bad() {
	local name=$1 pat=$2 mirrors=$3 spec=$4 st=${5:-$T/st-bad}
	echo old >"$T/out/keep.sqfs"
	fails "$name" "$pat" "$NETIMG" fetch --repo "$mirrors" --key "$K" --state "$st" "$spec" -o "$T/out/keep.sqfs"
	printf '%s\t%s\n' "$name" "$(head -1 "$T/.ferr")" >>"$ERRS"
	is "$(cat "$T/out/keep.sqfs") $(ls -A "$T/out" | tr '\n' ' ')" "old keep.sqfs " "... the output untouched, nothing left beside it"
}
for srv in serve nginx; do
	[ $srv = serve ] && U=$BADSERVE || U=$BADNGINX
	: >"$ERRS"
	bad "$srv: a tampered chunk (a pack byte flipped)" \
		"^netimg: ${U}chunk/packs/$P1\\.pack: bytes [0-9]+-[0-9]+: bb@1: chunk at image offset [0-9]+ \\(pack [0-9a-f]{16}\\.\\.\\.\\): hash mismatch \\(tampered\\)\$" "${U}chunk/" bb@1
	rm -f "$T/new.sqfs"
	"$NETIMG" fetch --repo "${U}chunk/" --key "$K" bb@1 -o "$T/new.sqfs" 2>/dev/null
	ok "$srv: ... no output file is made" test ! -e "$T/new.sqfs"
	fails "$srv: verify names the tampered chunk's pack" \
		"^netimg: ${U}chunk/packs/$P1\\.pack: bytes [0-9]+-[0-9]+: bb@1: chunk at image offset [0-9]+ \\(pack [0-9a-f]{16}\\.\\.\\.\\): hash mismatch \\(tampered\\)\$" \
		"$NETIMG" verify --repo "${U}chunk/" --key "$K" bb@1
	bad "$srv: a tampered manifest" \
		'^netimg: versions/bb/1\.json: bad signature \(tampered\)$' "${U}manifest/" bb@1
	bad "$srv: a tampered manifest, reached by its channel" \
		'^netimg: bb@1: versions/bb/1.json: the manifest is not the one the channel pointer names$' "${U}manifest/" stable
	bad "$srv: a tampered chunk index" \
		"^netimg: bb@1: indexes/$HEX\\.bin: hash mismatch \\(tampered; the manifest names [0-9a-f]{16}\\.\\.\\.\\)\$" \
		"${U}index/" bb@1
	bad "$srv: a tampered pointer" \
		'^netimg: channels/stable\.json: bad signature \(tampered\)$' "${U}pointer/" stable "$T/st-ptr-$srv"
	bad "$srv: a pointer signed by another repository's key" \
		"^netimg: channels/stable\\.json: signed by another key \\(fingerprint $HEX, expected $HEX\\)\$" \
		"${U}otherkey/" stable "$T/st-ptr-$srv"
	is "$(find "$T/st-ptr-$srv" -type f 2>/dev/null | wc -l)" 0 "$srv: nothing of the refused pointers went into the state"
	# (Replayed and expired pointers: tests/t/76-pointers.t.)
	bad "$srv: a truncated pack" \
		"^netimg: ${U}truncpack/packs/$P1\\.pack: bytes 0-[0-9]+: wrong length/range: Content-Range 'bytes 0-499999/500000' for bytes 0-[0-9]+\$" \
		"${U}truncpack/" bb@1
	bad "$srv: a pack the server does not have (404)" \
		"^netimg: packs/$P1\\.pack: not found on any mirror \\(1 tried\\)\$" "${U}nopack/" bb@1
	bad "$srv: a version the server does not have (404)" '^netimg: bb@9: no such version$' "${U}good/" bb@9
	bad "$srv: a channel the server does not have (404)" '^netimg: channels/nope\.json: no such channel \(give a CHANNEL or NAME@VERSION\)$' "${U}good/" nope
	# Each error its own: the lines differ once the server's address is
	# taken out.
	n=$(wc -l <"$ERRS")
	is "$(cut -f2 "$ERRS" | sed -E 's|http://127\.0\.0\.1:[0-9]+/[a-z]+/||' | sort -u | wc -l)" "$n" \
		"$srv: the $n errors are distinct"
	# A file truncated at the origin cannot be told from a tampered one:
	# its signature fails the same way.
	bad "$srv: a truncated manifest (its signature fails, as for a tampered one)" \
		'^netimg: versions/bb/1\.json: bad signature \(tampered\)$' "${U}truncman/" bb@1
	# Failover: a bad mirror first, a good one second.
	ok "$srv: a tampered pack on the first mirror, a good second: fetched, byte for byte" sh -c \
		"\"\$0\" fetch --repo '${U}chunk/,${U}good/' --key '$K' bb@1 -o '$T/fo.sqfs' && cmp '$T/fo.sqfs' '$T/bb1.sqfs'" "$NETIMG"
	ok "$srv: a tampered manifest on the first mirror, a good second: fetched" \
		"$NETIMG" fetch --repo "${U}manifest/,${U}good/" --key "$K" bb@1 -o "$T/fo.sqfs"
	ok "$srv: a tampered chunk index on the first mirror, a good second: fetched" \
		"$NETIMG" fetch --repo "${U}index/,${U}good/" --key "$K" bb@1 -o "$T/fo.sqfs"
	ok "$srv: a tampered pointer on the first mirror, a good second: fetched" \
		"$NETIMG" fetch --repo "${U}pointer/,${U}good/" --key "$K" --state "$T/st-fo" stable -o "$T/fo.sqfs"
	TODO=
done

# What netimg serve and nginx never do: badhttpd.
: >"$ERRS"
bad "a server answering 500 (retried, then given up)" \
	"^netimg: ${BH}500/versions/bb/1\\.json: server error 500 \\(after 4 attempts on 1 mirror\\)\$" "${BH}500/" bb@1
bad "a short body (less than its Content-Length)" \
	"^netimg: ${BH}short/versions/bb/1\\.json: truncated: got [0-9]+ of [0-9]+ bytes \\(after 4 attempts on 1 mirror\\)\$" \
	"${BH}short/" bb@1
rm -f "$T/new.sqfs"
"$NETIMG" fetch --repo "${BHP}short/" --key "$K" bb@1 -o "$T/new.sqfs" 2>/dev/null
ok "... a short pack body: no output file is made" test ! -e "$T/new.sqfs"
bad "a wrong Content-Length (half the range's length)" \
	"^netimg: ${BHP}long/packs/$P1\\.pack: bytes 0-[0-9]+: wrong length/range: got [0-9]+ of [0-9]+ bytes\$" \
	"${BHP}long/" bb@1
bad "the only mirror down" \
	"^netimg: ${DOWN}versions/bb/1\\.json: mirror down: connection refused \\(after 4 attempts on 1 mirror\\)\$" \
	"$DOWN" bb@1
# The stalls, started at the beginning (at most 60 s each).
for i in $(seq 700); do [ -s "$T/stall1.rc" ] && [ -s "$T/stall2.rc" ] && break; sleep 0.1; done
fails "a stalling server" \
	"^netimg: ${BH}stall/versions/bb/1\\.json: stalled: under 1024 bytes/s for 10 s \\(after 4 attempts on 1 mirror\\)\$" \
	sh -c 'cat "$1" >&2; exit "$(cat "$2")"' _ "$T/stall1.err" "$T/stall1.rc"
printf '%s\t%s\n' stall "$(head -1 "$T/stall1.err")" >>"$ERRS"
is "$(cat "$T/stall1/keep.sqfs") $(ls -A "$T/stall1" | tr '\n' ' ')" "old keep.sqfs " "... the output untouched, nothing left beside it"
TODO="cache/fetch: a stalling first mirror costs 40 s for each file (not skipped once seen stalling)"
ok "a stalling mirror first, a good one second: fetched within 60 s, byte for byte" cmp "$T/stall2/keep.sqfs" "$T/bb1.sqfs"
[ -s "$T/stall2.err" ] && sed 's/^/#   /' "$T/stall2.err" | head -3
TODO=
n=$(wc -l <"$ERRS")
is "$(cut -f2 "$ERRS" | sed -E 's|http://127\.0\.0\.1:[0-9]+/[a-z0-9]*/?||' | sort -u | wc -l)" "$n" \
	"the $n errors of misbehaving servers are distinct"
done_testing
