#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Perl under the preloaded allocator: hash, array, regex and string heavy
# scripts whose output must match the run without the library, plus a few
# values known independently (prime count, sums).
#
#   tools/testing/preload/perl.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" perl
tap_plan 7

check_loaded
command -v perl >/dev/null || bail "perl not found"

cat >"$TMP/heavy.pl" <<'EOF'
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

# Deterministic pseudo-random numbers (no dependence on perl's rand).
my $state = 12345;
sub rnd { $state = ($state * 1103515245 + 12345) % 2147483648; return $state >> 8; }

# 1. Word counts in a hash over generated text.
my @syll = qw(ka lo mi nu pe ra si to vu xe za bo);
my %count;
my @words;
for my $i (1 .. 150000) {
	my $w = join '', map { $syll[rnd() % @syll] } 1 .. (1 + rnd() % 4);
	push @words, $w;
	$count{$w}++;
}
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
print "distinct ", scalar(keys %count), "\n";
print "top ", join(',', map { "$_=$count{$_}" } @top), "\n";

# 2. Hash of arrays of hashes; deletes; rebuild.
my %idx;
for my $i (0 .. $#words) {
	push @{ $idx{ substr($words[$i], 0, 2) } }, { pos => $i, len => length $words[$i] };
}
my $sumlen = 0;
for my $k (sort keys %idx) {
	$sumlen += $_->{len} for @{ $idx{$k} };
	delete $idx{$k} if @{ $idx{$k} } % 2;
}
print "idx ", scalar(keys %idx), " sumlen $sumlen\n";

# 3. Regexes: substitution, captures, global matches, split.
my $text = join ' ', @words[0 .. 49999];
(my $t2 = $text) =~ s/([aeiou])([a-z])/$2$1/g;
my $nmatch = () = $text =~ /\b(ka|lo)\w*?(mi|nu)\b/g;
my @caps = $text =~ /\b(z\w)(\w*)\b/g;
my @fields = split /\s*(?:ra|si)\s*/, $text;
print "regex ", md5_hex($t2), " $nmatch ", scalar(@caps), " ", scalar(@fields), "\n";
my $tr = ($text =~ tr/a-z//);
print "tr $tr\n";

# 4. Strings: repeat, reverse, sprintf, join, substr, growing buffers.
my $buf = '';
for my $i (1 .. 100000) {
	$buf .= sprintf("%05d:%s;", $i, scalar reverse $words[$i % @words]);
	substr($buf, -3, 1) = uc substr($buf, -3, 1) if $i % 7 == 0;
}
print "buf ", length($buf), " ", md5_hex($buf), "\n";
my @chunks = unpack '(A1000)*', $buf;
print "chunks ", scalar(@chunks), "\n";

# 5. Arrays: sort numbers, splice, a sieve of Eratosthenes.
my @nums = map { rnd() % 1000000 } 1 .. 200000;
my @sorted = sort { $a <=> $b } @nums;
splice @sorted, 1000, 50000;
print "sorted $sorted[0] $sorted[-1] ", scalar(@sorted), "\n";
my @sieve = (1) x 100000;
@sieve[0, 1] = (0, 0);
for my $p (2 .. 316) {
	next unless $sieve[$p];
	for (my $m = $p * $p; $m < 100000; $m += $p) { $sieve[$m] = 0 }
}
my $primes = grep { $_ } @sieve;
print "primes $primes\n";
my $sum = 0;
$sum += $_ for 1 .. 1000000;
print "sum $sum\n";

# 6. Many short-lived structures.
my $acc = 0;
for my $r (1 .. 2000) {
	my %h = map { ("k$_" => [($_) x ($_ % 10)]) } 1 .. 100;
	$acc += scalar(@{ $h{"k" . (1 + $r % 100)} });
}
print "acc $acc\n";

# 7. Which objects does this process have mapped (checked by the harness).
if (@ARGV) {
	open my $m, '<', '/proc/self/maps' or die;
	open my $o, '>', $ARGV[0] or die;
	print $o $_ while <$m>;
}
EOF

export PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0
perl "$TMP/heavy.pl" >"$TMP/base.out" 2>"$TMP/base.err" ||
	bail "the script fails without the library: $(tail -n 3 "$TMP/base.err")"
run_pre perl "$TMP/heavy.pl" "$TMP/maps" >"$TMP/pre.out" 2>"$TMP/pre.err"
st=$?
result "heavy script exits 0" $st "$(describe_status $st); stderr: $(tail -n 5 "$TMP/pre.err")"
same_output "its output matches the run without the library" "$TMP/base.out" "$TMP/pre.out"
if grep -qF "$LIB_REAL" "$TMP/maps" 2>/dev/null; then
	ok "the perl process had the library mapped"
else
	not_ok "the perl process had the library mapped"
fi

# Values that do not depend on the run without the library.
exp_sum=$((1000000 * 1000001 / 2))
if grep -qx "primes 9592" "$TMP/pre.out" && grep -qx "sum $exp_sum" "$TMP/pre.out"; then
	ok "independently known values (9592 primes below 100000, sum 1..1e6 = $exp_sum)"
else
	not_ok "independently known values" "got: $(grep -E '^(primes|sum) ' "$TMP/pre.out" | tr '\n' ' ')"
fi
n=$(awk '/^distinct /{print $2}' "$TMP/pre.out")
if [ -n "$n" ] && [ "$n" -gt 1000 ] && grep -qx "chunks $(( ($(awk '/^buf /{print $2}' "$TMP/pre.out") + 999) / 1000 ))" "$TMP/pre.out"; then
	ok "hash and string sizes consistent ($n distinct words)"
else
	not_ok "hash and string sizes consistent" "$(head -n 3 "$TMP/pre.out")"
fi

# A one-liner pipeline: perl reading a large input, sorting a hash by value.
seq 1 300000 | awk '{ print ($1 * 7919) % 10007 }' >"$TMP/nums"
run_pre perl -ne 'chomp; $h{$_}++; END { my @k = sort { $h{$b} <=> $h{$a} || $a <=> $b } keys %h; print scalar(@k), " $k[0]=$h{$k[0]} $k[-1]=$h{$k[-1]}\n" }' \
	"$TMP/nums" >"$TMP/one.out" 2>"$TMP/one.err"
st=$?
# 300000 = 29 * 10007 + 9797: the residues of 1..9797 appear 30 times.
first=$(awk 'NR <= 9797 { print ($1 * 7919) % 10007 }' <(seq 1 300000) | sort -n | head -n 1)
last=$(awk 'NR > 9797 && NR <= 10007 { print ($1 * 7919) % 10007 }' <(seq 1 300000) | sort -n | tail -n 1)
want="10007 $first=30 $last=29"
if [ $st -eq 0 ] && [ "$(cat "$TMP/one.out")" = "$want" ]; then
	ok "perl -ne hash count over 300000 lines ($want)"
else
	not_ok "perl -ne hash count over 300000 lines" "$(describe_status $st); want '$want', got '$(cat "$TMP/one.out")'"
fi
tap_done
