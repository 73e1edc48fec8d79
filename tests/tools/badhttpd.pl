#!/usr/bin/perl
# badhttpd.pl: a small HTTP/1.1 file server for the fetch tests, which
# misbehaves on request. Core perl only.
#
#   badhttpd.pl --root DIR [--port N] [--lifetime SECS] [--log FILE]
#               [--mode MODE] [--flaky N] [--rate BYTES] [--only REGEX]
#
# Listens on 127.0.0.1:N (0, the default: any free port) and prints the
# port on a line of its own. Forks per connection, keeps connections alive,
# and exits after --lifetime seconds (default 120), taking its children
# with it; SIGTERM does the same at once. Each request is logged as
#   PID METHOD TARGET RANGE
# (PID: the connection's process, RANGE: the Range header or "-").
# --rate sends bodies at about BYTES a second per connection (a slow link).
#
# The first path segment may pick a behaviour for that request; otherwise
# --mode does (default ok). The rest of the path names a file under DIR.
#   ok         the file, with Range (206), ETag/If-None-Match (304)
#   404, 500   that status
#   short      Content-Length of the whole body, half of it sent, close
#   long       Content-Length of half the body, all of it sent, close
#   stall      headers and half the body, then silence until killed
#   reset      the request read, then the connection reset, no answer
#   fullrange  a Range request answered 200 with the whole file
#   badrange   a Range request answered 206 for bytes shifted by one
#   corrupt    as ok, with the first byte of every body flipped
#   chunked    as ok, without Content-Length (chunked transfer coding)
#   flaky      500 for the first --flaky (default 2) requests of a target
# With --only, a misbehaviour applies only to targets matching REGEX (a
# perl regular expression); the others are served ok.
# A request for an absolute URI (http://host/path) is served the same way,
# as a forward proxy that happens to hold every host's files.
use strict;
use warnings;
use Fcntl qw(:flock O_RDONLY SEEK_SET);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(strftime setpgid);
use Socket qw(SOL_SOCKET SO_LINGER);

my %opt = (port => 0, lifetime => 120, mode => 'ok', flaky => 2, log => '',
	rate => 0, only => '');
while (@ARGV) {
	my $k = shift @ARGV;
	$k =~ /^--(root|port|lifetime|log|mode|flaky|rate|only)$/ && @ARGV
		or die "usage: badhttpd.pl --root DIR [--port N] [--lifetime S] "
		. "[--log FILE] [--mode MODE] [--flaky N] [--rate BYTES] "
		. "[--only REGEX]\n";
	$opt{$1} = shift @ARGV;
}
defined $opt{root} or die "badhttpd.pl: --root is required\n";
my %modes = map { $_ => 1 }
	qw(ok 404 500 short long stall reset fullrange badrange corrupt flaky
	chunked);
$modes{$opt{mode}} or die "badhttpd.pl: unknown mode $opt{mode}\n";

my $end = time + $opt{lifetime};
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	LocalPort => $opt{port}, Listen => 128, ReuseAddr => 1,
	Proto => 'tcp') or die "badhttpd.pl: listen: $!\n";
setpgid(0, 0);
$| = 1;
print $srv->sockport, "\n";

sub quit { local $SIG{TERM} = 'IGNORE'; kill 'TERM', -$$; exit 0; }
$SIG{TERM} = $SIG{INT} = $SIG{ALRM} = \&quit;
$SIG{CHLD} = 'IGNORE';
alarm $opt{lifetime};

while (1) {
	my $c = $srv->accept or next;
	my $pid = fork;
	if (defined $pid && $pid == 0) {
		$SIG{TERM} = $SIG{INT} = 'DEFAULT';
		$SIG{ALRM} = sub { exit 0 };
		alarm(($end - time) > 1 ? $end - time : 1);
		close $srv;
		serve($c);
		exit 0;
	}
	close $c;
}

sub logline {
	my ($line) = @_;
	return if $opt{log} eq '';
	open(my $f, '>>', $opt{log}) or return;
	flock($f, LOCK_EX);
	print $f "$$ $line\n";
	close $f;
}

