#!/bin/bash
# netimg serve: the HTTP server of a repository's public/ folder, checked
# with curl against a real server on a free port: bodies, HEAD, ranges,
# validators and conditional requests, caching headers, refused paths
# (escapes by "..", by encoded "..", by symlinks), 100 concurrent clients,
# a rename during a download, the access log, and how it starts and stops.
source "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null || skip_all "curl is not installed"

R=$T/repo
P=$R/public
mkdir -p "$P/channels" "$P/sub" "$R/private"
head -c 3000000 /dev/urandom >"$P/big.bin"
echo "PRIVATE-KEY-$RANDOM$RANDOM" >"$R/private/key"
SECRET=$(cat "$R/private/key")
echo '{"name":"baseline","versions":[1,2]}' >"$P/index.json"
echo '{"version":"1.0"}' >"$P/channels/x.json"
echo '#!ipxe' >"$P/boot.ipxe"
echo 'untrusted comment: netimg public key' >"$P/netimg.pub"
echo '{"deep":true}' >"$P/sub/deep.json"
: >"$P/empty.bin"
ln -s /etc/passwd "$P/passwd"
ln -s ../private/key "$P/key"
ln -s ../private "$P/priv"
ln -s index.json "$P/alias.json"
mkfifo "$P/fifo"

PIDS=()
stop_servers() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	cleanup
}
trap stop_servers EXIT

# start NAME [VAR=VALUE...]: starts a server on a free port in the
# background, its stdout and stderr in $T/NAME.out and .err; sets SPID and
# PORT once the first stdout line names the port (at most 10 s).
start() {
	local name=$1; shift
	env "$@" "$NETIMG" serve --repo "$R" --listen 127.0.0.1:0 \
		>"$T/$name.out" 2>"$T/$name.err" &
	SPID=$!
	PIDS+=("$SPID")
	timeout 10 bash -c 'until grep -q "^serving" "$1"; do sleep 0.05; done' _ "$T/$name.out"
	PORT=$(sed -n '1s|^serving .* on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p' "$T/$name.out")
}
# running PID: true while PID runs (an exited child not yet waited for is a
# zombie, which kill -0 still finds).
running() {
	local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}
# reap PID: waits at most 10 s for PID to end; RC is its exit status, or
# "hung" (and then it is killed).
reap() {
	local i
	for i in $(seq 100); do running "$1" || break; sleep 0.1; done
	if running "$1"; then
		kill -KILL "$1"; wait "$1"; RC=hung
	else
		wait "$1"; RC=$?
	fi
}
# stop PID SIGNAL: signals the server and reaps it.
stop() { kill "-$2" "$1"; reap "$1"; }

