#!/bin/bash
# The patch catalog: netimg patch add/approve/decline/list, catalog.json and
# every way a catalog or a command line can be refused.
source "$(dirname "$0")/../lib.sh"

C=$T/patches
mkdir -p "$C" "$T/src"
echo one >"$T/src/a"
tar -C "$T/src" -cf "$T/one.tar" .
echo two >"$T/src/b"
tar -C "$T/src" -cf "$T/two.tar" .
echo three >"$T/src/c"
tar -C "$T/src" -cf "$T/three.tar" .

# edit PERL-CODE: rewrites catalog.json from good.json after CODE changed $d.
edit() {
	perl -MJSON::PP -e '
		local $/; open(my $f, "<", $ARGV[0]) or die; my $d = decode_json(<$f>);
		eval $ARGV[1]; die $@ if $@;
		open(my $o, ">", $ARGV[2]) or die;
		print $o JSON::PP->new->pretty->canonical->encode($d);' \
		"$T/good.json" "$1" "$C/catalog.json"
}
# usage NAME PATTERN CMD...: CMD must exit 2 (usage), name the problem on
# the first stderr line and print nothing on stdout.
usage() {
	local name=$1 pat=$2; shift 2
	"$@" >"$T/.uout" 2>"$T/.uerr"; local rc=$?
	if [ $rc = 2 ] && head -1 "$T/.uerr" | grep -Eq -- "$pat" && [ ! -s "$T/.uout" ]; then
		_result 0 "$name"
	else
		_result 1 "$name"; echo "#   rc=$rc want 2 and /$pat/"; sed 's/^/#   stderr: /' "$T/.uerr" | head -3
	fi
}

plan 85

# --- an existing folder without catalog.json is an empty catalog ---------
out=$("$NETIMG" patch list --catalog "$C"); rc=$?
is "$rc $out" "0 ID  SEVERITY  STATE  BY  TITLE" "list of an empty catalog: header only"
out=$("$NETIMG" patch list --catalog "$C" --json)
is "$(echo $out)" "[]" "list --json of an empty catalog: []"
ok "list wrote nothing" test ! -e "$C/catalog.json"

# --- add -----------------------------------------------------------------
out=$("$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-1 --severity important --title "first fix")
like "$out" '^added DEB-1 \(sha256 [0-9a-f]{64}\)$' "add prints the id and the pinned hash"
sha1=$(sha256sum "$T/one.tar" | cut -d' ' -f1)
is "$out" "added DEB-1 (sha256 $sha1)" "the printed hash is the file's SHA-256"
ok "the patch file is copied into files/ID/" cmp "$T/one.tar" "$C/files/DEB-1/one.tar"
is "$(stat -c %a "$C/files/DEB-1/one.tar")" 644 "the copy is mode 0644"
is "$(stat -c %a "$C/catalog.json")" 644 "catalog.json is mode 0644"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{sha256}')" "$sha1" "catalog.json pins the SHA-256"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{file}')" "files/DEB-1/one.tar" "catalog.json: file is relative to the folder"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{source_name}')" "one.tar" "catalog.json: source_name"
is "$(jget "$C/catalog.json" 'join " ", map { $d->{patches}[0]{$_} } qw(id title severity state seq)')" \
	"DEB-1 first fix important pending 1" "catalog.json: id, title, severity, state, seq"
is "$(jget "$C/catalog.json" '$d->{format} . " " . $d->{next_seq}')" "1 2" "catalog.json: format and next_seq"
is "$(jget "$C/catalog.json" 'join " ", map { defined $d->{patches}[0]{$_} ? "set" : "null" } qw(by reason)')" \
	"null null" "a pending patch has no by and no reason"
like "$(jget "$C/catalog.json" '$d->{patches}[0]{added} . " " . $d->{patches}[0]{when}')" '^[0-9]{9,} [0-9]{9,}$' \
	"catalog.json records when it was added"
like "$(sed -n 2p "$C/catalog.json")" '^  "format": 1,$' "catalog.json is indented with sorted keys"
ok "catalog.json ends with a newline" test "$(tail -c1 "$C/catalog.json" | od -An -c | tr -d ' ')" = '\n'
ok "no temporary files are left" test -z "$(find "$C" -name '*.tmp.*')"

# options may come after the file, and the file may come last
ok "add with options around the file" "$NETIMG" patch add --id DEB-2 "$T/two.tar" --catalog "$C" \
	--severity critical --supersedes DEB-1
ok "add with several superseded ids" "$NETIMG" patch add --catalog "$C" --id DEB-3 --severity low \
	--supersedes DEB-1,DEB-2 --title "third" "$T/three.tar"
is "$(jget "$C/catalog.json" 'join ",", map { $_->{id} . ":" . join("+", @{$_->{supersedes}}) } @{$d->{patches}}')" \
	"DEB-1:,DEB-2:DEB-1,DEB-3:DEB-1+DEB-2" "supersedes is recorded"