# How many requests for TARGET the log holds so far.
sub seen {
	my ($target) = @_;
	open(my $f, '<', $opt{log}) or return 0;
	flock($f, LOCK_SH);
	my $n = grep { (split / /)[2] eq $target } <$f>;
	close $f;
	return $n;
}

sub send_all {
	my ($c, $data) = @_;
	while (length $data) {
		my $n = syswrite($c, $data);
		return 0 unless defined $n && $n > 0;
		substr($data, 0, $n) = '';
	}
	return 1;
}

# Reads one request (line and headers); undef when the client is gone.
sub read_request {
	my ($c, $bufref) = @_;
	my $sel = IO::Select->new($c);
	while ($$bufref !~ /\r?\n\r?\n/) {
		return undef if length $$bufref > 65536 || !$sel->can_read(30);
		my $n = sysread($c, $$bufref, 65536, length $$bufref);
		return undef unless $n;
	}
	$$bufref =~ s/^(.*?)\r?\n\r?\n//s;
	my ($line, @hdrs) = split /\r?\n/, $1;
	my ($method, $target, $ver) = split / /, $line // '';
	return undef unless defined $ver;
	my %h;
	for (@hdrs) { $h{lc $1} = $2 if /^([^:]+):\s*(.*?)\s*$/; }
	return { method => $method, target => $target, h => \%h };
}

sub send_chunked {
	my ($c, $h, $file, $lo, $hi) = @_;
	$h =~ s/Content-Length: \d+/Transfer-Encoding: chunked/;
	send_all($c, $h) or return 0;
	for (my $p = $lo; $p <= $hi; $p += 65536) {
		my $data = slice($file, $p, $p + 65535 < $hi ? $p + 65535 : $hi);
		send_all($c, sprintf("%x\r\n%s\r\n", length $data, $data))
			or return 0;
	}
	return send_all($c, "0\r\n\r\n");
}

