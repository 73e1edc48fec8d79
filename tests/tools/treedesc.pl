#!/usr/bin/perl
# treedesc.pl DIR: one line per entry of the tree under DIR, sorted by
# path, saying everything a mount must get right: type, permission bits,
# owner, group, mtime, link count, size and SHA-256 of files, device
# numbers, symlink targets, which paths are hard links of one another
# (the first path of the group) and the extended attributes (from one
# `getfattr -R` run). Two trees are equal when their descriptions are.
use strict;
use warnings;
use Digest::SHA;
use Fcntl ':mode';

my $top = shift or die "usage: treedesc.pl DIR\n";
$top =~ s{/+$}{};

# xattrs: getfattr prints "# file: PATH", then name=0xHEX lines
my %xattr;
{
	open(my $g, '-|', 'getfattr', '-R', '-h', '-d', '-m', '-', '-e', 'hex',
	     '--absolute-names', $top) or die "getfattr: $!\n";
	my $file;
	while (<$g>) {
		chomp;
		if (/^# file: (.*)$/) { $file = $1; $file =~ s{^\Q$top\E/?}{}; next; }
		next if $_ eq '' || !defined $file;
		push @{ $xattr{$file} }, $_;
	}
	close($g);
}

my (@paths, %st);
sub walk {
	my ($rel) = @_;
	my $abs = $rel eq '' ? $top : "$top/$rel";
	my @s = lstat($abs) or die "lstat $abs: $!\n";
	push @paths, $rel;
	$st{$rel} = \@s;
	return unless S_ISDIR($s[2]);
	opendir(my $d, $abs) or die "opendir $abs: $!\n";
	my @kids = sort grep { $_ ne '.' && $_ ne '..' } readdir($d);
	closedir($d);
	walk($rel eq '' ? $_ : "$rel/$_") for @kids;
}
walk('');

my %first;    # "dev:ino" of multiply-linked non-folders -> first path
for my $p (sort @paths) {
	my $s = $st{$p};
	next if S_ISDIR($s->[2]) || $s->[3] < 2;
	$first{"$s->[0]:$s->[1]"} //= $p;
}

for my $p (sort @paths) {
	my ($dev, $ino, $mode, $nlink, $uid, $gid, $rdev, $size, $atime, $mtime)
		= @{ $st{$p} };
	my $abs = $p eq '' ? $top : "$top/$p";
	my $line = sprintf("%s type=%o perm=%04o uid=%d gid=%d mtime=%d nlink=%d",
			   $p eq '' ? '.' : $p, S_IFMT($mode) >> 12,
			   S_IMODE($mode), $uid, $gid, $mtime, $nlink);
	if (S_ISREG($mode)) {
		my $sha = Digest::SHA->new(256);
		open(my $f, '<:raw', $abs) or die "open $abs: $!\n";
		$sha->addfile($f);
		close($f) or die "read $abs: $!\n";
		$line .= " size=$size sha256=" . $sha->hexdigest;
	} elsif (S_ISLNK($mode)) {
		my $t = readlink($abs) // die "readlink $abs: $!\n";
		$line .= " target=$t";
	} elsif (S_ISBLK($mode) || S_ISCHR($mode)) {
		$line .= sprintf(" rdev=%d:%d", ($rdev >> 8) & 0xfff,
				 ($rdev & 0xff) | (($rdev >> 12) & 0xfff00));
	}
	if (!S_ISDIR($mode) && $nlink > 1) {
		$line .= " link=" . $first{"$dev:$ino"};
	}
	$line .= " xattr=" . join(',', sort @{ $xattr{$p} }) if $xattr{$p};
	print "$line\n";
}