is "$(jget "$C/catalog.json" 'join ",", map { $_->{seq} } @{$d->{patches}}')" "1,2,3" "seq follows the order of add"

# --- approve and decline -------------------------------------------------
out=$("$NETIMG" patch approve --catalog "$C" DEB-1 --by alice)
is "$out" "approved DEB-1 by alice" "approve"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{state} . " " . $d->{patches}[0]{by}')" "approved alice" \
	"approve records the state and who"
ok "approving twice is fine" "$NETIMG" patch approve DEB-1 --by carol --catalog "$C"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{by}')" "carol" "approving again records the new name"
out=$("$NETIMG" patch decline --catalog "$C" DEB-2 --by bob --reason "breaks boot")
is "$out" "declined DEB-2 by bob" "decline"
is "$(jget "$C/catalog.json" 'join "|", map { $d->{patches}[1]{$_} } qw(state by reason)')" "declined|bob|breaks boot" \
	"decline records the state, who and why"
ok "a declined patch can be approved" "$NETIMG" patch approve --catalog "$C" DEB-2 --by dave
is "$(jget "$C/catalog.json" '$d->{patches}[1]{state} . " " . ($d->{patches}[1]{reason} // "null")')" "approved null" \
	"approving a declined patch clears the reason"
ok "an approved patch can be declined" "$NETIMG" patch decline --catalog "$C" DEB-1 --by erin --reason "obsolete"
is "$(jget "$C/catalog.json" '$d->{patches}[0]{state} . " " . $d->{patches}[0]{by}')" "declined erin" \
	"declining an approved patch records who"

# --- list ----------------------------------------------------------------
out=$("$NETIMG" patch list --catalog "$C")
is "$out" "ID     SEVERITY   STATE     BY    TITLE
DEB-1  important  declined  erin  first fix
DEB-2  critical   approved  dave  -
DEB-3  low        pending   -     third" "list prints a table"
"$NETIMG" patch list --catalog "$C" --json >"$T/list.json"; rc=$?
is "$rc" 0 "list --json"
is "$(jget "$T/list.json" 'scalar @$d')" 3 "list --json: one object per patch"
is "$(jget "$T/list.json" 'join " ", sort keys %{$d->[0]}')" \
	"added by file id reason seq severity sha256 source_name state supersedes title when" \
	"list --json: every field"
is "$(jget "$T/list.json" '$d->[1]{sha256}')" "$(sha256sum "$T/two.tar" | cut -d' ' -f1)" "list --json: sha256 in hex"
is "$(jget "$T/list.json" 'join ",", @{$d->[2]{supersedes}}')" "DEB-1,DEB-2" "list --json: supersedes"
is "$(jget "$T/list.json" '$d->[0]{reason}')" "obsolete" "list --json: reason"

# --- refused commands leave the catalog as it was -------------------------
cp "$C/catalog.json" "$T/good.json"
fails "duplicate id refused" "catalog.json: patch DEB-1 already exists" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-1 --severity low
fails "unknown superseded id refused" "catalog.json: patch DEB-4: supersedes unknown patch NOPE" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-4 --severity low --supersedes DEB-1,NOPE
fails "a patch superseding itself is a cycle" "catalog.json: patch DEB-4: supersedence cycle DEB-4 -> DEB-4" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-4 --severity low --supersedes DEB-4
fails "superseding an id twice refused" "catalog.json: patch DEB-4: supersedes DEB-1 twice" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-4 --severity low --supersedes DEB-1,DEB-1
fails "bad id refused" "catalog.json: bad patch id 'DEB 4'" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id "DEB 4" --severity low
fails "an id of 65 characters refused" "catalog.json: bad patch id '" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id "$(printf 'x%.0s' $(seq 65))" --severity low
fails "the id .. refused" "catalog.json: bad patch id '\.\.'" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id .. --severity low
fails "a title on two lines refused" "catalog.json: patch DEB-4: the title must be one line" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-4 --severity low --title "$(printf 'a\nb')"
fails "missing patch file" "missing\.tar: No such file" \
	"$NETIMG" patch add --catalog "$C" "$T/missing.tar" --id DEB-4 --severity low
fails "a folder is not a patch file" "src: not a regular file" \
	"$NETIMG" patch add --catalog "$C" "$T/src" --id DEB-4 --severity low
fails "missing catalog folder (add)" "nowhere: no such catalog folder" \
	"$NETIMG" patch add --catalog "$T/nowhere" "$T/one.tar" --id DEB-4 --severity low
fails "missing catalog folder (list)" "nowhere: no such catalog folder" \
	"$NETIMG" patch list --catalog "$T/nowhere"
fails "approving an unknown id" "catalog.json: no patch NOPE" \
	"$NETIMG" patch approve --catalog "$C" NOPE --by alice
fails "declining an unknown id" "catalog.json: no patch NOPE" \
	"$NETIMG" patch decline --catalog "$C" NOPE --by alice --reason x
fails "an empty approver name refused" "catalog.json: patch DEB-3: the name must be one line" \
	"$NETIMG" patch approve --catalog "$C" DEB-3 --by ""
