#!/bin/bash
# SPDX-License-Identifier: MIT
#
# sqlite3 under the preloaded allocator: thousands of inserts in a
# transaction, indexes, aggregates, joins, updates, deletes, vacuum and an
# integrity check.  The numbers are checked against the same formulas
# evaluated by awk, and the whole output against the run without the
# library.
#
#   tools/testing/preload/sqlite.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" sqlite
tap_plan 11

check_loaded
if ! command -v sqlite3 >/dev/null; then
	apt-get install -y sqlite3 >"$TMP/apt.log" 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && apt-get install -y sqlite3 >"$TMP/apt.log" 2>&1; }
fi
if ! command -v sqlite3 >/dev/null; then
	for i in $(seq 2 11); do skip "sqlite3 test $i" "sqlite3 not installed"; done
	tap_done
fi

NC=300		# customers
NO=6000		# orders
# The data: customer c has region c % 5; order o belongs to customer
# (o * 7) % NC + 1, has amount (o * 13) % 1000 + 1 and quantity o % 9 + 1.
{
	echo "PRAGMA journal_mode=WAL;"
	echo "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);"
	echo "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, amount INTEGER, qty INTEGER, note TEXT);"
	echo "BEGIN;"
	awk -v nc=$NC -v no=$NO 'BEGIN {
		for (c = 1; c <= nc; c++)
			printf "INSERT INTO customers VALUES(%d, %ccustomer-%d%c, %d);\n", c, 39, c, 39, c % 5
		for (o = 1; o <= no; o++)
			printf "INSERT INTO orders VALUES(%d, %d, %d, %d, %c%s%c);\n", o, (o * 7) % nc + 1, (o * 13) % 1000 + 1, o % 9 + 1, 39, substr("abcdefghijklmnopqrstuvwxyz", 1, o % 26 + 1), 39
	}'
	echo "COMMIT;"
	echo "CREATE INDEX orders_cust ON orders(customer_id);"
	echo "CREATE INDEX orders_amount ON orders(amount, qty);"
	echo "CREATE INDEX cust_region ON customers(region);"
	echo "SELECT 'count', count(*), sum(amount), sum(amount * qty) FROM orders;"
	echo "SELECT 'region', c.region, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.region ORDER BY c.region;"
	echo "SELECT 'top', c.name, sum(o.amount) AS s FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.id ORDER BY s DESC, c.id LIMIT 3;"
	echo "SELECT 'big', count(*) FROM orders WHERE amount > 900 AND qty >= 5;"
	echo "SELECT 'notes', sum(length(note)), count(DISTINCT note) FROM orders;"
	echo "SELECT 'noorders', count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id);"
	echo "BEGIN;"
	echo "UPDATE orders SET amount = amount + 1 WHERE qty = 9;"
	echo "DELETE FROM orders WHERE id % 10 = 0;"
	echo "INSERT INTO orders(customer_id, amount, qty, note) SELECT customer_id, amount, qty, note || note FROM orders WHERE id % 10 = 1;"
	echo "COMMIT;"
	echo "SELECT 'after', count(*), sum(amount) FROM orders;"
	echo "CREATE TABLE words AS WITH RECURSIVE w(i, s) AS (SELECT 1, 'x' UNION ALL SELECT i + 1, s || char(97 + i % 26) FROM w WHERE i < 2000) SELECT i, s FROM w;"
	echo "SELECT 'words', count(*), sum(length(s)), max(length(s)) FROM words;"
	echo "SELECT 'sorted', group_concat(id, ',') FROM (SELECT id FROM orders ORDER BY note DESC, amount, id LIMIT 5);"
	echo "PRAGMA cache_size = -4096;"
	echo "CREATE TABLE big AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000) SELECT i, (i * 7919) % 10007 AS v, printf('%08d-%s', i, hex(i)) AS t FROM r;"
	echo "SELECT 'bigsum', count(*), sum(v), count(DISTINCT v) FROM big;"
	echo "SELECT 'bigorder', group_concat(i, ',') FROM (SELECT i FROM big ORDER BY v, t DESC LIMIT 3);"
	echo "CREATE INDEX big_t ON big(t);"
	echo "SELECT 'bigidx', count(*) FROM big WHERE t BETWEEN '00100000' AND '00199999~';"
	echo "PRAGMA wal_checkpoint(TRUNCATE);"
	echo "VACUUM;"
	echo "SELECT 'integrity', * FROM pragma_integrity_check;"
	echo ".shell grep -cF '$LIB_REAL' /proc/\$PPID/maps > '$TMP/maps.count'"
} >"$TMP/script.sql"

