# tests/lib.sh: a tiny TAP library for the shell integration tests.
# Source it from a tests/t/*.t script; prove runs those scripts.
#   plan N; ok COND_CMD... ; is GOT WANT NAME; fails_with PATTERN NAME -- CMD...
set -u
NETIMG=${NETIMG:-$(cd "$(dirname "$0")/../.." && pwd)/build/netimg}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${NETIMG_CACHE:-$TOP/.cache}
_n=0
_failed=0
T=$(mktemp -d /tmp/netimg-test.XXXXXX)
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

plan() { echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
# TODO=REASON before a check marks it as a known defect (TAP "# TODO"): its
# failure does not fail the script, and prove reports it when it passes.
TODO=
_result() {
	_n=$((_n + 1))
	local todo=${TODO:+ # TODO $TODO}
	if [ "$1" = 0 ]; then echo "ok $_n - $2$todo"
	else echo "not ok $_n - $2$todo"; [ -n "$todo" ] || _failed=$((_failed + 1)); fi
}
# ok NAME CMD...: passes when CMD exits 0.
ok() { local name=$1; shift; "$@" >"$T/.out" 2>&1; local rc=$?; _result $rc "$name"; [ $rc = 0 ] || sed 's/^/# /' "$T/.out" | head -20; return 0; }
# is GOT WANT NAME
is() { if [ "$1" = "$2" ]; then _result 0 "$3"; else _result 1 "$3"; echo "#   got: '$1'"; echo "#  want: '$2'"; fi; }
# like TEXT REGEX NAME
like() { if printf '%s' "$1" | grep -Eq -- "$2"; then _result 0 "$3"; else _result 1 "$3"; echo "#   got: '$1'"; echo "#  want match: '$2'"; fi; }
# fails NAME PATTERN CMD...: CMD must exit non-zero and print a line matching
# PATTERN on stderr; the stderr must be exactly one line.
fails() {
	local name=$1 pat=$2; shift 2
	"$@" >"$T/.fout" 2>"$T/.ferr"; local rc=$?
	local lines; lines=$(wc -l <"$T/.ferr")
	if [ $rc != 0 ] && grep -Eq -- "$pat" "$T/.ferr" && [ "$lines" = 1 ]; then
		_result 0 "$name"
	else
		_result 1 "$name"; echo "#   rc=$rc lines=$lines want /$pat/"; sed 's/^/#   stderr: /' "$T/.ferr" | head -5
	fi
}
# jget FILE PERL-EXPR: a value of a JSON file ($d is the decoded data).
jget() {
	perl -MJSON::PP -e '
		local $/; open(my $f, "<", $ARGV[0]) or die "$ARGV[0]: $!";
		my $d = decode_json(<$f>); my $r = eval $ARGV[1]; die $@ if $@;
		print defined $r ? $r : "null";' "$1" "$2"
}
# idx_chunks INDEX-FILE: a chunk index (format 2, binary) as lines
# "OFFSET LENGTH SHA256", in image order.
idx_chunks() {
	perl -e '
		local $/; open(my $f, "<:raw", $ARGV[0]) or die "$ARGV[0]: $!"; my $d = <$f>;
		substr($d, 0, 16) eq "netimg-index-v2\n" or die "$ARGV[0]: not a chunk index\n";
		my ($n, $p, $off) = (unpack("Q<", substr($d, 56, 8)), 64, 0);
		for (1 .. $n) {
			my ($v, $s, $b) = (0, 0);
			do { $b = ord(substr($d, $p++, 1)); $v |= ($b & 0x7f) << $s; $s += 7 } while ($b & 0x80);
			print "$off $v ", unpack("H64", substr($d, $p, 32)), "\n";
			$p += 32; $off += $v;
		}' "$1"
}
# idx_file PUBLIC NAME VERSION: the path of NAME@VERSION's chunk index.
idx_file() {
	echo "$1/indexes/$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die "$ARGV[0]: $!";
		my $m = <$f>; $m =~ s/^[^\n]*\n//; print decode_json($m)->{index}{sha256}' "$1/versions/$2/$3.json").bin"
}
# loc_packs PUBLIC NAME VERSION: the packs NAME@VERSION's location file
# names, one a line.
loc_packs() { jget "$1/locations/$2/$3.json" 'join "\n", @{$d->{packs}}'; }
# ver_chunks PUBLIC NAME VERSION: NAME@VERSION's chunks, from its index
# and location file, as lines "IMAGE-OFFSET LENGTH SHA256 PACK PACK-OFFSET".
ver_chunks() {
	idx_chunks "$(idx_file "$1" "$2" "$3")" | perl -MJSON::PP -e '
		local $/; open(my $f, "<", $ARGV[0]) or die "$ARGV[0]: $!"; my $l = decode_json(<$f>);
		$/ = "\n"; my @c = map { [split] } <STDIN>; my $i = 0;
		for my $r (@{$l->{runs}}) {
			my ($p, $off, $n) = @$r;
			for (1 .. $n) { my $c = $c[$i++]; print "@$c[0 .. 2] $l->{packs}[$p] $off\n"; $off += $c->[1] }
		}' "$1/locations/$2/$3.json"
}
# serve_repo DIR: starts `netimg serve` on DIR (a free port on 127.0.0.1,
# stopped by cleanup) and sets URL to its address and SERVE_LOG to its
# access log (and stderr).
serve_repo() {
	local out=$T/.serve.$RANDOM i
	SERVE_LOG=$out.log
	"$NETIMG" serve --repo "$1" --listen 127.0.0.1:0 >"$out" 2>"$SERVE_LOG" &
	BG_PIDS+=($!)
	for i in $(seq 50); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
	URL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$out")
}
# free_port: a port of 127.0.0.1 that was free a moment ago (tests of other
# worktrees run at once: a server started on it may find it taken).
free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}
# nginx_start SITE.in: runs Debian's nginx (no daemon, one worker, stopped
# by cleanup) with the server block SITE.in, its "@PORT@" replaced by a free
# port (up to 5 tries when another process takes it first). Everything of
# nginx's (configuration, pid, logs, temporary folders) lives in SITE.in's
# folder; its access log is $NGINX_LOG, one line a request:
#   METHOD URI STATUS BODY-BYTES RANGE CACHE-STATUS   ("-" when none)
# When run as root, the workers run as nobody: what they serve must be
# world-readable (the folders above it in $T are made traversable).
# Sets NGINX_PORT and NGINX_LOG; fails with a line on stderr.
nginx_start() {
	local n try pid i port user=
	n=$(cd "$(dirname "$1")" && pwd)
	command -v nginx >/dev/null || { echo "nginx_start: nginx is not installed" >&2; return 1; }
	[ "$(id -u)" = 0 ] && user="user nobody $(id -gn nobody);" && chmod o+x "$T" "$n"
	mkdir -p "$n/tmp"
	for try in 1 2 3 4 5; do
		port=$(free_port)
		sed "s/@PORT@/$port/g" "$1" >"$n/site.conf"
		cat >"$n/nginx.conf" <<-EOF
		$user
		daemon off;
		worker_processes 1;
		pid $n/nginx.pid;
		lock_file $n/nginx.lock;
		error_log $n/error.log;
		events { worker_connections 256; }
		http {
		    log_format netimg '\$request_method \$request_uri \$status \$body_bytes_sent \$http_range \$upstream_cache_status';
		    access_log $n/access.log netimg;
		    client_body_temp_path $n/tmp/body;
		    proxy_temp_path $n/tmp/proxy;
		    fastcgi_temp_path $n/tmp/fastcgi;
		    uwsgi_temp_path $n/tmp/uwsgi;
		    scgi_temp_path $n/tmp/scgi;
		    include $n/site.conf;
		}
		EOF
		rm -f "$n/nginx.pid"
		nginx -e "$n/error.log" -p "$n" -c "$n/nginx.conf" 2>>"$n/error.log" &
		pid=$!
		# The pid file is written once the port is bound.
		for i in $(seq 100); do
			[ -s "$n/nginx.pid" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if [ -s "$n/nginx.pid" ] && kill -0 "$pid" 2>/dev/null; then
			BG_PIDS+=("$pid")
			NGINX_PORT=$port NGINX_LOG=$n/access.log
			return 0
		fi
		kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
		grep -q 'Address already in use' "$n/error.log" || break
	done
	echo "nginx_start: nginx did not start: $(grep emerg "$n/error.log" | tail -1)" >&2
	return 1
}
# serve_nginx DIR: serves DIR/public with nginx and the sample configuration
# docs/nginx-repo.conf, only its listen and root lines changed (see
# nginx_start); sets URL to its address, like serve_repo.
serve_nginx() {
	local dir n
	dir=$(cd "$1" && pwd) || return 1
	n=$(mktemp -d "$T/.nginx.XXXXXX")
	sed -e 's|^\([[:space:]]*\)listen [^;]*;|\1listen 127.0.0.1:@PORT@;|' \
		-e "s|^\\([[:space:]]*\\)root [^;]*;|\\1root $dir/public;|" \
		"$TOP/docs/nginx-repo.conf" >"$n/site.in"
	grep -q '^[[:space:]]*listen 127.0.0.1:@PORT@;' "$n/site.in" && grep -q "^[[:space:]]*root $dir/public;" "$n/site.in" ||
		{ echo "serve_nginx: docs/nginx-repo.conf has no listen or root line to set" >&2; return 1; }
	[ "$(id -u)" = 0 ] && _traversable "$dir/public"
	nginx_start "$n/site.in" || return 1
	URL=http://127.0.0.1:$NGINX_PORT/
}
# cache_nginx ORIGIN-URL: a caching proxy in front of ORIGIN-URL, with
# nginx and the sample configuration docs/nginx-cache.conf, only its
# listen, proxy_pass and proxy_cache_path lines changed (the cache in $T;
# see nginx_start). Sets URL to its address.
cache_nginx() {
	local origin=${1%/} n
	n=$(mktemp -d "$T/.nginx.XXXXXX")
	sed -e 's|^\([[:space:]]*\)listen [^;]*;|\1listen 127.0.0.1:@PORT@;|' \
		-e "s|^\\([[:space:]]*\\)proxy_pass [^;]*;|\\1proxy_pass $origin;|" \
		-e "s|^proxy_cache_path [^ ]* |proxy_cache_path $n/cache |" \
		"$TOP/docs/nginx-cache.conf" >"$n/site.in"
	grep -q '^[[:space:]]*listen 127.0.0.1:@PORT@;' "$n/site.in" &&
		grep -q "^[[:space:]]*proxy_pass $origin;" "$n/site.in" &&
		grep -q "^proxy_cache_path $n/cache " "$n/site.in" ||
		{ echo "cache_nginx: docs/nginx-cache.conf has no listen, proxy_pass or proxy_cache_path line to set" >&2; return 1; }
	nginx_start "$n/site.in" || return 1
	URL=http://127.0.0.1:$NGINX_PORT/
}
# forward_proxy: starts tinyproxy (Debian's tinyproxy-bin), an HTTP forward
# proxy, on a free port of 127.0.0.1 (up to 5 tries), stopped by cleanup.
# Sets PROXY (its URL, for http_proxy) and PROXY_LOG, where each request
# shows as "Request (file descriptor N): GET http://HOST:PORT/PATH HTTP/1.1".
forward_proxy() {
	local n try port pid i
	command -v tinyproxy >/dev/null || { echo "forward_proxy: tinyproxy is not installed" >&2; return 1; }
	n=$(mktemp -d "$T/.tinyproxy.XXXXXX")
	for try in 1 2 3 4 5; do
		port=$(free_port)
		: >"$n/log"
		cat >"$n/tinyproxy.conf" <<-EOF
		Port $port
		Listen 127.0.0.1
		Timeout 60
		LogFile "$n/log"
		LogLevel Info
		MaxClients 64
		Allow 127.0.0.1
		DisableViaHeader Yes
		EOF
		tinyproxy -d -c "$n/tinyproxy.conf" >"$n/out" 2>&1 &
		pid=$!
		# Bounded wait until it listens, or exits.
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			grep -q 'Accepting connections' "$n/log" && break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null && grep -q 'Accepting connections' "$n/log"; then
			BG_PIDS+=("$pid")
			PROXY=http://127.0.0.1:$port PROXY_LOG=$n/log
			return 0
		fi
		wait "$pid" 2>/dev/null
	done
	echo "forward_proxy: tinyproxy did not start: $(tail -1 "$n/out")" >&2
	return 1
}
# _traversable PATH: o+x on PATH's folders below $T (as a web server's user
# needs them).
_traversable() {
	local p=$1
	while [ "$p" != "$T" ] && [ "${p#"$T"/}" != "$p" ]; do
		[ -d "$p" ] && chmod o+x "$p"
		p=$(dirname "$p")
	done
}
done_testing() { echo "# $_n tests, $_failed failed"; [ $_failed = 0 ]; exit $?; }
