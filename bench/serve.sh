#!/bin/bash
# bench/serve.sh: the repository over loopback, netimg against the usual
# tools, on the same published minbase image.
#
#   fetch  a full-image fetch from `netimg serve` and from nginx: `netimg
#          fetch` (verify every chunk, write, fsync, rename) against `curl -o`
#          of the same bytes (the one pack holding the whole image) from the
#          same server, with hyperfine. Target: netimg at least 0.5x curl's
#          throughput.
#   load   `netimg serve` against nginx under BENCH_CLIENTS (100) concurrent
#          clients (wrk, keep-alive), on a mix of small files (manifest,
#          channel pointer, versions list) and range requests of real chunks
#          of the pack; also each half alone. Target: netimg serve at least
#          0.5x nginx's requests/s on the mix, with no failed request.
#
# nginx (Debian's, nginx-light) runs as started here, with the sample server
# block docs/nginx-repo.conf (only its listen and root lines changed: a free
# port on 127.0.0.1, the repository's public/), one worker per CPU, an
# access log like netimg serve's and keep-alive connections not recycled
# (keepalive_requests 100000, as netimg serve never recycles them).
#
# The repository is prepared under $BENCH_DIR/serve (default
# /var/tmp/netimg-bench/serve): an image built from the fixture cache's
# minbase.tar (kept while the tar and the binary are unchanged) and a fresh
# repository with it published and a channel pointing at it (every run; it
# takes a second).
#
# Prints a markdown report on stdout (progress on stderr). Knobs: NETIMG,
# NETIMG_BASE (another netimg binary whose fetch is timed too, to compare),
# NETIMG_CACHE, BENCH_DIR, BENCH_RUNS (hyperfine runs, default 10),
# BENCH_CLIENTS (100), BENCH_SECS (seconds per wrk run, 10), BENCH_THREADS
# (wrk threads, 2), BENCH_ROUNDS (wrk rounds, the servers taking turns, 3),
# BENCH_PARTS ("fetch load"), BENCH_SERVERS ("serve nginx").
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${NETIMG_CACHE:-$TOP/.cache}
NETIMG=${NETIMG:-$TOP/build/netimg}
NETIMG_BASE=${NETIMG_BASE:-}
BENCH_DIR=${BENCH_DIR:-/var/tmp/netimg-bench}
BENCH_RUNS=${BENCH_RUNS:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-100}
BENCH_SECS=${BENCH_SECS:-10}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_PARTS=${BENCH_PARTS:-fetch load}
BENCH_SERVERS=${BENCH_SERVERS:-serve nginx}
export LC_ALL=C
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

log() { echo "bench/serve: $*" >&2; }
die() { echo "bench/serve: $*" >&2; exit 1; }

