#!/usr/bin/perl
# mapper.pl KIND PATH -- hold a shared mapping of PATH, made the way a Perl
# program makes one, and answer commands on stdin (test_mmap.py):
#
#   KIND  file-map-ro   File::Map: map_file my $map, PATH          (read-only)
#         file-map-rw   File::Map: map_file my $map, PATH, '+<'    (read-write)
#         sys-mmap-ro   Sys::Mmap: open '<', then
#                       mmap($map, 0, PROT_READ, MAP_SHARED, FH)
#
#   peek OFF LEN    print LEN bytes of the mapping at OFF, as hex
#   poke OFF HEX    store the bytes into the mapping (file-map-rw only)
#   sync            File::Map::sync (msync)
#   quit
#
# Prints "ready" once mapped, then one line per command ("ok" or the hex).
# A failure to map dies with the module's message (and $!).
use strict;
use warnings;

my ($kind, $path) = @ARGV;
die "usage: mapper.pl KIND PATH\n" unless defined $path;
$| = 1;

my $map;
my $fh;
if ($kind eq 'file-map-ro') {
	require File::Map;
	File::Map::map_file($map, $path);
} elsif ($kind eq 'file-map-rw') {
	require File::Map;
	File::Map::map_file($map, $path, '+<');
} elsif ($kind eq 'sys-mmap-ro') {
	require Sys::Mmap;
	Sys::Mmap->import;
	open($fh, '<', $path) or die "open $path: $!\n";
	Sys::Mmap::mmap($map, 0, Sys::Mmap::PROT_READ(),
			Sys::Mmap::MAP_SHARED(), $fh)
	    or die "mmap: $!\n";
} else {
	die "unknown kind $kind\n";
}
print "ready\n";

while (my $line = <STDIN>) {
	my @cmd = split ' ', $line;
	next unless @cmd;
	if ($cmd[0] eq 'peek') {
		print unpack('H*', substr($map, $cmd[1], $cmd[2])), "\n";
	} elsif ($cmd[0] eq 'poke') {
		my $bytes = pack('H*', $cmd[2]);
		substr($map, $cmd[1], length $bytes) = $bytes;
		print "ok\n";
	} elsif ($cmd[0] eq 'sync') {
		File::Map::sync($map);
		print "ok\n";
	} elsif ($cmd[0] eq 'quit') {
		last;
	} else {
		die "unknown command $cmd[0]\n";
	}
}
