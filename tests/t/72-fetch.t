#!/bin/bash
# Fetching (cache/fetch): mirrors and failover, counted retries, each way a
# server or the network can misbehave giving its own error and nothing
# unverified, ranges in parallel, connection reuse, HTTP proxies. Against
# tests/tools/badhttpd.pl (two instances, bounded lifetimes) and a closed
# port, through tests/tools/fetchtool.c, compiled here.
source "$(dirname "$0")/../lib.sh"
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
PKGS="libcurl openssl jansson libarchive libsquashfs1 inih zlib libmicrohttpd"
pkg-config --exists $PKGS 2>/dev/null || skip_all "development packages missing (make deps)"
command -v cc >/dev/null || skip_all "no C compiler"

# fetchtool: from the sources with ASan when the suite runs the ASan build
# (linking build-asan's objects is awkward), else against build/libnetimg.a.
build_tool() {
	local flags="-std=gnu11 -g -I$TOP -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64"
	case $NETIMG in
	*build-asan*)
		cc $flags -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
			"$TOP/tests/tools/fetchtool.c" "$TOP"/cache/fetch*.c "$TOP"/common/*.c \
			$(pkg-config --cflags --libs $PKGS) -pthread -o "$T/fetchtool" ;;
	*)
		cc $flags -O2 "$TOP/tests/tools/fetchtool.c" "$TOP/build/libnetimg.a" \
			$(pkg-config --cflags --libs $PKGS) -pthread -o "$T/fetchtool" ;;
	esac
}
build_tool >"$T/cc.log" 2>&1 || { echo "1..0 # SKIP fetchtool does not build"; sed 's/^/# /' "$T/cc.log" | head -20; exit 0; }

plan 75

PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; cleanup' EXIT

# serve NAME [ARGS]: starts badhttpd on a free port (for 300 s at most),
# logging to $T/NAME.log; sets PORT.
serve() {
	local name=$1 i; shift
	perl "$TOP/tests/tools/badhttpd.pl" --root "$T/root" --lifetime 300 \
		--log "$T/$name.log" "$@" >"$T/$name.port" 2>"$T/$name.err" &
	PIDS="$PIDS $!"
	for i in $(seq 100); do
		grep -q '^[0-9][0-9]*$' "$T/$name.port" 2>/dev/null && break
		sleep 0.1
	done
	PORT=$(cat "$T/$name.port")
	[ -n "$PORT" ] || { echo "Bail out! badhttpd did not start: $(cat "$T/$name.err")"; exit 1; }
	: >"$T/$name.log"
}

mkdir -p "$T/root/sub"
echo hello >"$T/root/hello.txt"
echo spaced >"$T/root/sub/a b.txt"
head -c 1000 /dev/urandom >"$T/root/small.bin"
head -c 10485760 /dev/urandom >"$T/root/big.bin"
cp "$T/root/small.bin" "$T/root/small2.bin"
BIGSHA=$(sha256sum "$T/root/big.bin" | cut -d' ' -f1)

serve a; A=http://127.0.0.1:$PORT
serve b; B=http://127.0.0.1:$PORT
DOWN=http://127.0.0.1:$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')

ft() { timeout 60 "$T/fetchtool" "$@"; }
# count LOG PATTERN: requests in a server's log whose target matches.
count() { awk -v p="$2" '$3 ~ p' "$T/$1.log" | wc -l | tr -d ' '; }
# conns LOG PATTERN: connections (child processes) those requests came on.
conns() { awk -v p="$2" '$3 ~ p { print $1 }' "$T/$1.log" | sort -u | wc -l | tr -d ' '; }
reset_logs() { : >"$T/a.log"; : >"$T/b.log"; }
ms() { date +%s%3N; }

# Whole files from a good mirror.
out=$(ft -m "$A/" get hello.txt -o "$T/o1" 2>&1)
like "$out" '^ok 6 mirror=0 attempts=1 status=200 etag="6-[0-9]+" lm=[A-Z][a-z][a-z], ' "get: a small file, its ETag and Last-Modified"
ok "get: the body is the file" cmp "$T/o1" "$T/root/hello.txt"
ETAG=$(printf '%s' "$out" | sed -n 's/.*etag=\("[^"]*"\).*/\1/p')
out=$(ft -m "$A" get "sub/a b.txt" -o "$T/o2" 2>&1)
like "$out" '^ok 7 ' "get: a base without its slash and a path with a space (percent-encoded)"
ok "get: that body too" cmp "$T/o2" "$T/root/sub/a b.txt"
out=$(ft -m "$A/" -e "$ETAG" get hello.txt 2>&1)
like "$out" "^not-modified mirror=0 attempts=1 etag=$ETAG\$" "get: If-None-Match with the current ETag gives 304, no body"
out=$(ft -m "$A/" -e '"0-0"' get hello.txt 2>&1)
like "$out" '^ok 6 ' "get: If-None-Match with an old ETag gives the body"
t0=$(ms)
out=$(ft -m "$A/" -s "$BIGSHA" get big.bin -o "$T/o3" 2>&1)
t1=$(ms)
like "$out" '^ok 10485760 mirror=0 attempts=1 ' "get: 10 MB with its SHA-256 checked"
ok "get: the 10 MB body is the file" cmp "$T/o3" "$T/root/big.bin"
case $NETIMG in *build-asan*) how="with ASan" ;; *) how="-O2" ;; esac
echo "# 10 MB in $((t1 - t0)) ms (fetchtool $how, perl server)"
reset_logs
out=$(ft -m "$A/" -n 5 get hello.txt 2>&1)
is "$(count a /hello.txt):$(conns a /hello.txt)" "5:1" "get: five fetches by one fetcher share one connection"