case $NETIMG in /*) ;; *) NETIMG=$PWD/$NETIMG ;; esac
[ -x "$NETIMG" ] || die "no binary at $NETIMG (make)"
for t in curl perl; do
	command -v "$t" >/dev/null || die "$t is not installed (make deps-test)"
done
for p in $BENCH_PARTS; do
	case $p in
	fetch) command -v hyperfine >/dev/null || die "hyperfine is not installed (make deps-test)" ;;
	load) command -v wrk >/dev/null || die "wrk is not installed (make deps-test)" ;;
	*) die "unknown part $p (fetch, load)" ;;
	esac
done
for s in $BENCH_SERVERS; do
	case $s in
	serve) ;;
	nginx) [ -x /usr/sbin/nginx ] || die "nginx is not installed (make deps-test)" ;;
	*) die "unknown server $s (serve, nginx)" ;;
	esac
done

W=$BENCH_DIR/serve
mkdir -p "$W"
W=$(cd "$W" && pwd)
R=$W/repo
RUN=$W/run
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap stop_all EXIT

# ---- the repository ----------------------------------------------------------
prepare() {
	local src=$CACHE/minbase.tar stamp
	[ -f "$src" ] || "$TOP/scripts/prepare-fixtures" >&2
	stamp="$(stat -c '%s %Y' "$src") $(stat -c '%s %Y' "$NETIMG")"
	if [ ! -f "$W/image.ok" ] || [ "$(cat "$W/image.ok")" != "$stamp" ]; then
		log "building the image from $src"
		rm -f "$W/image.ok"
		printf '[image]\nname = minbase\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' \
			"$src" >"$W/recipe.ini"
		"$NETIMG" build -q "$W/recipe.ini" -o "$W/minbase.sqfs" >&2
		echo "$stamp" >"$W/image.ok"
	fi
	log "publishing it into a fresh repository"
	rm -rf "$R" "$RUN"
	mkdir -p "$RUN"
	"$NETIMG" init --repo "$R" >/dev/null
	"$NETIMG" keygen --repo "$R" >/dev/null
	"$NETIMG" publish --repo "$R" "$W/minbase.sqfs" >/dev/null
	"$NETIMG" point --repo "$R" stable minbase@1 --by bench >/dev/null
	IMG_SIZE=$(stat -c %s "$W/minbase.sqfs")
	PACK=$(cd "$R/public/packs" && ls ./*.pack | sed 's|^\./||')
	[ "$(echo "$PACK" | wc -l)" = 1 ] || die "expected one pack in $R/public/packs"
	[ "$(stat -c %s "$R/public/packs/$PACK")" = "$IMG_SIZE" ] ||
		die "the pack is not the image's size: curl would not fetch the same bytes"
}

# ---- servers -------------------------------------------------------------------
free_port() {
	perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		LocalPort => 0, Listen => 1, ReuseAddr => 1)->sockport'
}

wait_port() { # PORT: until it serves repo.json, 10 s at most
	local i
	for i in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$1/repo.json" && return 0
		sleep 0.1
	done
	return 1
}

declare -A URLS SPID
# cpu_ticks NAME: CPU time (user + system, in clock ticks) the server has
# used so far, its worker processes included (nginx).
cpu_ticks() {
	local p t=0
	for p in "${SPID[$1]}" $(ps --ppid "${SPID[$1]}" -o pid= 2>/dev/null); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
# start_server NAME: starts it on a free port; sets URLS[NAME].
start_server() {
	local port
	case $1 in
	serve)
		"$NETIMG" serve --repo "$R" --listen 127.0.0.1:0 >"$RUN/serve.log" 2>"$RUN/serve.err" &
		PIDS+=($!)
		local i
		for i in $(seq 100); do
			grep -q 'http://' "$RUN/serve.log" 2>/dev/null && break
			sleep 0.1
		done
		URL=$(sed -n 's|.*\(http://[^ ]*\)/.*|\1|p' "$RUN/serve.log" | head -n 1)
		port=${URL##*:}
		;;
	nginx)
		port=$(free_port)
		mkdir -p "$RUN/nginx/tmp"
		sed -e 's|^\([[:space:]]*\)listen [^;]*;|\1listen 127.0.0.1:'"$port"';|' \
			-e "s|^\\([[:space:]]*\\)root [^;]*;|\\1root $R/public;|" \
			"$TOP/docs/nginx-repo.conf" >"$RUN/nginx/site.conf"
		grep -q "root $R/public;" "$RUN/nginx/site.conf" ||
			die "docs/nginx-repo.conf has no root line to set"
		cat >"$RUN/nginx/nginx.conf" <<-EOF
		# Written by bench/serve.sh: nginx with the sample server block
		# (docs/nginx-repo.conf, only listen and root changed).
		daemon off;
		worker_processes auto;
		pid $RUN/nginx/nginx.pid;
		error_log $RUN/nginx/error.log;
		events { worker_connections 4096; }
		http {
		    access_log $RUN/nginx/access.log combined;
		    keepalive_requests 100000;
		    client_body_temp_path $RUN/nginx/tmp;
		    proxy_temp_path $RUN/nginx/tmp;
		    fastcgi_temp_path $RUN/nginx/tmp;
		    uwsgi_temp_path $RUN/nginx/tmp;
		    scgi_temp_path $RUN/nginx/tmp;
		    include $RUN/nginx/site.conf;
		}
		EOF
		/usr/sbin/nginx -e "$RUN/nginx/error.log" -c "$RUN/nginx/nginx.conf" 2>"$RUN/nginx/start.err" &
		PIDS+=($!)
		URL=http://127.0.0.1:$port
		;;
	esac
	wait_port "$port" || die "$1 did not serve $R/public/repo.json on port $port (nginx's workers run as nobody: BENCH_DIR must be readable by all)"
	URLS[$1]=$URL
	SPID[$1]=${PIDS[-1]}
	log "$1 on $URL"
}

# ---- fetch -------------------------------------------------------------------
declare -A T_MEAN T_SD T_MED T_CPU
fetch_bench() {
	local s=$1 pub=$R/repo.pub js=$RUN/fetch-$1.json URL=${URLS[$1]}
	local fc="'$NETIMG' fetch --repo $URL/ --key '$pub' minbase@1 -o '$RUN/netimg.sqfs'"
	local cc="curl -sSf -o '$RUN/curl.sqfs' $URL/packs/$PACK"
	local base=()
	[ -z "$NETIMG_BASE" ] ||
		base=(-n base "'$NETIMG_BASE' fetch --repo $URL/ --key '$pub' minbase@1 -o '$RUN/base.sqfs'")
	log "fetch from $s: hyperfine, $BENCH_RUNS runs each"
	hyperfine --style none --warmup 2 --runs "$BENCH_RUNS" --export-json "$js" \
		-n netimg "$fc" -n curl "$cc" "${base[@]}" >"$RUN/fetch-$s.log" 2>&1 ||
		die "hyperfine failed: $(tail -n 3 "$RUN/fetch-$s.log")"
	cmp -s "$RUN/netimg.sqfs" "$W/minbase.sqfs" || die "netimg fetch from $s: wrong bytes"
	cmp -s "$RUN/curl.sqfs" "$W/minbase.sqfs" || die "curl from $s: wrong bytes"
	while read -r name mean sd med cpu; do
		T_MEAN[$s/$name]=$mean
		T_SD[$s/$name]=$sd
		T_MED[$s/$name]=$med
		T_CPU[$s/$name]=$cpu
	done < <(perl -MJSON::PP -e '
		local $/; for my $r (@{decode_json(<STDIN>)->{results}}) {
			printf "%s %.3f %.3f %.3f %.3f\n", $r->{command}, $r->{mean},
				$r->{stddev} // 0, $r->{median}, $r->{user} + $r->{system} }' <"$js")
	rm -f "$RUN/netimg.sqfs" "$RUN/curl.sqfs" "$RUN/base.sqfs"
}

# ---- load --------------------------------------------------------------------
# The Lua script of one mix: small files, chunk ranges of the pack, or both.
write_lua() {
	local mix=$1
	perl -MJSON::PP -e '
		my ($pub, $mix) = @ARGV;
		sub slurp { local $/; open(my $f, "<", $_[0]) or die "$_[0]: $!"; <$f> }
		my $m = slurp("$pub/versions/minbase/1.json");
		$m =~ s/^[^\n]*\n//;    # the signature line
		my $idx = decode_json($m)->{index}{sha256};
		# the chunk index (format 2): per chunk a varint length and a SHA-256
		my $d = slurp("$pub/indexes/$idx.bin");
		my ($n, $p, @len) = (unpack("Q<", substr($d, 56, 8)), 64);
		for (1 .. $n) {
			my ($v, $s, $b) = (0, 0);
			do { $b = ord(substr($d, $p++, 1)); $v |= ($b & 0x7f) << $s; $s += 7 } while ($b & 0x80);
			push @len, $v;
			$p += 32;
		}
		# the location file: runs of chunks back to back in a pack
		my $l = decode_json(slurp("$pub/locations/minbase/1.json"));
		print "local small = {\"/versions/minbase/1.json\", \"/channels/stable.json\", \"/versions/index.json\"}\n";
		print "local ranges = {\n";
		my $k = 0;
		for my $r (@{$l->{runs}}) {
			my ($pack, $off) = ($l->{packs}[$r->[0]], $r->[1]);
			for (1 .. $r->[2]) {
				my $len = $len[$k++];
				printf "{\"/packs/%s.pack\", \"bytes=%d-%d\"},\n", $pack, $off, $off + $len - 1;
				$off += $len;
			}
		}
		print "}\n";
		print "local mix = \"$mix\"\n";
	' "$R/public" "$mix" >"$RUN/$mix.lua"
	cat >>"$RUN/$mix.lua" <<-'EOF'
	local n = 0
	setup = function(thread) thread:set("seed", math.random(1, 1000000)) end
	init = function(args) math.randomseed(seed) end
	request = function()
	  n = n + 1
	  if mix == "small" or (mix == "mix" and n % 2 == 0) then
	    return wrk.format("GET", small[math.random(#small)])
	  end
	  local r = ranges[math.random(#ranges)]
	  return wrk.format("GET", r[1], { ["Range"] = r[2] })
	end
	EOF
}

# One wrk run per server, mix and round, the servers taking turns so that
# other work on the machine weighs on both alike; per server and mix the
# run with the median requests/s is reported, and failures of all runs.
declare -A L_RPS L_MBS L_FAIL L_P99 L_ALL L_TICKS L_REQS
load_bench() {
	local round mix s out c0 c1
	for mix in mix small ranges; do
		write_lua "$mix"
	done
	for round in $(seq "$BENCH_ROUNDS"); do
		for mix in mix small ranges; do
			for s in $BENCH_SERVERS; do
				out=$RUN/wrk-$s-$mix-$round.txt
				log "round $round, $mix on $s: wrk -t $BENCH_THREADS -c $BENCH_CLIENTS -d ${BENCH_SECS}s"
				c0=$(cpu_ticks "$s")
				wrk -t "$BENCH_THREADS" -c "$BENCH_CLIENTS" -d "${BENCH_SECS}s" --timeout 10s \
					--latency -s "$RUN/$mix.lua" "${URLS[$s]}" >"$out" 2>&1 ||
					die "wrk failed: $(tail -n 3 "$out")"
				c1=$(cpu_ticks "$s")
				L_ALL[$s/$mix]+="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out") $out
"
				L_TICKS[$s/$mix]=$(( ${L_TICKS[$s/$mix]:-0} + c1 - c0 ))
				L_REQS[$s/$mix]=$(( ${L_REQS[$s/$mix]:-0} + $(awk '/ requests in / { print $1 }' "$out") ))
				L_FAIL[$s/$mix]=$(( ${L_FAIL[$s/$mix]:-0} + $(awk '
					/Socket errors:/ { gsub(",", ""); f += $4 + $6 + $8 + $10 }
					/Non-2xx or 3xx responses:/ { f += $NF }
					END { print f + 0 }' "$out") ))
			done
		done
	done
	for mix in mix small ranges; do
		for s in $BENCH_SERVERS; do
			out=$(printf '%s' "${L_ALL[$s/$mix]}" | sort -n | awk '{ a[NR] = $2 } END { print a[int((NR + 1) / 2)] }')
			L_RPS[$s/$mix]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
			L_MBS[$s/$mix]=$(awk '/^Transfer\/sec:/ {
				v = $2; u = substr(v, length(v) - 1); v += 0
				if (u == "GB") v *= 1024; else if (u == "KB") v /= 1024; else if (u !~ /MB/) v /= 1048576
				printf "%.0f", v }' "$out")
			L_P99[$s/$mix]=$(awk '$1 == "99%" { print $2 }' "$out")
			L_ALL[$s/$mix]=$(printf '%s' "${L_ALL[$s/$mix]}" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }')
		done
	done
}

# ---- the report -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }'; }
mibs() { awk -v b="$IMG_SIZE" -v t="$1" 'BEGIN { printf "%.0f", b / 1048576 / t }'; }

report() {
	local s
	echo "## netimg serve and fetch over loopback, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- host: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r); $(nginx -v 2>&1 | sed 's/.*: //'), $(curl --version | head -n 1 | cut -d' ' -f1-2), $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"
	echo "- load average (1 min) at start: $LOAD0, at end: $(cut -d' ' -f1 /proc/loadavg); anything else running skews the figures"
	echo "- image: minbase, $(awk -v b="$IMG_SIZE" 'BEGIN { printf "%.1f MiB", b / 1048576 }'), $(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{index}{chunks}' < <(sed 1d "$R/public/versions/minbase/1.json")) chunks, one pack"
	if [[ " $BENCH_PARTS " == *" fetch "* ]]; then
		echo
		echo "### Full-image fetch ($BENCH_RUNS runs each after 2 warm-ups, hyperfine, warm page cache)"
		echo
		echo "Seconds as median (mean ± sd); MiB/s and the ratio from the medians; CPU: user + system, mean."
		echo
		echo "| server | netimg fetch s | curl -o s | netimg MiB/s | curl MiB/s | netimg ×curl | target ≥ 0.5 | CPU s netimg / curl |"
		echo "|---|---:|---:|---:|---:|---:|---|---:|"
		for s in $BENCH_SERVERS; do
			local n=${T_MED[$s/netimg]} c=${T_MED[$s/curl]} r
			r=$(ratio "$c" "$n")
			printf '| %s | %s (%s ± %s) | %s (%s ± %s) | %s | %s | %s | %s | %s / %s |\n' "$s" \
				"$n" "${T_MEAN[$s/netimg]}" "${T_SD[$s/netimg]}" \
				"$c" "${T_MEAN[$s/curl]}" "${T_SD[$s/curl]}" \
				"$(mibs "$n")" "$(mibs "$c")" "$r" \
				"$(awk -v r="$r" 'BEGIN { print (r >= 0.5 ? "met" : "missed") }')" \
				"${T_CPU[$s/netimg]}" "${T_CPU[$s/curl]}"
		done
		if [ -n "$NETIMG_BASE" ]; then
			echo
			echo "For comparison, \`$NETIMG_BASE fetch\` (NETIMG_BASE):"
			echo
			for s in $BENCH_SERVERS; do
				local b=${T_MED[$s/base]}
				echo "- from $s: $b s ($(mibs "$b") MiB/s, $(ratio "${T_MED[$s/curl]}" "$b")× curl), CPU ${T_CPU[$s/base]} s"
			done
		fi
	fi
	if [[ " $BENCH_PARTS " == *" load "* ]]; then
		echo
		echo "### $BENCH_CLIENTS concurrent clients (wrk -t $BENCH_THREADS -c $BENCH_CLIENTS -d ${BENCH_SECS}s, keep-alive, $BENCH_ROUNDS rounds)"
		echo
		echo "mix: every other request a small file (manifest, channel pointer, versions list), the rest a Range request of one chunk of the pack (random, as a FUSE client reads); small, ranges: each alone. The servers take turns; the row is each one's median round (all rounds' requests/s in the last column), failed requests are summed over all rounds."
		echo
		echo "| requests | server | requests/s | MiB/s | p99 latency | failed | serve ×nginx | server CPU µs/request | all rounds |"
		echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
		local mix
		for mix in mix small ranges; do
			for s in $BENCH_SERVERS; do
				printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$mix" "$s" \
					"${L_RPS[$s/$mix]}" "${L_MBS[$s/$mix]}" "${L_P99[$s/$mix]}" \
					"${L_FAIL[$s/$mix]}" \
					"$([ "$s" = serve ] && [ -n "${L_RPS[nginx/$mix]:-}" ] &&
					   ratio "${L_RPS[serve/$mix]}" "${L_RPS[nginx/$mix]}" || echo "")" \
					"$(awk -v t="${L_TICKS[$s/$mix]}" -v n="${L_REQS[$s/$mix]}" -v hz="$(getconf CLK_TCK)" \
					   'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else printf "–" }')" \
					"${L_ALL[$s/$mix]}"
			done
		done
		echo
		echo "Target: netimg serve ≥ 0.5× nginx's requests/s on the mix, no failed request. Server CPU per request (all rounds, from /proc) depends less on other work on the machine than requests/s do."
	fi
}

LOAD0=$(cut -d' ' -f1 /proc/loadavg)
prepare
for s in $BENCH_SERVERS; do
	start_server "$s"
done
for p in $BENCH_PARTS; do
	case $p in
	fetch) for s in $BENCH_SERVERS; do fetch_bench "$s"; done ;;
	load) load_bench ;;
	esac
done
stop_all
report
