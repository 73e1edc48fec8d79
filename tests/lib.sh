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
_result() {
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
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
# serve_repo DIR: starts `netimg serve` on DIR (a free port on 127.0.0.1,
# stopped by cleanup) and sets URL to its address.
serve_repo() {
	local out=$T/.serve.$RANDOM i
	"$NETIMG" serve --repo "$1" --listen 127.0.0.1:0 >"$out" 2>/dev/null &
	BG_PIDS+=($!)
	for i in $(seq 50); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
	URL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$out")
}
done_testing() { echo "# $_n tests, $_failed failed"; [ $_failed = 0 ]; exit $?; }