# Every way to fail, each with its own line; nothing is written.
fails "get: a wrong SHA-256 is refused" \
	"^fetchtool: $A/big.bin: hash mismatch: got $BIGSHA, want 0{64} \[hash mismatch\]\$" \
	ft -m "$A/" -s "$(printf '%064d' 0)" get big.bin -o "$T/bad1"
ok "get: nothing written after a hash mismatch" test ! -e "$T/bad1"
reset_logs
fails "get: 404 on the only mirror" \
	'^fetchtool: hello.txt: not found on any mirror \(1 tried\) \[not found\]$' \
	ft -m "$A/404/" -b 1 get hello.txt
is "$(count a /404/hello.txt)" 1 "get: a 404 is not retried"
fails "get: 404 on every mirror" \
	'^fetchtool: hello.txt: not found on any mirror \(2 tried\) \[not found\]$' \
	ft -m "$A/404/" -m "$B/404/" get hello.txt
fails "get: a file no mirror has" 'missing.txt: not found on any mirror \(2 tried\)' \
	ft -m "$A/" -m "$B" get missing.txt
reset_logs
fails "get: server error 500, retried, then given up" \
	"^fetchtool: $A/500/hello.txt: server error 500 \(after 3 attempts on 1 mirror\) \[input/output error\]\$" \
	ft -m "$A/500/" -r 2 -b 10 get hello.txt -o "$T/bad2"
is "$(count a /500/hello.txt)" 3 "get: 1 + 2 retries = 3 requests logged"
ok "get: nothing written after a 500" test ! -e "$T/bad2"
fails "get: a mirror down" \
	"^fetchtool: $DOWN/hello.txt: mirror down: connection refused \(after 2 attempts on 1 mirror\)" \
	ft -m "$DOWN" -r 1 -b 10 get hello.txt
fails "get: truncated body (short of its Content-Length)" \
	"^fetchtool: $A/short/big.bin: truncated: got 5242880 of 10485760 bytes \(after 2 attempts on 1 mirror\) \[input/output error\]\$" \
	ft -m "$A/short/" -r 1 -b 10 get big.bin -o "$T/bad3"
