#!/bin/bash
# .deb patches: the data archive is laid over the tree and dpkg's database
# in the image is updated as `dpkg --unpack` would leave it (status stanza,
# info/ files, files the old version dropped), with the known deliberate
# difference that conffiles are installed in place (a conffile the base had
# modified stays, the package's version goes beside it as .dpkg-dist).
# Every image is compared with a real `dpkg --root=DIR --unpack` of the same
# packages on the same base, and read back with dpkg-query and dpkg itself.
#
# Uses the fixture cache (scripts/prepare-fixtures): minbase.tar and the real
# Debian packages listed in debs/NEWER.txt (names and versions are read from
# it, never pinned here), plus tiny packages made with dpkg-deb --build.
source "$(dirname "$0")/../lib.sh"

for tool in dpkg dpkg-deb dpkg-query unsquashfs tar timeout perl md5sum; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "needs $tool"
done
[ "$(id -u)" = 0 ] || skip_all "needs root (dpkg --root keeps ownership)"
[ -f "$CACHE/minbase.tar" ] && [ -s "$CACHE/debs/NEWER.txt" ] ||
	skip_all "no fixture cache in $CACHE (run scripts/prepare-fixtures)"

ARCH=$(dpkg --print-architecture)
EPOCH=1767225600
export LC_ALL=C

# --- helpers ----------------------------------------------------------------


# skip NAME REASON: a skipped test.
skip() { _result 0 "$1 # SKIP $2"; }

# catalog DIR DEB...: a catalog with DEB-1, DEB-2... (in that order), all
# approved.
catalog() {
	local c=$1 i=0 f
	shift
	mkdir -p "$c" || return 1
	for f; do
		i=$((i + 1))
		"$NETIMG" patch add --catalog "$c" "$f" --id "DEB-$i" --severity important >/dev/null &&
			"$NETIMG" patch approve --catalog "$c" "DEB-$i" --by tester >/dev/null || return 1
	done
}

# recipe NAME BASE: $T/NAME/recipe.ini over the catalog $T/NAME/cat.
recipe() {
	mkdir -p "$T/$1"
	printf '[image]\nname = %s\nversion = 1\nepoch = %s\n[base]\nsource = %s\n[patches]\ncatalog = cat\n' \
		"$1" "$EPOCH" "$2" >"$T/$1/recipe.ini"
}

# build NAME BASE DEB...: builds $T/NAME/out.sqfs (record out.json) from BASE
# and the DEBs and extracts it to $T/NAME/ux.
build() {
	local n=$1 base=$2
	shift 2
	recipe "$n" "$base" && catalog "$T/$n/cat" "$@" &&
		timeout 300 "$NETIMG" build --quiet "$T/$n/recipe.ini" -o "$T/$n/out.sqfs" &&
		timeout 300 unsquashfs -q -d "$T/$n/ux" "$T/$n/out.sqfs" >/dev/null
}

# reference NAME BASE DEB...: BASE extracted to $T/NAME/real and the DEBs
# unpacked there by dpkg itself. --path-include='*' undoes any path-exclude
# in the host's dpkg.cfg.d (the image keeps every file).
reference() {
	local d=$T/$1 base=$2
	shift 2
	mkdir -p "$d/real" && tar -C "$d/real" -xf "$base" &&
		timeout 300 dpkg --root="$d/real" --force-script-chrootless --path-include='*' \
			--unpack "$@" >"$d/dpkg.out" 2>&1
}

