#!/bin/bash
# netimg gc: versions a channel points at, pointed at within its last N
# history entries, or published after the newest pointer write are kept,
# with their chunks, indexes and attachments; everything else goes. Every
# kept version still verifies and fetches byte for byte; bytes on disk
# shrink; --dry-run changes nothing; a bad pointer stops gc; an
# interrupted writer's debris is cleaned; gc takes the publishers' lock.
. "$(dirname "$0")/../lib.sh"
plan 46
R=$T/repo
P=$R/public
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
# five versions of a busybox root: v1 carries a 3 MB file of its own
# (most of its pack), the others 200 KB each
for v in 1 2 3 4 5; do
	mkdir -p "$T/root$v" && tar -C "$T/root$v" -xf "$BB"
	head -c $([ $v = 1 ] && echo 3000000 || echo 200000) /dev/urandom >"$T/root$v/payload"
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$T/root$v" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" || echo "# build $v failed"
done
for v in 1 2 3; do "$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null; done
sleep 1   # pointer writes strictly after those publishes (times are seconds)
for v in 1 2 3; do "$NETIMG" point --repo "$R" stable bb@$v >/dev/null; done
"$NETIMG" point --repo "$R" beta bb@2 >/dev/null
sleep 1
"$NETIMG" publish --repo "$R" "$T/bb4.sqfs" >/dev/null
printf 'a\n' >"$T/h1"; printf 'b\n' >"$T/h2"
"$NETIMG" attach --repo "$R" bb@1 hot "$T/h1" >/dev/null
"$NETIMG" attach --repo "$R" bb@3 hot "$T/h1" >/dev/null
"$NETIMG" attach --repo "$R" bb@3 hot "$T/h2" >/dev/null
H1=$(sha256sum <"$T/h1" | cut -d' ' -f1); H2=$(sha256sum <"$T/h2" | cut -d' ' -f1)