ok "refused commands left catalog.json alone" cmp "$C/catalog.json" "$T/good.json"
ok "refused adds copied no file" test ! -e "$C/files/DEB-4"

# --- usage errors exit 2 ---------------------------------------------------
usage "bad severity is a usage error" "unknown severity 'urgent'" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id DEB-4 --severity urgent
usage "add without --id" "add: missing --id" "$NETIMG" patch add --catalog "$C" "$T/one.tar" --severity low
usage "add without --severity" "add: missing --severity" "$NETIMG" patch add --catalog "$C" "$T/one.tar" --id X
usage "add without FILE" "add: missing FILE" "$NETIMG" patch add --catalog "$C" --id X --severity low
usage "add without --catalog" "add: missing --catalog" "$NETIMG" patch add "$T/one.tar" --id X --severity low
usage "a bad --supersedes list" "supersedes wants ID" \
	"$NETIMG" patch add --catalog "$C" "$T/one.tar" --id X --severity low --supersedes DEB-1,
usage "approve without --by" "approve: missing --by" "$NETIMG" patch approve --catalog "$C" DEB-1
usage "approve without ID" "approve: missing ID" "$NETIMG" patch approve --catalog "$C" --by x
usage "decline without --reason" "decline: missing --reason" \
	"$NETIMG" patch decline --catalog "$C" DEB-1 --by x
usage "list with an extra argument" "list: unexpected argument 'x'" "$NETIMG" patch list --catalog "$C" x
usage "an option of another subcommand" "list: unknown option '--by'" "$NETIMG" patch list --catalog "$C" --by x
usage "an option without its value" "option '--catalog' needs a value" "$NETIMG" patch list --catalog
usage "an unknown subcommand" "no subcommand 'frob'" "$NETIMG" patch frob
usage "no subcommand" "missing subcommand" "$NETIMG" patch

# --- malformed catalog.json, edited by hand ---------------------------------
CJ="$C/catalog.json"
edit '$d->{patches}[0]{supersedes} = ["DEB-2"]'
fails "a supersedence cycle is refused on load" \
	"^netimg: $CJ: patch DEB-1: supersedence cycle DEB-1 -> DEB-2 -> DEB-1$" \
	"$NETIMG" patch list --catalog "$C"
fails "a cycle also blocks changes" "supersedence cycle" "$NETIMG" patch approve --catalog "$C" DEB-3 --by x
edit '$d->{patches}[2]{supersedes} = ["GONE"]'
fails "an unknown superseded id is refused on load" "$CJ: patch DEB-3: supersedes unknown patch GONE" \
	"$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[1]{id} = "DEB-1"'
fails "duplicate ids are refused on load" "$CJ: patch DEB-1: duplicate id" "$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[1]{state} = "maybe"'
fails "an unknown state is refused" "$CJ: patch DEB-2: unknown state 'maybe'" "$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[1]{severity} = "urgent"'
fails "an unknown severity is refused" "$CJ: patch DEB-2: unknown severity 'urgent'" "$NETIMG" patch list --catalog "$C"
edit 'delete $d->{patches}[2]{sha256}'
fails "a missing field is refused" "$CJ: patch DEB-3: missing field 'sha256'" "$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[2]{sha256} =~ s/^./g/'
fails "bad hex is refused" "$CJ: patch DEB-3: field 'sha256' must be 64 hex digits" "$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[2]{id} = "bad id"'
fails "a bad id in the file is refused" "$CJ: patch #3: bad id" "$NETIMG" patch list --catalog "$C"
edit '$d->{patches}[0]{file} = "../one.tar"'
fails "a file outside the catalog is refused" "$CJ: patch DEB-1: field 'file' must be a relative path" \
	"$NETIMG" patch list --catalog "$C"
edit '$d->{format} = 2'
fails "an unknown format is refused" "$CJ: 'format' must be 1" "$NETIMG" patch list --catalog "$C"
head -c 100 "$T/good.json" >"$CJ"
fails "truncated JSON is refused" "$CJ: line [0-9]+: " "$NETIMG" patch list --catalog "$C"
truncate -s 17M "$CJ"
fails "a catalog.json over 16 MiB is refused" "$CJ: larger than" "$NETIMG" patch list --catalog "$C"

cp "$T/good.json" "$CJ"
ok "the good catalog loads again" "$NETIMG" patch list --catalog "$C"

# --- concurrent changes are serialised by the catalog lock ----------------
P=$T/par
mkdir "$P"
for i in 1 2 3 4 5 6 7 8; do
	"$NETIMG" patch add --catalog "$P" "$T/one.tar" --id "PAR-$i" --severity low >/dev/null &
done
wait
is "$(jget "$P/catalog.json" 'join ",", sort { $a <=> $b } map { $_->{seq} } @{$d->{patches}}')" \
	"1,2,3,4,5,6,7,8" "eight concurrent adds are all kept"

done_testing