# stanza ROOT PKG: PKG's stanza, as written in ROOT's status file.
stanza() { perl -00 -ne 'print if /^Package: \Q'"$2"'\E$/m' "$1/var/lib/dpkg/status"; }
# query ROOT ARGS...: dpkg-query on ROOT's database.
query() { local r=$1; shift; dpkg-query --admindir="$r/var/lib/dpkg" "$@" 2>&1; }
# info ROOT: the names in ROOT's var/lib/dpkg/info.
info() { ls "$1/var/lib/dpkg/info"; }
# verify ROOT PKG: dpkg --verify's output and exit code.
verify() { local out; out=$(timeout 300 dpkg --root="$1" --verify "$2" 2>&1); echo "rc=$? $out"; }
# listing ROOT PKG: dpkg -L.
listing() { timeout 300 dpkg --root="$1" -L "$2" 2>&1; }
# conf_line ROOT PKG PATH: the Conffiles line of PATH in PKG's stanza.
conf_line() { stanza "$1" "$2" | grep -E "^ $3 "; }
# no_conf_hash: the status file with the hashes of Conffiles lines blanked.
no_conf_hash() { sed -E 's/^( \/[^ ]+) [0-9a-f]{32}/\1 HASH/' "$1/var/lib/dpkg/status"; }

# --- tiny packages made with dpkg-deb ----------------------------------------

# fake NAME VERSION [FIELD-LINE]...: starts the package tree $T/pkg/NAME_VERSION
# with its DEBIAN/control.
fake() {
	local d=$T/pkg/$1_$2 f
	mkdir -p "$d/DEBIAN"
	{
		printf 'Package: %s\nVersion: %s\nArchitecture: all\n' "$1" "$2"
		printf 'Maintainer: netimg tests <tests@example.invalid>\n'
		shift 2
		for f; do printf '%s\n' "$f"; done
		printf 'Section: misc\nPriority: optional\nDescription: netimg test package\n'
		printf ' A package made by tests/t/60-deb.t.\n'
	} >"$d/DEBIAN/control"
}
# put NAME VERSION PATH CONTENT: a file of the package (PATH without '/').
put() { local f=$T/pkg/$1_$2/$3; mkdir -p "${f%/*}" && printf '%s\n' "$4" >"$f"; }
# conffile NAME VERSION PATH CONTENT: a conffile of the package.
conffile() { put "$1" "$2" "$3" "$4" && echo "/$3" >>"$T/pkg/$1_$2/DEBIAN/conffiles"; }
# pack NAME VERSION [nomd5]: DEBIAN/md5sums of every file but the conffiles
# (as dh_md5sums), then dpkg-deb --build to $T/pkg/NAME_VERSION_all.deb.
pack() {
	local d=$T/pkg/$1_$2
	if [ "${3:-}" != nomd5 ]; then
		(cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort |
			grep -vxF -f <(sed 's:^/::' DEBIAN/conffiles 2>/dev/null) |
			xargs -r md5sum) >"$T/pkg/md5sums" && mv "$T/pkg/md5sums" "$d/DEBIAN/md5sums"
	fi
	SOURCE_DATE_EPOCH=1700000000 dpkg-deb --root-owner-group --build "$d" \
		"$T/pkg/$1_$2_all.deb" >/dev/null
}
DEB() { echo "$T/pkg/$1_$2_all.deb"; }

fake netimg-demo 1.0
put netimg-demo 1.0 usr/share/netimg-demo/a "a 1.0"
put netimg-demo 1.0 usr/share/netimg-demo/b "b 1.0"
conffile netimg-demo 1.0 etc/netimg-demo.conf "conf 1.0"
pack netimg-demo 1.0
# 2.0 drops b and changes a and the conffile
fake netimg-demo 2.0
put netimg-demo 2.0 usr/share/netimg-demo/a "a 2.0"
conffile netimg-demo 2.0 etc/netimg-demo.conf "conf 2.0"
pack netimg-demo 2.0
# 3.0 drops all of /usr/share/netimg-demo/
fake netimg-demo 3.0
put netimg-demo 3.0 usr/share/doc/netimg-demo/changelog "3.0"
conffile netimg-demo 3.0 etc/netimg-demo.conf "conf 3.0"
pack netimg-demo 3.0
# 4.0 drops the conffile (and b)
fake netimg-demo 4.0
put netimg-demo 4.0 usr/share/netimg-demo/a "a 4.0"
pack netimg-demo 4.0
# another package with a file in netimg-demo's folder
fake netimg-other 1.0
put netimg-other 1.0 usr/share/netimg-demo/other "other 1.0"
put netimg-other 1.0 usr/share/doc/netimg-other/copyright "other's copyright"
pack netimg-other 1.0
# takes netimg-other's file over (Replaces)
fake netimg-taker 1.0 "Replaces: netimg-other"
put netimg-taker 1.0 usr/share/netimg-demo/other "taken over"
pack netimg-taker 1.0
# control fields dpkg writes in its own way
fake netimg-fields 1.0 "Homepage: https://example.invalid/" "Important: yes" "Protected: yes" \
	"Essential: no" "Multi-Arch: no" "Installed-Size: 7"
