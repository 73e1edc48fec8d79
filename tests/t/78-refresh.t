#!/bin/bash
# netimg refresh: channel pointers re-signed with a new expiry, nothing
# else changed (serial kept), under the publishers' lock; a pointer that
# does not verify is never re-signed.
. "$(dirname "$0")/../lib.sh"
plan 21
R=$T/repo
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2; do
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$BB" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" && "$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
done
CH=$R/public/channels
# payload FILE [DROP...]: the pointer's payload as canonical JSON, without the named keys
payload() {
	local f=$1; shift
	tail -n +2 "$f" | perl -MJSON::PP -0777 -e 'my $d = decode_json(<STDIN>); delete $d->{$_} for @ARGV;
		print JSON::PP->new->canonical->encode($d)' "$@"
}
field() { tail -n +2 "$1" | perl -MJSON::PP -0777 -ne "my \$d = decode_json(\$_); print \$d->{$2} // 'null'"; }

is "$("$NETIMG" refresh --repo "$R")" "no channels to refresh in $R" "no channel yet: nothing to do"
"$NETIMG" point --repo "$R" stable bb@1 --by alice >/dev/null
"$NETIMG" point --repo "$R" stable bb@2 --by bob --expires 60 >/dev/null
"$NETIMG" point --repo "$R" beta bb@2 --by carol >/dev/null
cp "$CH/stable.json" "$T/stable.before"; cp "$CH/beta.json" "$T/beta.before"
sleep 1
out=$("$NETIMG" refresh --repo "$R" 2>&1)
like "$(printf '%s\n' "$out" | tr '\n' '|')" "^beta -> bb@2 \(serial 1 kept, expires [^|]*\|stable -> bb@2 \(serial 2 kept, expires [^|]*\|$" \
	"refresh: every channel, serials kept"
is "$(payload "$CH/stable.json" expires refreshed)" "$(payload "$T/stable.before" expires)" \
	"target, manifest hash, serial, time, who and history unchanged"
is "$(field "$CH/stable.json" serial)" 2 "the serial is the same"
is "$(( $(field "$CH/stable.json" expires) - $(field "$CH/stable.json" refreshed) ))" 604800 \
	"the new expiry is 7 days after the refresh"
ok "the refreshed time is after the pointer's time" \
	test "$(field "$CH/stable.json" refreshed)" -gt "$(field "$CH/stable.json" time)"
ok "the refreshed pointer verifies" "$NETIMG" history --repo "$R" stable
is "$(stat -c %a "$CH/stable.json")" 644 "it stays world-readable"

cp "$CH/beta.json" "$T/beta.mid"
"$NETIMG" refresh --repo "$R" stable --expires 1h >/dev/null
is "$(( $(field "$CH/stable.json" expires) - $(field "$CH/stable.json" refreshed) ))" 3600 "--expires 1h"
ok "a channel not named is left alone" cmp "$CH/beta.json" "$T/beta.mid"

fails "an unknown channel is refused" "no channel 'nope'" "$NETIMG" refresh --repo "$R" nope
fails "a bad channel name is refused" "channel name" "$NETIMG" refresh --repo "$R" ../x
fails "a bad --expires is refused" "--expires 7x: expected a duration" "$NETIMG" refresh --repo "$R" --expires 7x
fails "not a repository" "not a repository" "$NETIMG" refresh --repo "$T/nowhere"

# a tampered pointer is never re-signed, and nothing is written at all
cp "$CH/stable.json" "$T/stable.mid"
perl -0777 -pi -e 's/"carol"/"mallory"/' "$CH/beta.json"
fails "a tampered pointer is refused, not re-signed" "beta.json: bad signature" "$NETIMG" refresh --repo "$R"
ok "... and the other channels were not written either" cmp "$CH/stable.json" "$T/stable.mid"
cp "$T/beta.mid" "$CH/beta.json"

# a client that saw serial N accepts the refreshed pointer (same serial);
# an expired pointer is refused until the refresh
# (5 s: the ASan build on a loaded machine may take more than 1 s to read it)
"$NETIMG" point --repo "$R" edge bb@1 --expires 5 >/dev/null
S=$T/state
like "$("$NETIMG" verify --repo "$R" --state "$S" edge 2>&1)" "bb@1: ok" "a client accepts the pointer (serial 1 recorded)"
exp=$(tail -n +2 "$CH/edge.json" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{expires}')
while [ "$(date +%s)" -le "$exp" ]; do sleep 0.5; done   # at most ~5 s
fails "the pointer expires" "expired pointer" "$NETIMG" verify --repo "$R" --state "$S" edge
"$NETIMG" refresh --repo "$R" edge >/dev/null
like "$("$NETIMG" verify --repo "$R" --state "$S" edge 2>&1)" "bb@1: ok" \
	"after refresh the same client accepts it again (equal serial, later expiry)"
like "$("$NETIMG" history --repo "$R" edge 2>&1)" "^\* serial 1 " "history: still serial 1"

# the publishers' lock: refresh waits for a holder
flock "$R/private/lock" sh -c "touch '$T/held'; sleep 2" &
BG_PIDS+=($!)
for i in $(seq 50); do [ -e "$T/held" ] && break; sleep 0.1; done
t0=$(date +%s%N)
"$NETIMG" refresh --repo "$R" >/dev/null
ok "refresh waits for the publishers' lock" test $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000
done_testing