ok "get: nothing written after a truncated body" test ! -e "$T/bad3"
t0=$(ms)
fails "get: a stalled transfer" \
	"^fetchtool: $A/stall/small.bin: stalled: under 1024 bytes/s for 1 s \[input/output error\]\$" \
	ft -m "$A/stall/" -r 0 -L 1024:1 get small.bin
t1=$(ms)
ok "get: the stall was noticed within 5 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
fails "get: a connection reset without an answer" \
	"^fetchtool: $A/reset/hello.txt: connection (reset|closed)" \
	ft -m "$A/reset/" -r 0 get hello.txt
fails "get: over the size cap (Content-Length)" \
	"^fetchtool: $A/big.bin: too large: 10485760 bytes, over the limit of 1000000 \[invalid input\]\$" \
	ft -m "$A/" -x 1000000 get big.bin -o "$T/bad4"
ok "get: nothing written over the cap" test ! -e "$T/bad4"
fails "get: over the size cap (chunked, no Content-Length)" \
	"^fetchtool: $A/chunked/big.bin: too large: more than the limit of 1000000 bytes \[invalid input\]\$" \
	ft -m "$A/chunked/" -x 1000000 get big.bin
out=$(ft -m "$A/chunked/" -s "$BIGSHA" get big.bin 2>&1)
like "$out" '^ok 10485760 ' "get: a chunked body of unknown length grows to 10 MB"
out=$(ft -m "$A/" -x 10485760 get big.bin 2>&1)
like "$out" '^ok 10485760 ' "get: a body exactly at the cap is fine"
t0=$(ms)
fails "get: the call's deadline" \
	'^fetchtool: small.bin: deadline of 1500 ms exceeded \[input/output error\]$' \
	ft -m "$A/stall/" -L 0:0 -d 1500 get small.bin
t1=$(ms)
ok "get: the deadline held ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
fails "get: a mirror that is not http(s)" '^fetchtool: ftp://x/: not an http:// or https:// URL' \
	ft -m "ftp://x/" get hello.txt

# Failover and retries.
reset_logs
out=$(ft -m "$DOWN/" -m "$A/500/" -m "$B/" -r 1 -b 10 get hello.txt 2>&1)
like "$out" '^ok 6 mirror=2 attempts=4 ' "failover: down (skipped at once), then 500, then a good mirror"
is "$(count a /500/hello.txt):$(count b /hello.txt)" "2:1" "failover: 2 attempts on the 500 mirror, 1 on the good one"
out=$(ft -m "$A/404/" -m "$B/" get hello.txt 2>&1)
like "$out" '^ok 6 mirror=1 attempts=2 ' "failover: 404, then a mirror that has it"
fails "failover: the last error and the count of mirrors tried" \
	"^fetchtool: $A/500/hello.txt: server error 500 \(after 3 attempts on 2 mirrors\) \[input/output error\]\$" \
	ft -m "$DOWN" -m "$A/500/" -r 1 -b 10 get hello.txt
fails "failover: a mirror down and one answering 404 is 'not found' (mirrors answer for one repository), naming the failure too" \
	"^fetchtool: hello.txt: not found \(1 mirror answered 404; last other error: $DOWN/hello.txt: mirror down: connection refused\) \[not found\]" \
	ft -m "$DOWN" -m "$A/404/" -r 0 get hello.txt
reset_logs
out=$(ft -m "$A/flaky/" -r 3 -b 10 get hello.txt 2>&1)
like "$out" '^ok 6 mirror=0 attempts=3 ' "retries: two 500s, then the body"
is "$(count a /flaky/hello.txt)" 3 "retries: three requests logged"
t0=$(ms)
fails "retries: backoff doubles (50+100+200 ms)" 'server error 500 \(after 4 attempts' \
	ft -m "$A/500/" -r 3 -b 50 get small.bin
t1=$(ms)
ok "retries: the backoff was waited ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 350