put netimg-fields 1.0 usr/share/netimg-fields/f "fields"
pack netimg-fields 1.0
# a package without DEBIAN/md5sums
fake netimg-nomd5 1.0
put netimg-nomd5 1.0 usr/share/netimg-nomd5/f "no md5sums"
pack netimg-nomd5 1.0 nomd5

MD5_CONF2=$(md5sum <"$T/pkg/netimg-demo_2.0/etc/netimg-demo.conf" | cut -d' ' -f1)
MD5_CONF3=$(md5sum <"$T/pkg/netimg-demo_3.0/etc/netimg-demo.conf" | cut -d' ' -f1)

# --- 1. minbase + every newer Debian package -----------------------------------
PKGS=() OLDV=() NEWV=() DEBS=()
while read -r p o n f; do
	[ -n "${p:-}" ] || continue
	PKGS+=("$p") OLDV+=("$o") NEWV+=("$n") DEBS+=("$CACHE/debs/$f")
done <"$CACHE/debs/NEWER.txt"

A=$T/A
ok "build: minbase + every package of NEWER.txt" build A "$CACHE/minbase.tar" "${DEBS[@]}"
ok "reference: dpkg --unpack of the same packages on minbase" reference A "$CACHE/minbase.tar" "${DEBS[@]}"

for i in "${!PKGS[@]}"; do
	p=${PKGS[$i]}
	is "$(query "$A/ux" -s "$p")" "$(query "$A/real" -s "$p")" "$p: dpkg-query -s as after dpkg --unpack"
	is "$(listing "$A/ux" "$p")" "$(listing "$A/real" "$p")" "$p: dpkg -L as after dpkg --unpack"
	is "$(verify "$A/ux" "$p")" "rc=0 " "$p: dpkg --verify finds nothing"
	is "$(query "$A/ux" -W -f='${Version} ${Status}' "$p")" "${NEWV[$i]} install ok unpacked" \
		"$p: dpkg-query -W: the new version, unpacked"
done
ok "the status file is the one dpkg --unpack writes" cmp "$A/real/var/lib/dpkg/status" "$A/ux/var/lib/dpkg/status"
is "$(info "$A/ux")" "$(info "$A/real")" "info/ holds the files dpkg --unpack leaves"
ok "info/ files have dpkg's contents" diff -r "$A/real/var/lib/dpkg/info" "$A/ux/var/lib/dpkg/info"

# The whole tree: what dpkg --unpack leaves but for its .dpkg-new conffiles
# (installed in place here), netimg's etc/netimg-release and what the
# reference's trigger run (ldconfig) and dpkg's backups touched.
tree() {
	(cd "$1" && find . -printf '%p %y %m %U %G %l\n' | grep -vE '\.dpkg-new |^\./etc/netimg-release ' | sort)
}
sums() {
	(cd "$1" && find . -type f ! -name '*.dpkg-new' ! -path ./etc/netimg-release \
		! -path ./etc/ld.so.cache ! -path './var/cache/ldconfig/*' ! -path './var/lib/dpkg/*-old' \
		-print0 | sort -z | xargs -0 md5sum)
}
ok "the image has the reference's paths, types, modes, owners and link targets" \
	diff <(tree "$A/real") <(tree "$A/ux")
