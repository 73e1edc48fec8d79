#!/bin/bash
# netimg agent against netimg serve (its access log shows the status of
# every poll): --once syncs and records the channel's version; a running
# agent picks up a repoint, its unchanged polls are 304s, it survives the
# server going away and notices its return within the interval; replayed
# and expired pointers are refused with the cached version kept; SIGTERM
# stops it at once, mid-sync too; kill -9 mid-sync stops the sync and a
# restart completes it; the bandwidth cap is honoured.
. "$(dirname "$0")/../lib.sh"
plan 47
. "$TOP/tests/cache.sh"
S=$T/state
C=$T/cache
PTR=$R/public/channels/stable.json

# agent_bg LOGFILE ARGS...: a running agent: APID
agent_bg() {
	local log=$1; shift
	"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" "$@" stable 2>"$log" &
	APID=$!
	BG_PIDS+=($!)
}
# wait_log FILE REGEX SECS [FROM-LINE]: waits (bounded) for a line
wait_log() {
	local i
	for i in $(seq $(( $3 * 10 ))); do
		tail -n +"${4:-1}" "$1" 2>/dev/null | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
# gone PID SECS: waits (bounded) for a process to end; 0 when it did
gone() {
	local i
	for i in $(seq $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
# since T0: seconds since T0 (date +%s.%N); below X Y: X < Y (decimals)
since() { perl -e 'printf "%.2f", $ARGV[1] - $ARGV[0]' "$1" "$(date +%s.%N)"; }
below() { perl -e 'exit !($ARGV[0] < $ARGV[1])' "$1" "$2"; }
held() { jget "$C"/channels/*/stable.json '$d->{target}'; }
pinned() {
	"$NETIMG" cache status --cache "$C" --json >"$T/.st" &&
		jget "$T/.st" 'join " ", map { $_->{version} } sort { $a->{version} cmp $b->{version} } grep { $_->{pinned} } @{$d->{versions}}'
}
polls() { grep -c "GET /channels/stable.json HTTP[^\"]*\" $1 " "$LOG"; }

"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
cp "$PTR" "$T/ptr-serial1.json"
serve_logged "$R"

# ---- usage ----
fails "agent: NAME@VERSION is refused" "not a channel name" \
	"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --once bb@1
fails "agent: a bad --bandwidth" "--bandwidth: '12Q' is not a rate" \
	"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --bandwidth 12Q stable
fails "agent: a bad --interval" "--interval: '0' is not a duration" \
	"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --interval 0 stable

# ---- --once ----
"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --once stable 2>"$T/once1.log"
is "$?" 0 "agent --once syncs the channel's version: exit 0"
like "$(cat "$T/once1.log")" "^20[0-9-]+T[0-9:]+Z netimg agent\[[0-9]+\]: poll stable: new version bb@1 \(serial 1; the cache holds none\)" \
	"... its log lines carry a timestamp and say what happened"
like "$(cat "$T/once1.log")" "channel stable: now bb@1 \(serial 1\), taken at the next mount or boot" "... and name the switch"
is "$(held)" "bb@1" "... the cache's channel record names bb@1"
is "$(pinned)" "1" "... and bb@1 is pinned"
"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --once stable 2>"$T/once2.log"
is "$?" 0 "agent --once again: exit 0"
like "$(cat "$T/once2.log")" "poll stable: bb@1 \(serial 1\): up to date" "... up to date, nothing synced"

# ---- a running agent: repoint, 304s ----
agent_bg "$T/a1.log" --interval 1 --jitter 0
ok "the running agent polls" wait_log "$T/a1.log" "poll stable: bb@1 \(serial 1\): up to date" 10
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
cp "$PTR" "$T/ptr-serial2.json"
t0=$(date +%s.%N)
ok "a repoint is picked up and synced" wait_log "$T/a1.log" "channel stable: now bb@2 \(serial 2\)" 20
dt=$(since "$t0")
ok "... within a bounded time (${dt}s, interval 1s)" below "$dt" 10
is "$(held)" "bb@2" "... the channel record moved to bb@2"
is "$(pinned)" "1 2" "... bb@2 pinned, bb@1 kept for rollback"
n304=$(polls 304)
sleep 3.5
ok "unchanged polls are answered 304 ($(( $(polls 304) - n304 )) in 3.5s)" test $(( $(polls 304) - n304 )) -ge 2
like "$(tail -1 "$T/a1.log")" "poll stable: not modified \(304\)" "... and logged as such"
is "$(polls 200)" "$(grep -c 'poll stable: .*\(up to date\|new version\)' "$T/once1.log" "$T/once2.log" "$T/a1.log" | awk -F: '{ n += $2 } END { print n }')" \
	"... a full pointer was sent only for a change (or a first poll)"

# ---- the server goes away and comes back ----
kill "$SERVER"; wait "$SERVER" 2>/dev/null
n=$(wc -l <"$T/a1.log")
ok "server down: the agent logs the error" wait_log "$T/a1.log" "poll stable: error: .*(connect|refused|unreachable).*retried at the next poll; keeping bb@2" 10 $((n + 1))
sleep 2
ok "... and keeps running" kill -0 "$APID"
n=$(wc -l <"$T/a1.log")
serve_logged "$R" "$PORT"
t0=$(date +%s.%N)
ok "server back on the same port ($PORT): the agent notices" wait_log "$T/a1.log" "poll stable: (not modified|bb@2)" 10 $((n + 1))
dt=$(since "$t0")
ok "... within the interval plus a poll (${dt}s)" below "$dt" 4

# ---- replayed and expired pointers ----
cp "$T/ptr-serial1.json" "$PTR"
n=$(wc -l <"$T/a1.log")
ok "a replayed pointer is refused" wait_log "$T/a1.log" "poll stable: refused: channels/stable.json: replayed pointer: serial 1 is lower than 2 seen before .*; keeping bb@2" 10 $((n + 1))
sleep 1.5
is "$(held)" "bb@2" "... the cached version is kept"
ok "... and the agent keeps running" kill -0 "$APID"
cp "$T/ptr-serial2.json" "$PTR"
t0=$(date +%s.%N)
kill -TERM "$APID"
ok "SIGTERM stops the idle agent" gone "$APID" 5
dt=$(since "$t0")
ok "... at once (${dt}s)" below "$dt" 2
like "$(tail -1 "$T/a1.log")" "stopped \(signal 15\)" "... saying so"
"$NETIMG" point --repo "$R" stable bb@3 --expires 1 >/dev/null
sleep 2
"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --once stable 2>"$T/once3.log"
is "$?" 1 "an expired pointer: agent --once exits 1"
like "$(cat "$T/once3.log")" "poll stable: refused: channels/stable.json: expired pointer .*; keeping bb@2" "... refused, saying so"
is "$(held)" "bb@2" "... the cached version is kept"

# ---- SIGTERM and kill -9 mid-sync, then the sync completes ----
"$NETIMG" point --repo "$R" stable bb@3 >/dev/null
agent_bg "$T/a2.log" --interval 1 --jitter 0 --bandwidth 100K
ok "a slow sync starts" wait_log "$T/a2.log" "sync bb@3: starting" 10
sleep 1
t0=$(date +%s.%N)
kill -TERM "$APID"
ok "SIGTERM mid-sync stops the agent" gone "$APID" 5
dt=$(since "$t0")
ok "... at once (${dt}s)" below "$dt" 2
like "$(cat "$T/a2.log")" "sync bb@3: interrupted" "... the sync was interrupted"
is "$(held)" "bb@2" "... the channel still names bb@2"
agent_bg "$T/a3.log" --interval 1 --jitter 0 --bandwidth 100K
ok "restarted, the slow sync starts again" wait_log "$T/a3.log" "sync bb@3: starting" 10
sleep 1
child=$(pgrep -P "$APID" | head -1)
kill -9 "$APID"
ok "kill -9 mid-sync: the agent's sync process ends with it" gone "${child:-0}" 5
is "$(held)" "bb@2" "... the channel still names bb@2"
"$NETIMG" agent --repo "$URL" --key "$K" --state "$S" --cache "$C" --bandwidth 200K --once stable 2>"$T/once4.log"
is "$?" 0 "restarted (--once --bandwidth 200K): the sync completes"
is "$(held)" "bb@3" "... the channel record names bb@3"
is "$(pinned)" "2 3" "... bb@3 pinned, bb@2 kept"
ok "... and the cache verifies" "$NETIMG" cache verify --cache "$C" --key "$K"
rate=$(perl -ne 'print int($1 / $2) if /sync bb\@3: done: fetched .* \((\d+) bytes\) in ([0-9.]+)s/' "$T/once4.log")
like "$(cat "$T/once4.log")" "sync bb@3: done: fetched .* \(([0-9]{6,}) bytes\)" "... having fetched bb@3's data"
ok "the bandwidth cap is honoured (${rate:-?} bytes/s against 204800)" test "${rate:-999999999}" -le $(( 204800 * 13 / 10 ))

# ---- the example configuration, --help ----
"$NETIMG" agent --config "$TOP/docs/client.conf.example" --repo "$URL" --key "$K" --state "$S" --cache "$C" --once 2>"$T/once5.log"
like "$(cat "$T/once5.log")" "poll stable: bb@3 \(serial 4\): up to date" \
	"docs/client.conf.example drives the agent (the channel from [client], [agent] parsed)"
like "$("$NETIMG" agent --help)" "\[--interval DURATION\] \[--jitter DURATION\]" "agent --help shows its usage"