snapshot() { find "$P" -printf '%P %s %T@\n' | sort | md5sum; }
bytes() { find "$P" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
fetch_cmp() { "$NETIMG" fetch --repo "$R" "bb@$1" -o "$T/got$1.sqfs" >/dev/null && cmp "$T/got$1.sqfs" "$T/bb$1.sqfs"; }
vlist() { "$NETIMG" versions --repo "$R" | cut -f1 | tr '\n' ' '; }

out=$("$NETIMG" gc --repo "$R" 2>&1)
like "$out" "4 versions kept, 0 removed" "default --keep 3: every version is still needed"
like "$out" "keep bb@1 \(in channel stable's last history entries\)" "... bb@1 is in stable's history"
like "$out" "keep bb@4 \(published after the newest pointer write: not rolled out yet\)" \
	"a version published after the newest pointer write is kept (not rolled out yet)"
like "$out" "^newest pointer write: .*; versions published since are kept" "the output says why"

before=$(snapshot)
out=$("$NETIMG" gc --repo "$R" --keep 0 --dry-run 2>&1)
like "$out" "would remove version bb@1 \(manifest, locations, 1 attachment\)" "--dry-run: bb@1 would go"
like "$out" "would repack pack " "--dry-run: v1's pack, mostly dead, would be rewritten"
like "$out" "nothing was changed" "--dry-run says nothing changed"
is "$(snapshot)" "$before" "--dry-run changes nothing on disk"

# A crash at every step: gc killed (strace) on entry to its 1st, 2nd, ...
# rename and its 1st, 2nd, ... unlink, each time on a fresh copy. After
# each crash the kept versions verify; a second gc then finishes the job.
crash_ok=0 crash_bad=0 crashes=0
for sc in rename unlink; do
	for n in $(seq 1 40); do
		rm -rf "$T/crash"; cp -a "$R" "$T/crash"
		{ strace -f -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
			"$NETIMG" gc --repo "$T/crash" --keep 0 >/dev/null 2>&1; rc=$?; } 2>/dev/null
		[ $rc = 0 ] && break      # it ran to the end: no $n-th $sc
		crashes=$((crashes + 1))
		if "$NETIMG" verify --repo "$T/crash" bb@2 bb@3 bb@4 >/dev/null 2>&1 &&
		   "$NETIMG" gc --repo "$T/crash" --keep 0 >/dev/null 2>&1 &&
		   "$NETIMG" verify --repo "$T/crash" >/dev/null 2>&1 &&
		   [ ! -e "$T/crash/public/versions/bb/1.json" ] &&
		   [ -z "$(ls -A "$T/crash/public/packs" | grep -v '^[0-9a-f]\{64\}\.\(pack\|idx\)$')" ]; then
			crash_ok=$((crash_ok + 1))
		else
			crash_bad=$((crash_bad + 1)); echo "# crash at $sc #$n left a broken repository"
		fi
	done
done
ok "gc killed at each of its $crashes renames and unlinks" test $crashes -ge 10
is "$crash_bad" 0 "... every time the kept versions verified, and a second gc finished cleanly"
rm -rf "$T/crash"

OLDPACK=$(ls -S "$P/packs/"*.pack | head -1)
b0=$(bytes)
out=$("$NETIMG" gc --repo "$R" --keep 0 2>&1)
like "$out" "removed version bb@1 " "--keep 0: bb@1 (only in history) is removed"
like "$out" "keep bb@2 \(channel beta points at it\)" "bb@2 is kept: beta points at it"
like "$out" "repacked pack $(basename "$OLDPACK" .pack) \([0-9]+% live" "the mostly dead pack is rewritten"
like "$out" "removed blob $H1 " "the blob only bb@1 (and bb@3's replaced record) named is removed"
b1=$(bytes)
ok "bytes on disk shrink by more than v1's 3 MB file: $b0 -> $b1" test $((b0 - b1)) -gt 2900000
freed=$(printf '%s\n' "$out" | sed -n 's/.* freed (\([0-9]*\) bytes)$/\1/p')
ok "the bytes freed it prints ($freed) are what disappeared (within the rewritten lists)" \
	test $(( b0 - b1 - ${freed:-0} )) -lt 4096 -a $(( ${freed:-0} - (b0 - b1) )) -lt 4096
ok "bb@1's manifest, locations and attachments are gone" \
	test ! -e "$P/versions/bb/1.json" -a ! -e "$P/locations/bb/1.json" -a ! -e "$P/attachments/bb/1" -a ! -e "$P/attachments/bb/1.json"
ok "... and the old pack with its .idx" test ! -e "$OLDPACK" -a ! -e "${OLDPACK%.pack}.idx"
fails "bb@1 is no longer a version" "bb@1: no such version" "$NETIMG" show --repo "$R" bb@1
is "$(vlist)" "bb@2 bb@3 bb@4 " "versions/index.json lists the kept versions"
is "$(ls "$P/blobs")" "$H2" "the blob bb@3's record names is kept"
v=$("$NETIMG" verify --repo "$R" 2>&1)
like "$(printf '%s\n' "$v" | tr '\n' '|')" "^bb@2: ok [^|]*\|bb@3: ok [^|]*1 attachment\)\|bb@4: ok [^|]*\|$" \
	"every kept version verifies (chunks and attachments)"
ok "bb@2 fetches byte for byte" fetch_cmp 2
ok "bb@3 fetches byte for byte" fetch_cmp 3
ok "bb@4 fetches byte for byte" fetch_cmp 4
is "$(find "$P" -type f ! -perm -0444 | wc -l)" 0 "every file in public/ is still world-readable"

# the rollout moves on: bb@4 was never pointed at, and a pointer was
# written after it was published
sleep 1
"$NETIMG" point --repo "$R" beta bb@3 >/dev/null
npacks=$(ls "$P/packs" | grep -c '\.pack$')
out=$("$NETIMG" gc --repo "$R" --keep 1 2>&1)
like "$out" "removed version bb@4 " "--keep 1: bb@4, published before the newest pointer write and never pointed at, goes"
like "$out" "keep bb@2 \(in channel [a-z]*'s last history entries\)" "--keep 1: bb@2 (last history entry) stays"
like "$out" "removed pack [0-9a-f]{64} \(no live chunk\)" "bb@4's pack had no chunk anyone else uses: removed"
is "$(ls "$P/packs" | grep -c '\.pack$')" $((npacks - 1)) "one pack fewer"
out=$("$NETIMG" gc --repo "$R" --keep 0 2>&1)
like "$out" "removed version bb@2 " "--keep 0: bb@2 goes too"
is "$(vlist)" "bb@3 " "only what the channels point at is left"
ok "bb@3 still verifies" "$NETIMG" verify --repo "$R"
ok "bb@3 still fetches byte for byte" fetch_cmp 3

# refusals
fails "gc needs a repository" "$T/nowhere: not a repository" "$NETIMG" gc --repo "$T/nowhere"
fails "gc needs --repo" "expected --repo DIR" "$NETIMG" gc
fails "a bad --keep" "--keep x: expected 0 to 100" "$NETIMG" gc --repo "$R" --keep x
cp "$P/channels/beta.json" "$T/beta.good"
perl -0777 -pi -e 's/"bb\@3"/"bb\@9"/' "$P/channels/beta.json"
before=$(snapshot)
fails "a tampered pointer stops gc" "beta.json: bad signature .*gc cannot tell what the channel needs" \
	"$NETIMG" gc --repo "$R"
is "$(snapshot)" "$before" "... before it changed anything"
cp "$T/beta.good" "$P/channels/beta.json"

# debris of interrupted writers: a pack and .idx nothing references (a gc
# stopped between writing a new pack and switching to it), a .pack with
# no .idx, a temporary file, a location file with no manifest
PK=$(ls "$P/packs/"*.pack | head -1)
D1=$(echo d1 | sha256sum | cut -d' ' -f1); D2=$(echo d2 | sha256sum | cut -d' ' -f1)
cp "$PK" "$P/packs/$D1.pack"; cp "${PK%.pack}.idx" "$P/packs/$D1.idx"
cp "$PK" "$P/packs/$D2.pack"
echo junk >"$P/packs/.new.AbC123"
cp "$P/locations/bb/3.json" "$P/locations/bb/7.json"
out=$("$NETIMG" gc --repo "$R" 2>&1)
ok "an unreferenced pack, a .pack without .idx, a temporary file and an orphan location are removed" \
	test ! -e "$P/packs/$D1.pack" -a ! -e "$P/packs/$D1.idx" -a ! -e "$P/packs/$D2.pack" -a ! -e "$P/packs/.new.AbC123" -a ! -e "$P/locations/bb/7.json"
like "$out" "locations/bb/7.json \(of bb@7, which is not published" "... the orphan is reported as such"
ok "bb@3 verifies after the cleanup" "$NETIMG" verify --repo "$R" bb@3

# the publishers' lock: gc waits for it, and a publish started with gc
# waits too; whichever runs first, the new version survives
flock "$R/private/lock" sh -c "touch '$T/held'; sleep 2" &
BG_PIDS+=($!)
for i in $(seq 50); do [ -e "$T/held" ] && break; sleep 0.1; done
t0=$(date +%s%N)
"$NETIMG" gc --repo "$R" --keep 0 >"$T/gc.out" 2>&1 &
gp=$!
"$NETIMG" publish --repo "$R" "$T/bb5.sqfs" >"$T/pub.out" 2>&1
pr=$?
wait $gp; gr=$?
ok "gc waited for the lock ($(( ($(date +%s%N) - t0) / 1000000 )) ms)" test $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000
is "$gr $pr" "0 0" "gc and a concurrent publish both succeed"
ok "the version published alongside gc survives and fetches byte for byte" fetch_cmp 5
ok "the repository verifies" "$NETIMG" verify --repo "$R"
done_testing