ok "the image's files have the reference's contents" diff <(sums "$A/real") <(sums "$A/ux")
newconf=$(cd "$A/real" && find . -name '*.dpkg-new' | sort)
bad=
for f in $newconf; do cmp -s "$A/real/$f" "$A/ux/${f%.dpkg-new}" || bad="$bad $f"; done
is "$bad" "" "conffiles are installed in place: each FILE.dpkg-new of dpkg --unpack is FILE here"

# a Multi-Arch: same package: liblzma5 if it is there, else the first listed
MA= MADEB=
for i in "${!PKGS[@]}"; do
	[ "${PKGS[$i]}" = liblzma5 ] && MA=liblzma5 MADEB=${DEBS[$i]}
done
if [ -z "$MA" ]; then
	for i in "${!PKGS[@]}"; do
		if [ "$(dpkg-deb -f "${DEBS[$i]}" Multi-Arch)" = same ]; then
			MA=${PKGS[$i]} MADEB=${DEBS[$i]}
			break
		fi
	done
fi
if [ -n "$MA" ]; then
	re=$(printf '%s' "$MA" | sed 's/[.+]/\\&/g')
	names=$(info "$A/ux" | grep -E "^$re[.:]" | tr '\n' ' ')
	like "$names" "^($re:$ARCH\.[a-z0-9]+ )+$" "$MA (Multi-Arch: same): info files are named $MA:$ARCH.*"
	like "$names" "$re:$ARCH\.list .*$re:$ARCH\.md5sums" "$MA: $MA:$ARCH.list and .md5sums"
else
	skip "Multi-Arch: same info file names" "no Multi-Arch: same package in NEWER.txt"
	skip "Multi-Arch: same .list and .md5sums" "no Multi-Arch: same package in NEWER.txt"
fi
is "$(stat -c %F "$A/ux/lib" 2>&1) $(readlink "$A/ux/lib")" "symbolic link usr/lib" "lib is still the symlink to usr/lib"
LIBS=
[ -n "$MA" ] && LIBS=$(dpkg-deb -c "$MADEB" | awk '$1 ~ /^-/ && $6 ~ /^\.\/lib\// { print substr($6, 3) }')
if [ -n "$LIBS" ]; then
	mkdir -p "$T/madeb" && dpkg-deb -x "$MADEB" "$T/madeb"
	bad=
	for f in $LIBS; do
		{ [ -f "$A/ux/usr/$f" ] && [ ! -L "$A/ux/usr/$f" ] && cmp -s "$T/madeb/$f" "$A/ux/usr/$f" &&
			cmp -s "$A/real/usr/$f" "$A/ux/usr/$f"; } || bad="$bad $f"
	done
	is "$bad" "" "$MA's ./lib/ files (${LIBS//$'\n'/ }) are in usr/lib/, the new package's, as in the reference"
else
	skip "files shipped under ./lib/ land in usr/lib/" "no Multi-Arch: same package shipping ./lib/"
fi

# --- 6. the build record -------------------------------------------------------
want=
for i in "${!PKGS[@]}"; do
	want="$want$((i + 1)) deb ${PKGS[$i]} ${NEWV[$i]} ${OLDV[$i]} false"$'\n'
done
is "$(jget "$A/out.json" 'join "", map { my $p = $d->{patches}[$_]; join(" ", $_ + 1,
	map({ $p->{$_} // "null" } qw(kind package version replaced_version)),
	JSON::PP::is_bool($p->{maintainer_scripts_run}) && !$p->{maintainer_scripts_run} ? "false" : "not false") . "\n"
	} 0 .. $#{$d->{patches}}')" "${want%$'\n'}" \
	"record: each deb patch with kind, package, version, replaced_version, maintainer_scripts_run false"
like "$(jget "$A/out.json" '$d->{maintainer_scripts}')" "not run" "record: maintainer_scripts says they are not run"
rm -rf "$A"

# --- 2. files the old version had and the new one dropped ----------------------
# base1: minbase with netimg-demo 1.0 really installed
B1=$T/base1
mkdir -p "$B1"
ok "base: netimg-demo 1.0 installed into minbase by dpkg -i" sh -c '
	tar -C "$1" -xf "$2" &&
	timeout 300 dpkg --root="$1" --force-script-chrootless -i "$3" &&
	tar -C "$1" -cf "$1.tar" .' sh "$B1" "$CACHE/minbase.tar" "$(DEB netimg-demo 1.0)"