# Ranges.
reset_logs
out=$(ft -m "$A/" -p 4 -v "$T/root/big.bin" -o "$T/r1" ranges big.bin chunks:65536:10485760 2>&1)
is "$out" "ok 160 ranges 10485760 bytes" "ranges: 160 ranges of 64 KiB, each checked by the sink"
ok "ranges: reassembled, they are the file" cmp "$T/r1" "$T/root/big.bin"
is "$(count a /big.bin)" 160 "ranges: one request per range"
n=$(conns a /big.bin)
ok "ranges: in parallel on 2..4 connections ($n)" test "$n" -ge 2 -a "$n" -le 4
out=$(ft -m "$A/" -v "$T/root/big.bin" ranges big.bin 0+1,5000+100,10485659+101 2>&1)
is "$out" "ok 3 ranges 202 bytes" "ranges: a byte, a middle and the very end"
fails "ranges: past the end of the file (a shorter Content-Range)" \
	"^fetchtool: $A/big.bin: bytes 10485700-10485799: wrong length/range: Content-Range 'bytes 10485700-10485759/10485760' for bytes 10485700-10485799 \[invalid input\]\$" \
	ft -m "$A/" ranges big.bin 10485700+100
fails "ranges: a 200 with the whole file" \
	"^fetchtool: $A/fullrange/big.bin: bytes 0-99: wrong length/range: whole file \(HTTP 200\) instead of bytes 0-99 \[invalid input\]\$" \
	ft -m "$A/fullrange/" ranges big.bin 0+100
fails "ranges: a 206 for other bytes" \
	"^fetchtool: $A/badrange/big.bin: bytes 0-99: wrong length/range: Content-Range 'bytes 1-100/10485760' for bytes 0-99" \
	ft -m "$A/badrange/" ranges big.bin 0+100
reset_logs
out=$(ft -m "$A/badrange/" -m "$B/" -v "$T/root/big.bin" ranges big.bin 0+100,100+100 2>&1)
is "$out" "ok 2 ranges 200 bytes" "ranges: a wrong Range answer fails over to the next mirror"
is "$(count a /badrange/big.bin):$(count b /big.bin)" "2:2" "ranges: not retried on the wrong mirror"
fails "ranges: the sink rejects corrupt data" \
	"^fetchtool: $A/corrupt/big.bin: bytes 0-99: rejected: hash mismatch \[hash mismatch\]\$" \
	ft -m "$A/corrupt/" -v "$T/root/big.bin" ranges big.bin 0+100
reset_logs
out=$(ft -m "$A/corrupt/" -m "$B/" -p 4 -v "$T/root/big.bin" -o "$T/r2" ranges big.bin chunks:1048576:10485760 2>&1)
is "$out" "ok 10 ranges 10485760 bytes" "ranges: each rejected range comes again from the next mirror"
is "$(count a /corrupt/big.bin):$(count b /big.bin)" "10:10" "ranges: once from each mirror"
ok "ranges: and the result is the file" cmp "$T/r2" "$T/root/big.bin"
reset_logs
out=$(ft -m "$DOWN" -m "$A/500/" -m "$B/" -r 1 -b 10 -p 2 -v "$T/root/small.bin" ranges small.bin chunks:100:1000 2>&1)
is "$out" "ok 10 ranges 1000 bytes" "ranges: past a down mirror and a 500 mirror"
is "$(count a /500/small.bin):$(count b /small.bin)" "20:10" "ranges: two attempts each on the 500 mirror"
fails "ranges: a range no mirror has" 'small.bin: not found on any mirror \(2 tried\)' \
	ft -m "$A/404/" -m "$B/404/" ranges small.bin 0+10

