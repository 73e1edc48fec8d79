#!/bin/bash
# netimg point, rollback and history: signed channel pointers with serials
# that only grow, and history; rollback is a new pointer to an older version.
. "$(dirname "$0")/../lib.sh"
plan 15
R=$T/repo
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2 3; do
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$BB" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" && "$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
done
C=$R/public/channels/stable.json
serial() { tail -n +2 "$C" | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print "$d->{serial} $d->{target}"'; }

like "$("$NETIMG" point --repo "$R" stable bb@1 --by alice)" "stable -> bb@1 \(serial 1, expires" "point: rollout to bb@1"
like "$(head -c 17 "$C")" "^netimg-signed-v1 " "the pointer is signed"
is "$(stat -c %a "$C")" 644 "the pointer is world-readable"
"$NETIMG" point --repo "$R" stable bb@2 --by bob >/dev/null
is "$(serial)" "2 bb@2" "point again: serial 2, bb@2"
"$NETIMG" rollback --repo "$R" stable >/dev/null
is "$(serial)" "3 bb@1" "rollback: a new pointer (serial 3) to the previous version"
"$NETIMG" rollback --repo "$R" stable --to bb@3 >/dev/null
is "$(serial)" "4 bb@3" "rollback --to a named version"
out=$("$NETIMG" history --repo "$R" stable)
is "$(printf '%s\n' "$out" | grep -o 'bb@[0-9]' | tr '\n' ' ')" "bb@3 bb@1 bb@2 bb@1 " "history, newest first"
like "$out" "^\* serial 4 " "the current pointer is marked"
like "$(tail -n +2 "$C" | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print $d->{expires} - $d->{time}')" "^604800$" \
	"the default expiry is 7 days"
fails "pointing at an unpublished version is refused" "bb@9: not published" "$NETIMG" point --repo "$R" stable bb@9
fails "rollback of a channel without history is refused" "no earlier version" "$NETIMG" rollback --repo "$R" fresh
fails "a bad channel name is refused" "channel name" "$NETIMG" point --repo "$R" "../x" bb@1
serve_repo "$R"
like "$("$NETIMG" history --repo "$URL" --key "$R/repo.pub" stable 2>&1)" "serial 4 +bb@3" "history over HTTP"
perl -0777 -pi -e 's/"bb\@3"/"bb\@2"/' "$C"
fails "a tampered pointer is refused" "bad signature" "$NETIMG" history --repo "$URL" --key "$R/repo.pub" stable
mkdir -p "$T/o" && "$NETIMG" keygen --repo "$T/o" >/dev/null
fails "a pointer checked with another key is refused" "signed by another key" \
	"$NETIMG" history --repo "$R" --key "$T/o/repo.pub" stable
done_testing