is "$(query "$B1" -W -f='${Version} ${Status}' netimg-demo)" "1.0 install ok installed" "base: netimg-demo 1.0 is installed"
# base3: the same with the conffile edited after the install
echo "edited by the admin" >"$B1/etc/netimg-demo.conf"
tar -C "$B1" -cf "$T/base3.tar" .
rm -rf "$B1"

B=$T/B
ok "build: base1 + netimg-demo 2.0" build B "$T/base1.tar" "$(DEB netimg-demo 2.0)"
ok "reference: dpkg --unpack netimg-demo 2.0 on base1" reference B "$T/base1.tar" "$(DEB netimg-demo 2.0)"
ok "b, dropped by 2.0, is gone" test ! -e "$B/ux/usr/share/netimg-demo/b" -a ! -L "$B/ux/usr/share/netimg-demo/b"
is "$(cat "$B/ux/usr/share/netimg-demo/a" 2>&1)" "a 2.0" "a has 2.0's content"
is "$(cat "$B/ux/etc/netimg-demo.conf" 2>&1)" "conf 2.0" "the unmodified conffile has 2.0's content"
ok "no .dpkg-new or .dpkg-dist beside it" test ! -e "$B/ux/etc/netimg-demo.conf.dpkg-new" -a ! -e "$B/ux/etc/netimg-demo.conf.dpkg-dist"
is "$(query "$B/ux" -W -f='${Status}|${Version}|${Config-Version}' netimg-demo)" "install ok unpacked|2.0|1.0" \
	"status: install ok unpacked, Version 2.0, Config-Version 1.0"
ok "netimg-demo.list does not list b" sh -c '! grep -qx /usr/share/netimg-demo/b "$1"' sh \
	"$B/ux/var/lib/dpkg/info/netimg-demo.list"
is "$(listing "$B/ux" netimg-demo)" "$(listing "$B/real" netimg-demo)" "dpkg -L netimg-demo as after dpkg --unpack"
is "$(verify "$B/ux" netimg-demo)" "rc=0 " "dpkg --verify netimg-demo finds nothing"
is "$(info "$B/ux")" "$(info "$B/real")" "info/ names as after dpkg --unpack"
ok "status as after dpkg --unpack but for the Conffiles hashes" diff <(no_conf_hash "$B/real") <(no_conf_hash "$B/ux")
# dpkg --unpack leaves the new conffile as .dpkg-new and keeps 1.0's hash
# until configure; here it is in place, so its hash is 2.0's.
echo "# Conffiles line: dpkg --unpack '$(conf_line "$B/real" netimg-demo /etc/netimg-demo.conf)'," \
	"netimg '$(conf_line "$B/ux" netimg-demo /etc/netimg-demo.conf)'"
is "$(conf_line "$B/ux" netimg-demo /etc/netimg-demo.conf)" " /etc/netimg-demo.conf $MD5_CONF2" \
	"Conffiles records the hash of 2.0's conffile, which is in place"
is "$(jget "$B/out.json" 'join " ", map { $d->{patches}[0]{$_} // "null" } qw(package version replaced_version files_removed conffiles_kept)')" \
	"netimg-demo 2.0 1.0 1 0" "record: netimg-demo 2.0 replaced 1.0, one file removed"
rm -rf "$B"