# Expected values from the same formulas.
awk -v nc=$NC -v no=$NO 'BEGIN {
	for (o = 1; o <= no; o++) {
		c = (o * 7) % nc + 1; a = (o * 13) % 1000 + 1; q = o % 9 + 1
		cnt++; sa += a; saq += a * q
		rc[c % 5]++; ra[c % 5] += a; has[c] = 1
		if (a > 900 && q >= 5) big++
		nl += o % 26 + 1
		amt[o] = a; qty[o] = q
	}
	printf "count|%d|%d|%d\n", cnt, sa, saq > "/dev/stderr"
	for (r = 0; r < 5; r++) printf "region|%d|%d|%d\n", r, rc[r], ra[r] > "/dev/stderr"
	printf "big|%d\n", big > "/dev/stderr"
	printf "notes|%d|26\n", nl > "/dev/stderr"
	for (c = 1; c <= nc; c++) if (!has[c]) none++
	printf "noorders|%d\n", none > "/dev/stderr"
	# update, delete, re-insert
	for (o = 1; o <= no; o++) if (qty[o] == 9) amt[o]++
	n = 0; s = 0
	for (o = 1; o <= no; o++) if (o % 10 != 0) { n++; s += amt[o] }
	for (o = 1; o <= no; o++) if (o % 10 == 1) { n++; s += amt[o] }
	printf "after|%d|%d\n", n, s > "/dev/stderr"
	printf "words|2000|%d|2000\n", 2000 * 2001 / 2 > "/dev/stderr"
	for (i = 1; i <= 200000; i++) bs += (i * 7919) % 10007
	printf "bigsum|200000|%d|10007\n", bs > "/dev/stderr"
	printf "bigorder|190133,180126,170119\n" > "/dev/stderr"
	printf "bigidx|100000\n" > "/dev/stderr"
	printf "integrity|ok\n" > "/dev/stderr"
}' 2>"$TMP/expected"

sqlite3 -batch "$TMP/base.db" <"$TMP/script.sql" >"$TMP/base.out" 2>"$TMP/base.err" ||
	bail "sqlite3 fails without the library: $(tail -n 3 "$TMP/base.err")"

run_pre sqlite3 -batch "$TMP/pre.db" <"$TMP/script.sql" >"$TMP/pre.out" 2>"$TMP/pre.err"
st=$?
if [ $st -eq 0 ] && [ ! -s "$TMP/pre.err" ]; then
	ok "the script runs without errors"
else
	not_ok "the script runs without errors" "$(describe_status $st); stderr:"
	diag_file "$TMP/pre.err"
fi

# Check one group of result lines against the awk values.
check_rows() {	# check_rows NAME PREFIX-ERE
	local name=$1 p="^($2)\\|"
	if grep -qE "$p" "$TMP/expected" &&
		diff <(grep -E "$p" "$TMP/expected") <(grep -E "$p" "$TMP/pre.out") >/dev/null; then
		ok "$name"
	else
		not_ok "$name" "want: $(grep -E "$p" "$TMP/expected" | tr '\n' ' ')" \
			"got: $(grep -E "$p" "$TMP/pre.out" | tr '\n' ' ')"
	fi
}
check_rows "count and sums over $NO orders inserted in one transaction" count
check_rows "join grouped by region" region
check_rows "indexed range query, text lengths, NOT EXISTS subquery" 'big|notes|noorders'
check_rows "update, delete and insert-select in a transaction" after
check_rows "recursive CTE building 2000 growing strings" words
check_rows "200000-row table: sort, distinct, index range" 'bigsum|bigorder|bigidx'
check_rows "integrity check after vacuum" integrity
same_output "whole output equals the run without the library" "$TMP/base.out" "$TMP/pre.out"
n=$(cat "$TMP/maps.count" 2>/dev/null)
if [ "${n:-0}" -ge 1 ]; then
	ok "the sqlite3 process had the library mapped (read from its /proc/PID/maps)"
else
	not_ok "the sqlite3 process had the library mapped" "count: '${n:-none}'"
fi
tap_done