sub head {
	my ($status, $len, @extra) = @_;
	my %text = (200 => 'OK', 206 => 'Partial Content', 304 => 'Not Modified',
		404 => 'Not Found', 416 => 'Range Not Satisfiable',
		500 => 'Internal Server Error');
	return join("\r\n", "HTTP/1.1 $status " . ($text{$status} // 'X'),
		"Content-Length: $len", "Server: badhttpd", @extra, '', '');
}

sub error {
	my ($c, $status) = @_;
	my $body = "error $status\n";
	return send_all($c, head($status, length $body) . $body);
}

# The file's bytes [a, b].
sub slice {
	my ($path, $lo, $hi) = @_;
	sysopen(my $f, $path, O_RDONLY) or return undef;
	sysseek($f, $lo, SEEK_SET);
	my ($data, $want) = ('', $hi - $lo + 1);
	while ($want > 0) {
		my $n = sysread($f, $data, $want, length $data);
		last unless $n;
		$want -= $n;
	}
	return $data;
}

# "bytes=A-B", "bytes=A-" or "bytes=-N" against size: (a, b) or () if
# unsatisfiable.
sub parse_range {
	my ($r, $size) = @_;
	return () unless $r =~ /^bytes=(\d*)-(\d*)$/ && ($1 ne '' || $2 ne '');
	my ($lo, $hi) = ($1, $2);
	if ($lo eq '') { $lo = $size - $hi; $lo = 0 if $lo < 0; $hi = $size - 1; }
	$hi = $size - 1 if $hi eq '' || $hi >= $size;
	return () if $lo > $hi || $lo >= $size;
	return ($lo, $hi);
}

sub serve {
	my ($c) = @_;
	my $buf = '';
	while (my $req = read_request($c, \$buf)) {
		my $range = $req->{h}{range} // '-';
		my $t = $req->{target};
		my $n = $opt{mode} eq 'flaky' || $t =~ m{^(?:https?://[^/]*)?/flaky/}
			? seen($t) : 0;
		logline("$req->{method} $t $range");
		last unless answer($c, $req, $n);
		last if lc($req->{h}{connection} // '') eq 'close';
	}
	close $c;
}

# Answers one request; false when the connection must close.
sub answer {
	my ($c, $req, $seen) = @_;
	my $path = $req->{target};
	$path =~ s{^https?://[^/]*}{};
	$path =~ s/\?.*//;
	my $mode = $opt{mode};
	if ($path =~ m{^/([^/]+)/} && $modes{$1}) {
		$mode = $1;
		$path =~ s{^/[^/]+}{};
	}
	$path =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
	$mode = 'ok' if $opt{only} ne '' && $path !~ /$opt{only}/;
	return error($c, 404) if $mode eq '404' || $path =~ m{(^|/)\.\.(/|$)};
	return error($c, 500) if $mode eq '500' ||
		($mode eq 'flaky' && $seen < $opt{flaky});
	if ($mode eq 'reset') {
		setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
		return 0;
	}
	my $file = "$opt{root}$path";
	return error($c, 404) unless -f $file;
	return send_file($c, $req, $mode, $file);
}

sub send_file {
	my ($c, $req, $mode, $file) = @_;
	my ($size, $mtime) = (stat $file)[7, 9];
	my $etag = "\"$size-$mtime\"";
	my @meta = ("ETag: $etag", 'Accept-Ranges: bytes', 'Last-Modified: '
		. strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime $mtime));
	my $inm = $req->{h}{'if-none-match'};
	return send_all($c, head(304, 0, @meta))
		if defined $inm && $inm eq $etag && $mode ne 'corrupt';
	my ($status, $lo, $hi) = (200, 0, $size - 1);
	my $r = $req->{h}{range};
	if (defined $r && $mode ne 'fullrange') {
		($lo, $hi) = parse_range($r, $size);
		unless (defined $lo) {
			return send_all($c, head(416, 0, "Content-Range: bytes */$size"));
		}
		$status = 206;
		if ($mode eq 'badrange') {
			my $d = $hi + 1 < $size ? 1 : ($lo > 0 ? -1 : 0);
			($lo, $hi) = ($lo + $d, $hi + $d);
		}
		push @meta, "Content-Range: bytes $lo-$hi/$size";
	}
	return send_body($c, $req, $mode, $file, $status, $lo, $hi, @meta);
}

sub send_body {
	my ($c, $req, $mode, $file, $status, $lo, $hi, @meta) = @_;
	my $len = $hi - $lo + 1;
	my $h = head($status, $len, @meta);
	return send_all($c, $h) if $req->{method} eq 'HEAD';
	return send_chunked($c, $h, $file, $lo, $hi) if $mode eq 'chunked';
	my $half = int($len / 2);
	if ($mode eq 'long') {
		$h =~ s/Content-Length: \d+/Content-Length: $half/;
		send_all($c, $h . slice($file, $lo, $hi));
		return 0;
	}
	if ($mode eq 'short' || $mode eq 'stall') {
		send_all($c, $h . slice($file, $lo, $lo + $half - 1));
		sleep($end - time) if $mode eq 'stall' && $end > time;
		return 0;
	}
	# The headers go out with the first piece of the body: two small
	# writes would meet Nagle and delayed ACKs (40 ms a request).
	my $piece = $opt{rate} > 0 ? 16384 : 262144;
	for (my $p = $lo; $p <= $hi; $p += $piece) {
		my $e = $p + $piece - 1 < $hi ? $p + $piece - 1 : $hi;
		select(undef, undef, undef, $piece / $opt{rate}) if $opt{rate} > 0;
		my $data = slice($file, $p, $e);
		if ($p == $lo && $mode eq 'corrupt') {
			substr($data, 0, 1) = chr(ord(substr($data, 0, 1)) ^ 0xff);
		}
		send_all($c, $p == $lo ? $h . $data : $data) or return 0;
	}
	return $len > 0 || send_all($c, $h);
}