# --- 2a. a patched package's info files keep the base's place ---------------
# netimg-demo 1.0 again over base1, where it is installed: its info files
# come out the same and are written where the base had them, so each stays
# in the fragment block it had, with the same neighbours (not moved to the
# end beside /etc/netimg-release).
# group DIR PATH: the paths whose tails share PATH's fragment block.
group() {
	"$NETIMG" inspect --files "$T/$1/out.sqfs" | awk -v p="$2" '
		{ frag[NR] = $5; path[NR] = $7; if ($7 == p) want = $5 }
		END { for (i = 1; i <= NR; i++) if (frag[i] == want && want != "-") print path[i] }'
}
ok "build: base1 alone" build B0 "$T/base1.tar"
ok "build: base1 + netimg-demo 1.0 again" build B1 "$T/base1.tar" "$(DEB netimg-demo 1.0)"
for f in netimg-demo.list netimg-demo.md5sums; do
	g0=$(group B0 "/var/lib/dpkg/info/$f" | tr '\n' ' ')
	g1=$(group B1 "/var/lib/dpkg/info/$f" | tr '\n' ' ')
	ok "$f: in a fragment block" test -n "$g1"
	is "$g1" "$g0" "$f: the same fragment block neighbours as without the patch"
done
rm -rf "$T/B0" "$T/B1"

# --- 2b/4. a folder another package also ships; a package new to the base ------
C=$T/C
ok "build: base1 + netimg-other 1.0 (new) + netimg-demo 3.0" build C "$T/base1.tar" \
	"$(DEB netimg-other 1.0)" "$(DEB netimg-demo 3.0)"
ok "reference: dpkg --unpack of both on base1" reference C "$T/base1.tar" \
	"$(DEB netimg-other 1.0)" "$(DEB netimg-demo 3.0)"
ok "a and b, dropped by 3.0, are gone" test ! -e "$C/ux/usr/share/netimg-demo/a" -a ! -e "$C/ux/usr/share/netimg-demo/b"
is "$(ls -A "$C/ux/usr/share/netimg-demo" 2>&1)" "other" \
	"/usr/share/netimg-demo, dropped by 3.0 but holding netimg-other's file, stays"
is "$(ls -A "$C/ux/usr/share/netimg-demo" 2>&1)" "$(ls -A "$C/real/usr/share/netimg-demo" 2>&1)" \
	"the folder as after dpkg --unpack"
is "$(cat "$C/ux/etc/netimg-demo.conf" 2>&1)" "conf 3.0" "the conffile has 3.0's content"
is "$(listing "$C/ux" netimg-demo)" "$(listing "$C/real" netimg-demo)" "dpkg -L netimg-demo as after dpkg --unpack"
is "$(verify "$C/ux" netimg-demo)" "rc=0 " "dpkg --verify netimg-demo finds nothing"
is "$(conf_line "$C/ux" netimg-demo /etc/netimg-demo.conf)" " /etc/netimg-demo.conf $MD5_CONF3" \
	"Conffiles records the hash of 3.0's conffile"
ok "status as after dpkg --unpack but for the Conffiles hashes" diff <(no_conf_hash "$C/real") <(no_conf_hash "$C/ux")
order=$(grep '^Package: ' "$C/ux/var/lib/dpkg/status" | cut -d' ' -f2)
is "$order" "$(printf '%s\n' "$order" | sort)" "status: stanzas stay in package-name order"
is "$(stanza "$C/ux" netimg-other)" "$(stanza "$C/real" netimg-other)" "netimg-other: its stanza as dpkg --unpack writes it"
like "$(stanza "$C/ux" netimg-other)" "Status: install ok unpacked" "netimg-other: install ok unpacked"
ok "netimg-other: no Config-Version (it was not installed)" sh -c '! grep -q "^Config-Version" "$1"' sh \
	<(stanza "$C/ux" netimg-other)
is "$(info "$C/ux" | grep '^netimg-other\.' | tr '\n' ' ')" "netimg-other.list netimg-other.md5sums " \
	"netimg-other: its info files"
is "$(info "$C/ux")" "$(info "$C/real")" "info/ names as after dpkg --unpack"
ok "netimg-other: info files as after dpkg --unpack" sh -c 'for f in list md5sums; do
	cmp "$1/netimg-other.$f" "$2/netimg-other.$f" || exit 1; done' sh \
	"$C/real/var/lib/dpkg/info" "$C/ux/var/lib/dpkg/info"