# A dead mirror listed first costs one attempt per operation, not retries
# per request: seen down once, it is skipped (with -r 3 and the old
# behaviour, each fetch would try it 4 times).
out=$(ft -m "$DOWN" -m "$B/" -r 3 -b 10 -n 5 -Q get hello.txt 2>&1 | tail -n 1)
is "$out" "requests 1 5" "dead mirror: 5 fetches, 1 attempt on the dead mirror"
out=$(ft -m "$DOWN" -m "$B/" -r 3 -b 10 -p 1 -S -Q -v "$T/root/small.bin" ranges small.bin chunks:100:1000 2>&1)
is "$out" "ok 10 ranges 1000 bytes
requests 1 10" "dead mirror: 10 ranges one at a time, 1 attempt on the dead mirror"
out=$(ft -m "$DOWN" -m "$B/" -r 3 -b 10 -p 4 -Q -v "$T/root/small.bin" ranges small.bin chunks:100:1000 2>&1 | tail -n 1)
n=$(echo "$out" | cut -d' ' -f2)
ok "dead mirror: 10 ranges 4 at a time, at most 4 attempts on it ($out)" test "$n" -ge 1 -a "$n" -le 4
out=$(ft -m "$DOWN" -r 2 -b 10 -Q get hello.txt 2>&1 | tail -n 1)
is "$out" "requests 3" "dead mirror: alone, it is still retried (it may be restarting)"

# Streamed ranges: bytes handed over as they arrive, an attempt that fails
# half-way or is rejected starts again at 0 (the sink checks both).
reset_logs
out=$(ft -m "$A/" -p 4 -S -v "$T/root/big.bin" -o "$T/s1" ranges big.bin chunks:1048576:10485760 2>&1)
is "$out" "ok 10 ranges 10485760 bytes" "stream: 10 ranges of 1 MiB"
ok "stream: reassembled, they are the file" cmp "$T/s1" "$T/root/big.bin"
reset_logs
out=$(ft -m "$A/short/" -m "$B/" -r 1 -b 10 -p 4 -S -v "$T/root/big.bin" -o "$T/s2" ranges big.bin chunks:1048576:10485760 2>&1)
is "$out" "ok 10 ranges 10485760 bytes" "stream: cut short twice on one mirror, each range starts again on the next"
ok "stream: and the result is the file" cmp "$T/s2" "$T/root/big.bin"
is "$(count a /short/big.bin):$(count b /big.bin)" "20:10" "stream: 2 attempts each on the short mirror, 1 on the good one"
reset_logs
out=$(ft -m "$A/corrupt/" -m "$B/" -p 4 -S -v "$T/root/big.bin" -o "$T/s3" ranges big.bin chunks:1048576:10485760 2>&1)
is "$out" "ok 10 ranges 10485760 bytes" "stream: each rejected range comes again from the next mirror"
ok "stream: and the result is the file" cmp "$T/s3" "$T/root/big.bin"
reset_logs
fails "stream: the sink's own failure stops the call, in its words" \
	'^fetchtool: disk full \[no space left on device\]$' \
	ft -m "$A/" -m "$B/" -S -F ranges big.bin 0+100000
is "$(count a /big.bin):$(count b /big.bin)" "1:0" "stream: ... with no retry and no other mirror"

# Proxies, from the environment as libcurl reads it.
reset_logs
out=$(http_proxy=http://127.0.0.1:${A##*:} ft -m http://mirror.invalid/ get small2.bin -o "$T/p1" 2>&1)
like "$out" '^ok 1000 ' "proxy: http_proxy carries the request"
is "$(count a '^http://mirror.invalid/small2.bin$')" 1 "proxy: the proxy saw the absolute URI"
out=$(http_proxy=$DOWN no_proxy=127.0.0.1 ft -m "$B/" get hello.txt 2>&1)
like "$out" '^ok 6 ' "proxy: no_proxy bypasses it"
fails "proxy: a proxy that is down fails the fetch" 'connection refused' \
	env http_proxy="$DOWN" timeout 60 "$T/fetchtool" -m http://mirror.invalid/ -r 0 get hello.txt

done_testing