# c ARGS...: curl, one request, counted for the access-log check.
c() { echo >>"$T/nreq"; curl -s --max-time 10 "$@"; }
# get PATH [CURL-ARGS...]: requests $U/PATH; the status in CODE, the
# headers in $T/hdr, the body in $T/body.
get() {
	local path=$1; shift
	: >"$T/body" # curl leaves the file alone when no body comes
	CODE=$(c -D "$T/hdr" -o "$T/body" -w '%{http_code}' "$@" "$U$path")
}
# hdr NAME: the value of a header of the last response.
hdr() { grep -i "^$1:" "$T/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# no_secret NAME: the last body holds neither the private key nor passwd.
no_secret() {
	if grep -qF -e "$SECRET" -e "root:" "$T/body"; then _result 1 "$1"; else _result 0 "$1"; fi
}

plan 111

start main
like "$(head -1 "$T/main.out")" "^serving $R/public on http://127\.0\.0\.1:[0-9]+/\$" \
	"the first stdout line names the folder and the chosen port"
U=http://127.0.0.1:$PORT

# --- GET and HEAD ---------------------------------------------------------
get /big.bin
is "$CODE" 200 "GET of a file: 200"
ok "GET: the body is the file" cmp "$P/big.bin" "$T/body"
is "$(hdr Content-Length)" 3000000 "GET: Content-Length"
is "$(hdr Content-Type)" application/octet-stream "GET: octet-stream for an unknown type"
is "$(hdr Accept-Ranges)" bytes "GET: Accept-Ranges: bytes"
like "$(hdr ETag)" '^"[0-9a-f]+-2dc6c0-[0-9a-f]+"$' "GET: ETag is \"inode-size-mtime\" in hex"
is "$(hdr ETag)" "\"$(printf '%x-%x-%x' "$(stat -c %i "$P/big.bin")" 3000000 \
	"$(($(stat -c %Y "$P/big.bin") * 1000000000 + 10#$(stat -c %y "$P/big.bin" | sed 's/.*\.\([0-9]*\) .*/\1/')))")\"" \
	"GET: the ETag's fields are the file's"
LM=$(LC_ALL=C date -u -d "@$(stat -c %Y "$P/big.bin")" '+%a, %d %b %Y %H:%M:%S GMT')
is "$(hdr Last-Modified)" "$LM" "GET: Last-Modified is the mtime as an HTTP date"
is "$(hdr Cache-Control)" "public, max-age=31536000, immutable" "GET: published files are immutable"
ETAG=$(hdr ETag)

get /index.json
is "$CODE $(hdr Content-Type)" "200 application/json" ".json is application/json"
ok ".json: the body is the file" cmp "$P/index.json" "$T/body"
get /channels/x.json
is "$(hdr Cache-Control)" no-cache "channels/ are no-cache"
is "$(hdr Content-Type)" application/json "channels/x.json is application/json"
mkdir -p "$P/versions" "$P/locations/bb" && echo '{}' >"$P/versions/index.json" && echo '{}' >"$P/locations/bb/1.json"
get /versions/index.json
is "$CODE $(hdr Cache-Control)" "200 no-cache" "versions/index.json (rewritten by each publish) is no-cache"
get /locations/bb/1.json
is "$CODE $(hdr Cache-Control)" "200 no-cache" "locations/ (rewritten by a repack) are no-cache"
get /boot.ipxe
is "$CODE $(hdr Content-Type) $(hdr Cache-Control)" "200 text/plain no-cache" "boot.ipxe: text/plain, no-cache"
get /netimg.pub
is "$(hdr Content-Type) $(hdr Cache-Control)" "text/plain public, max-age=31536000, immutable" \
	".pub: text/plain, immutable"
get /sub/deep.json
is "$CODE $(cat "$T/body")" '200 {"deep":true}' "a file in a subfolder"
get /sub//./deep.json
is "$CODE" 200 "empty and . components are fine"
get /empty.bin
is "$CODE $(hdr Content-Length) $(wc -c <"$T/body")" "200 0 0" "an empty file"
get /alias.json
is "$CODE" 200 "a symlink that stays inside public/ is followed"
ok "the symlink's body is its target's" cmp "$P/index.json" "$T/body"

get /big.bin -I
is "$CODE $(hdr Content-Length)" "200 3000000" "HEAD: 200 and the file's Content-Length"
is "$(hdr ETag)" "$ETAG" "HEAD: the same ETag"
# HTTP/1.0 by hand: the server closes after the response, so whatever it
# sent after the headers is there to count.
echo >>"$T/nreq"
timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1; printf "HEAD /big.bin HTTP/1.0\r\n\r\n" >&3; cat <&3' _ "$PORT" >"$T/raw"
is "$(perl -0777 -ne 'my @p = split /\r\n\r\n/, $_, 2; print length($p[1] // "x")' "$T/raw")" 0 \
	"HEAD: no body follows the headers"

# --- ranges -----------------------------------------------------------------
get /big.bin -r 0-99
is "$CODE $(hdr Content-Range) $(hdr Content-Length)" "206 bytes 0-99/3000000 100" "Range a-b: 206 with Content-Range"
ok "Range a-b: the bytes" cmp <(head -c 100 "$P/big.bin") "$T/body"
get /big.bin -r 1000000-1999999
ok "Range in the middle: the bytes" cmp <(tail -c +1000001 "$P/big.bin" | head -c 1000000) "$T/body"
get /big.bin -r -500
is "$CODE $(hdr Content-Range)" "206 bytes 2999500-2999999/3000000" "suffix Range -n: the last n bytes"
ok "suffix Range: the bytes" cmp <(tail -c 500 "$P/big.bin") "$T/body"
get /big.bin -r 2999000-
is "$CODE $(hdr Content-Range) $(hdr Content-Length)" "206 bytes 2999000-2999999/3000000 1000" "open Range a-: to the end"
ok "open Range: the bytes" cmp <(tail -c 1000 "$P/big.bin") "$T/body"
get /big.bin -r 2999990-9999999
is "$CODE $(hdr Content-Range)" "206 bytes 2999990-2999999/3000000" "a Range past the end is cut at the end"
get /big.bin -r -9999999
is "$CODE $(hdr Content-Length)" "206 3000000" "a suffix longer than the file is the whole file"
get /big.bin -r 3000000-
is "$CODE $(hdr Content-Range)" "416 bytes */3000000" "a Range after the end: 416 with bytes */SIZE"
get /big.bin -H 'Range: bytes=-0'
is "$CODE" 416 "a suffix of 0 bytes: 416"
get /empty.bin -r 0-
is "$CODE $(hdr Content-Range)" "416 bytes */0" "any Range of an empty file: 416"
get /big.bin -r 0-1,5-6
is "$CODE $(hdr Content-Length)" "200 3000000" "several ranges: the whole file with 200"
get /big.bin -H 'Range: bytes=x-y'
is "$CODE $(hdr Content-Length)" "200 3000000" "a malformed Range is ignored"
get /big.bin -H 'Range: bytes=9-1'
is "$CODE" 200 "a Range with last < first is ignored"
get /big.bin -r 0-9 -H "If-Range: $ETAG"
is "$CODE" 206 "If-Range with the current ETag: the range"
get /big.bin -r 0-9 -H 'If-Range: "other"'
is "$CODE $(hdr Content-Length)" "200 3000000" "If-Range with another ETag: the whole file"
get /big.bin -r 0-9 -H "If-Range: $LM"
is "$CODE" 206 "If-Range with the Last-Modified date: the range"

# --- validators -----------------------------------------------------------
get /big.bin -H "If-None-Match: $ETAG"
is "$CODE $(hdr ETag)" "304 $ETAG" "If-None-Match with the ETag: 304 with the ETag"
is "$(wc -c <"$T/body")" 0 "304: no body"
get /big.bin -H "If-None-Match: \"nope\", W/$ETAG"
is "$CODE" 304 "If-None-Match: a list, a weak tag matches"
get /big.bin -H 'If-None-Match: *'
is "$CODE" 304 "If-None-Match: * matches a file"
get /big.bin -H 'If-None-Match: "nope"'
is "$CODE $(hdr Content-Length)" "200 3000000" "If-None-Match with another tag: 200"
get /big.bin -H "If-Modified-Since: $LM"
is "$CODE" 304 "If-Modified-Since the Last-Modified date: 304"
get /big.bin -H "If-Modified-Since: $(LC_ALL=C date -u -d '+1 day' '+%A, %d-%b-%y %H:%M:%S GMT')"
is "$CODE" 304 "If-Modified-Since in the RFC 850 form"
get /big.bin -H 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT'
is "$CODE" 200 "If-Modified-Since an older date: 200"
get /big.bin -H 'If-Modified-Since: yesterday'
is "$CODE" 200 "a malformed If-Modified-Since is ignored"
get /big.bin -H 'If-None-Match: "nope"' -H "If-Modified-Since: $LM"
is "$CODE" 200 "If-None-Match takes precedence over If-Modified-Since"
get /big.bin -I -H "If-None-Match: $ETAG"
is "$CODE" 304 "HEAD with If-None-Match: 304"

# --- not found, refused -------------------------------------------------------
get /missing.bin
is "$CODE" 404 "a missing file: 404"
get /channels
is "$CODE" 404 "a folder: 404"
get /channels/
is "$CODE" 404 "a folder with a slash: 404, no listing"
get /
is "$CODE" 404 "the root: 404, no listing"
get /index.json/
is "$CODE" 404 "a file with a trailing slash: 404"
get /fifo
is "$CODE" 404 "a FIFO: 404 (and no hang)"
get /../private/key --path-as-is
is "$CODE" 400 "/../private/key: 400"
no_secret "/../private/key: no private content"
get /%2e%2e/private/key --path-as-is
is "$CODE" 400 "/%2e%2e/private/key: 400"
no_secret "/%2e%2e/private/key: no private content"
get /..%2fprivate%2fkey --path-as-is
is "$CODE" 400 "/..%2fprivate%2fkey: 400"
get /sub/../../private/key --path-as-is
is "$CODE" 400 "a .. further down: 400"
no_secret "a .. further down: no private content"
get '/sub%5c..%5c..%5cprivate%5ckey' --path-as-is
is "$CODE" 400 "a backslash: 400"
get /index.json%00.bin
is "$CODE" 400 "a NUL in the path: 400"
get /passwd
is "$CODE" 404 "a symlink to /etc/passwd: 404"
no_secret "the symlink to /etc/passwd: no passwd content"
get /key
is "$CODE" 404 "a symlink to ../private/key: 404"
no_secret "the symlink to ../private/key: no private content"
get /priv/key
is "$CODE" 404 "a path through a symlink to ../private: 404"
no_secret "through the symlink to ../private: no private content"
get /index.json -X POST -d x=1
is "$CODE $(hdr Allow)" "405 GET, HEAD" "POST: 405 with Allow: GET, HEAD"
get /index.json -X DELETE
is "$CODE" 405 "DELETE: 405"

# --- 100 concurrent clients ---------------------------------------------------
seq 200 | sed 's/.*//' >>"$T/nreq"
seq 200 | xargs -P 100 -I{} curl -s --max-time 60 -o /dev/null -A concurrent \
	-w '%{http_code} %{size_download}\n' "$U/big.bin" >"$T/conc" 2>&1
is "$(grep -c '^200 3000000$' "$T/conc")" 200 "100 concurrent clients, 200 GETs: every one 200 with the whole file"

# --- a rename during a download -------------------------------------------------
head -c 24000000 /dev/urandom >"$T/old.bin"
head -c 24000000 /dev/urandom >"$T/new.bin"
cp "$T/old.bin" "$P/channels/stream.bin"
cp "$T/new.bin" "$P/channels/.stream.bin.tmp"
echo >>"$T/nreq"
curl -s --max-time 30 --limit-rate 6M -o "$T/dl.bin" "$U/channels/stream.bin" &
CPID=$!
timeout 10 bash -c 'until [ -s "$1" ]; do sleep 0.02; done' _ "$T/dl.bin"
PARTIAL=$(stat -c %s "$T/dl.bin")
mv "$P/channels/.stream.bin.tmp" "$P/channels/stream.bin"
wait "$CPID"
ok "the rename came during the download ($PARTIAL bytes in)" test "$PARTIAL" -gt 0 -a "$PARTIAL" -lt 24000000
ok "the download is the whole old file, not a mix" cmp "$T/old.bin" "$T/dl.bin"
get /channels/stream.bin
ok "the next GET is the new file" cmp "$T/new.bin" "$T/body"

# --- the access log ---------------------------------------------------------------
get /index.json -A 'evil"agent'
want=$(wc -l <"$T/nreq")
timeout 10 bash -c 'until [ "$(wc -l <"$1")" -ge "$2" ]; do sleep 0.05; done' _ "$T/main.err" "$want"
is "$(wc -l <"$T/main.err")" "$want" "one access-log line per request ($want)"
like "$(grep -m1 '"GET /index.json ' "$T/main.err")" \
	'^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \+0000\] "GET /index\.json HTTP/1\.1" 200 '"$(stat -c %s "$P/index.json")"' "-" "curl/[^"]+"$' \
	"a log line: address, time, request, status, bytes, user agent"
like "$(grep -m1 '"HEAD /big.bin HTTP/1.1"' "$T/main.err")" '" 200 0 "-"' "HEAD is logged with 0 bytes"
like "$(grep -m1 '" 206 100 ' "$T/main.err")" '"GET /big\.bin HTTP/1\.1" 206 100 ' "a range is logged with its bytes"
like "$(grep -m1 'private/key HTTP' "$T/main.err")" '"GET /\.\./private/key HTTP/1\.1" 400 ' "a refused path is logged as sent"
like "$(tail -1 "$T/main.err")" '"evil\\x22agent"$' "quotes in the user agent are escaped"
is "$(grep -c '"GET /big.bin HTTP/1.1" 200 3000000 "-" "concurrent"$' "$T/main.err")" 200 \
	"the 200 concurrent GETs are logged with their status and length"

# --- starting: refusals ---------------------------------------------------------------
"$NETIMG" serve --repo "$R" --listen "127.0.0.1:$PORT" >"$T/busy.out" 2>"$T/busy.err" &
BPID=$!
PIDS+=("$BPID")
reap "$BPID"
is "$RC $(wc -l <"$T/busy.err")" "1 1" "a port in use: exit 1, one stderr line"
like "$(cat "$T/busy.err")" "^netimg: 127\.0\.0\.1:$PORT: cannot listen: Address already in use\$" \
	"a port in use: the line says so"
fails "a folder without public/: refused" "^netimg: $R/public: not a repository \(no public/ folder\)\$" \
	timeout 10 "$NETIMG" serve --repo "$R/public" --listen 127.0.0.1:0
fails "a missing folder: refused" "^netimg: $T/nowhere: No such file or directory\$" \
	timeout 10 "$NETIMG" serve --repo "$T/nowhere" --listen 127.0.0.1:0
# usage NAME PATTERN ARGS...: exit 2, one stderr line matching PATTERN.
usage() {
	local name=$1 pat=$2; shift 2
	timeout 10 "$NETIMG" serve "$@" >"$T/.uout" 2>"$T/.uerr"; local rc=$?
	if [ $rc = 2 ] && [ "$(wc -l <"$T/.uerr")" = 1 ] && grep -Eq -- "$pat" "$T/.uerr"; then
		_result 0 "$name"
	else
		_result 1 "$name"; echo "#   rc=$rc want 2 and /$pat/"; sed 's/^/#   stderr: /' "$T/.uerr" | head -3
	fi
}
usage "no --repo: usage error" "missing --repo" --listen 127.0.0.1:0
usage "a host name is not a listen address" "bad listen address 'localhost:80'" --repo "$R" --listen localhost:80
usage "a port over 65535" "bad listen address '127\.0\.0\.1:65536'" --repo "$R" --listen 127.0.0.1:65536
usage "no port" "bad listen address '127\.0\.0\.1'" --repo "$R" --listen 127.0.0.1
usage "an unbracketed IPv6 address" "bad listen address '::1:80'" --repo "$R" --listen ::1:80
usage "an extra argument" "unexpected argument 'x'" --repo "$R" x
usage "an unknown option" "unknown option '--frob'" --repo "$R" --frob

# --- the path walk of kernels without openat2 ------------------------------------------
start walk NETIMG_SERVE_NO_OPENAT2=1
U=http://127.0.0.1:$PORT
get /sub/deep.json
is "$CODE" 200 "without openat2: a file in a subfolder"
get /big.bin -r 0-9
is "$CODE" 206 "without openat2: a range"
get /alias.json
is "$CODE" 404 "without openat2: every symlink is refused"
get /passwd
is "$CODE" 404 "without openat2: the symlink to /etc/passwd: 404"
no_secret "without openat2: no passwd content"
get /priv/key
is "$CODE" 404 "without openat2: through the symlink to ../private: 404"
no_secret "without openat2: no private content"
stop "$SPID" INT
is "$RC" 0 "SIGINT stops the server with exit 0"

# --- IPv6 -------------------------------------------------------------------------------
if [ -r /proc/net/if_inet6 ] && grep -q '^0*1 ' /proc/net/if_inet6; then
	"$NETIMG" serve --repo "$R" --listen '[::1]:0' >"$T/v6.out" 2>"$T/v6.err" &
	V6PID=$!
	PIDS+=("$V6PID")
	timeout 10 bash -c 'until grep -q "^serving" "$1"; do sleep 0.05; done' _ "$T/v6.out"
	V6PORT=$(sed -n '1s|^serving .* on http://\[::1\]:\([0-9]*\)/$|\1|p' "$T/v6.out")
	is "$(curl -s --max-time 10 "http://[::1]:$V6PORT/index.json")" "$(cat "$P/index.json")" "[::1]:0: serves over IPv6"
	stop "$V6PID" TERM
else
	_result 0 "# SKIP no IPv6 loopback"
fi

# --- SIGTERM ---------------------------------------------------------------------------
stop "${PIDS[0]}" TERM
is "$RC" 0 "SIGTERM stops the server with exit 0"
ok "nothing but log lines on stderr" test -z "$(grep -v '^127\.0\.0\.1 - - \[' "$T/main.err")"

done_testing