is "$(query "$C/ux" -W netimg-other)" "netimg-other	1.0" "netimg-other: dpkg-query -W"
is "$(listing "$C/ux" netimg-other)" "$(listing "$C/real" netimg-other)" "netimg-other: dpkg -L as after dpkg --unpack"
is "$(verify "$C/ux" netimg-other)" "rc=0 " "netimg-other: dpkg --verify finds nothing"
is "$(jget "$C/out.json" 'join " ", map { $_->{package} . "=" . ($_->{replaced_version} // "null") } @{$d->{patches}}')" \
	"netimg-other=null netimg-demo=1.0" "record: replaced_version is null for a new package"
rm -rf "$C"

# --- 3. a conffile the base had modified ----------------------------------------
D=$T/D
ok "build: base1 with the conffile edited + netimg-demo 2.0" build D "$T/base3.tar" "$(DEB netimg-demo 2.0)"
is "$(cat "$D/ux/etc/netimg-demo.conf" 2>&1)" "edited by the admin" "the edited conffile stays"
is "$(cat "$D/ux/etc/netimg-demo.conf.dpkg-dist" 2>&1)" "conf 2.0" "2.0's version is beside it as .dpkg-dist"
ok "b is gone" test ! -e "$D/ux/usr/share/netimg-demo/b"
is "$(cat "$D/ux/usr/share/netimg-demo/a" 2>&1)" "a 2.0" "a has 2.0's content"
is "$(query "$D/ux" -W -f='${Status}|${Version}|${Config-Version}' netimg-demo)" "install ok unpacked|2.0|1.0" \
	"status: install ok unpacked, Version 2.0, Config-Version 1.0"
is "$(conf_line "$D/ux" netimg-demo /etc/netimg-demo.conf)" " /etc/netimg-demo.conf $MD5_CONF2" \
	"Conffiles records 2.0's hash (as dpkg --force-confold configure would)"
is "$(verify "$D/ux" netimg-demo)" "rc=0 ??5?????? c /etc/netimg-demo.conf" \
	"dpkg --verify flags the modified conffile only"
is "$(jget "$D/out.json" '$d->{patches}[0]{conffiles_kept} . " " . $d->{patches}[0]{files_removed}')" "1 1" \
	"record: one conffile kept, one file removed"
rm -rf "$D" "$T/base3.tar"

# --- more of dpkg --unpack: a tiny base with a dpkg database ---------------------
# td: an empty root with netimg-demo 1.0 and netimg-other 1.0 installed by dpkg
TD=$T/td
mkdir -p "$TD/var/lib/dpkg/info" "$TD/var/lib/dpkg/updates" "$TD/etc"
: >"$TD/var/lib/dpkg/status"
echo 1 >"$TD/var/lib/dpkg/info/format"
ok "tiny base: netimg-demo 1.0 and netimg-other 1.0 installed by dpkg -i" sh -c '
	timeout 300 dpkg --root="$1" --force-script-chrootless -i "$2" "$3" && tar -C "$1" -cf "$1.tar" .' \
	sh "$TD" "$(DEB netimg-demo 1.0)" "$(DEB netimg-other 1.0)"
E=$T/E
EDEBS=("$(DEB netimg-demo 4.0)" "$(DEB netimg-taker 1.0)" "$(DEB netimg-fields 1.0)" "$(DEB netimg-nomd5 1.0)")
ok "build: tiny base + netimg-demo 4.0, netimg-taker, netimg-fields, netimg-nomd5" build E "$TD.tar" "${EDEBS[@]}"
ok "reference: dpkg --unpack of the same on the tiny base" reference E "$TD.tar" "${EDEBS[@]}"
# dpkg never deletes a conffile the new version dropped: it stays on disk,
# in the .list and in Conffiles, marked obsolete.
is "$(cat "$E/ux/etc/netimg-demo.conf" 2>&1)" "conf 1.0" "a conffile 4.0 dropped stays on disk (as dpkg keeps it)"
is "$(stanza "$E/ux" netimg-demo)" "$(stanza "$E/real" netimg-demo)" \
	"netimg-demo 4.0: stanza as dpkg --unpack writes it (Conffiles: the dropped one, obsolete)"
