#!/usr/bin/perl
# A mail client on Perl's Net::POP3, written the way scripts use it.
#
#   client-netpop3.pl [--stls|--ssl] [--cafile F] [--state F] [--delete]
#                     HOST PORT USER PASSWORD OUTDIR
#
# Same contract as client-poplib.py: log in with USER/PASS (after STLS
# with --stls, over implicit TLS with --ssl, the certificate checked
# against HOST and --cafile; both need IO::Socket::SSL), fetch with RETR
# every message whose UIDL is not in the --state file into OUTDIR/N,
# DELE each with --delete, QUIT, record the UIDLs seen.  Exit 0; 3 when
# the server refuses the login (its reply on stderr); 1 otherwise.
use strict;
use warnings;
use Getopt::Long;
use Net::POP3;

my ($stls, $ssl, $cafile, $state, $delete);
GetOptions('stls' => \$stls, 'ssl' => \$ssl, 'cafile=s' => \$cafile,
    'state=s' => \$state, 'delete' => \$delete) or exit 1;
@ARGV == 5 or die "usage: client-netpop3.pl [opts] HOST PORT USER PASS DIR\n";
my ($host, $port, $user, $pass, $outdir) = @ARGV;
if (($stls || $ssl) && !eval { require IO::Socket::SSL; 1 }) {
	die "Net::POP3 needs IO::Socket::SSL for TLS: " .
	    "apt-get install libio-socket-ssl-perl\n";
}
my @tls = (SSL_ca_file => $cafile, SSL_verifycn_name => $host,
    SSL_verify_mode => 1);

my $pop = Net::POP3->new($host, Port => $port, Timeout => 60,
    $ssl ? (SSL => 1, @tls) : ())
    or die "cannot connect to $host:$port: $@\n";
if ($stls) {
	$pop->starttls(@tls) or die "STLS failed: " . $pop->message;
}
my $count = $pop->login($user, $pass);
if (!defined $count) {
	my $msg = $pop->message;
	$msg =~ s/\s+$//;
	print STDERR "authentication failed: ", $pop->code, " $msg\n";
	$pop->quit;
	exit 3;
}

my %seen;
if ($state && open(my $fh, '<', $state)) {
	chomp(my @u = <$fh>);
	@seen{@u} = ();
	close $fh;
}
my $uidl = $pop->uidl or die "UIDL failed: " . $pop->message;
my $fetched = 0;
for my $num (sort { $a <=> $b } keys %$uidl) {
	next if exists $seen{$uidl->{$num}};
	my $lines = $pop->get($num) or die "RETR $num failed: " . $pop->message;
	my $file = sprintf("%s/%06d", $outdir, $num);
	open(my $out, '>', $file) or die "$file: $!\n";
	binmode $out;
	print $out @$lines;
	close $out or die "$file: $!\n";
	$fetched++;
	if ($delete) {
		$pop->delete($num) or die "DELE $num failed: " . $pop->message;
	}
}
$pop->quit or die "QUIT failed: " . $pop->message;
if ($state) {
	my %now = map { $_ => 1 } values %$uidl;
	my %keep = $delete ? () : %now;
	$keep{$_} = 1 for grep { $now{$_} } keys %seen;
	open(my $fh, '>', $state) or die "$state: $!\n";
	print $fh map { "$_\n" } sort keys %keep;
	close $fh or die "$state: $!\n";
}
printf "fetched %d of %d\n", $fetched, scalar keys %$uidl;
exit 0;