is "$(listing "$E/ux" netimg-demo)" "$(listing "$E/real" netimg-demo)" "netimg-demo 4.0: dpkg -L as after dpkg --unpack"
# a file taken over (Replaces) leaves its old owner's list
is "$(listing "$E/ux" netimg-other)" "$(listing "$E/real" netimg-other)" \
	"a file taken over by netimg-taker leaves netimg-other's list (dpkg -L)"
is "$(query "$E/ux" -S /usr/share/netimg-demo/other)" "$(query "$E/real" -S /usr/share/netimg-demo/other)" \
	"dpkg-query -S names only the new owner"
is "$(verify "$E/ux" netimg-other)" "rc=0 " "netimg-other: dpkg --verify finds nothing"
# status fields as dpkg writes them (Protected after Essential; Essential: no
# and Multi-Arch: no are defaults it leaves out)
is "$(stanza "$E/ux" netimg-fields)" "$(stanza "$E/real" netimg-fields)" \
	"netimg-fields: stanza as dpkg --unpack writes it (field order and defaults)"
# dpkg writes PKG.md5sums for a package that ships none
is "$(info "$E/ux" | grep '^netimg-nomd5\.' | tr '\n' ' ')" "$(info "$E/real" | grep '^netimg-nomd5\.' | tr '\n' ' ')" \
	"netimg-nomd5 (no md5sums in the package): info files as after dpkg --unpack"
is "$(verify "$E/ux" netimg-nomd5)" "$(verify "$E/real" netimg-nomd5)" "netimg-nomd5: dpkg --verify as after dpkg --unpack"
ok "the status file is the one dpkg --unpack writes" cmp "$E/real/var/lib/dpkg/status" "$E/ux/var/lib/dpkg/status"
is "$(info "$E/ux")" "$(info "$E/real")" "info/ names as after dpkg --unpack"
rm -rf "$E"

# --- 5. refused ------------------------------------------------------------------
# a base without a dpkg database
mkdir -p "$T/nodb/etc"
echo nodb >"$T/nodb/etc/hostname"
tar -C "$T/nodb" -cf "$T/nodb.tar" .
recipe F "$T/nodb.tar"
catalog "$T/F/cat" "$(DEB netimg-demo 2.0)"
fails "a .deb on a base without a dpkg database is refused" \
	'netimg-demo_2\.0_all\.deb: .*dpkg database.*missing' \
	timeout 300 "$NETIMG" build --quiet "$T/F/recipe.ini" -o "$T/F/out.sqfs"
ok "no image is left" test ! -e "$T/F/out.sqfs"

# corrupt (truncated) packages, on the tiny base with a database
GOOD=$(DEB netimg-demo 2.0)
SIZE=$(stat -c %s "$GOOD")
# ar members: "!<arch>\n", then per member a 60-byte header and the data
# (padded to even): debian-binary, control.tar.*, data.tar.*
CTL_AT=$((8 + 60 + 4 + 60))
CTL_SIZE=$(head -c $((CTL_AT - 2)) "$GOOD" | tail -c 10 | tr -d ' ')
DATA_AT=$((CTL_AT + CTL_SIZE + CTL_SIZE % 2 + 60))
n=0
for cut in $((CTL_AT + 20)) $((CTL_AT + CTL_SIZE / 2)) $((DATA_AT - 30)) $((DATA_AT + 20)) $((SIZE - 1)); do
	n=$((n + 1))
	head -c "$cut" "$GOOD" >"$T/pkg/cut$n.deb"
	recipe "G$n" "$TD.tar"
	catalog "$T/G$n/cat" "$T/pkg/cut$n.deb"
	fails "a .deb truncated to $cut of $SIZE bytes is refused with one line naming it" "cut$n\.deb" \
		timeout 300 "$NETIMG" build --quiet "$T/G$n/recipe.ini" -o "$T/G$n/out.sqfs"
	ok "no image is left ($cut bytes)" test ! -e "$T/G$n/out.sqfs"
done

plan "$_n"
done_testing
