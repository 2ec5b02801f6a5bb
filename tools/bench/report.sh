#!/bin/bash
# SPDX-License-Identifier: MIT
#
# report.sh - turn the raw results of run.sh into markdown tables and the
# data file of the chart.
#
# usage: tools/bench/report.sh ALLOCS REF BASE CHARTFILE SPECFILE RAWFILE
#
# ALLOCS:   the allocator columns, space-separated ("glibc mimalloc ...").
# REF:      the allocator the ratios are taken to (hakmem).
# BASE:     the allocator the chart is relative to (glibc).
# SPECFILE: one figure per line, "id|key|label|unit|dir" (dir hi: higher
#           is better; lo: lower is better).
# RAWFILE:  one run per line, "id<TAB>alloc<TAB>rep<TAB>status<TAB>line",
#           line being the "name key=value ..." output of the workload.
#
# Prints the speed table (medians, and each figure's ratio to REF), the
# peak-RSS table and notes on failures; writes the chart data (speed
# relative to BASE, higher is better) to CHARTFILE.

[ $# -eq 6 ] || { sed -n '6p' "$0" | sed 's/^# //' >&2; exit 2; }
exec awk -v allocs="$1" -v ref="$2" -v base="$3" -v chart="$4" '
BEGIN {
	FS = "\t"
	na = split(allocs, A, " ")
	nf = 0
	nid = 0
}

FNR == 1 { fileno++ }

fileno == 1 {
	split($0, f, "|")
	nf++
	Fid[nf] = f[1]; Fkey[nf] = f[2]; Flabel[nf] = f[3]; Funit[nf] = f[4]; Fdir[nf] = f[5]
	if (!(f[1] in seen_id)) {
		seen_id[f[1]] = 1
		ids[++nid] = f[1]
	}
	next
}

{
	id = $1; a = $2; st = $4
	ran[id, a] = 1
	if (st != "ok") {
		failed[id, a]++
		nfail++
		next
	}
	n = split($5, kv, " ")
	for (i = 2; i <= n; i++) {
		eq = index(kv[i], "=")
		if (eq == 0)
			continue
		k = substr(kv[i], 1, eq - 1)
		v = substr(kv[i], eq + 1)
		if (k == "checksum") {
			if (!((id) in sum0))
				sum0[id] = v
			else if (sum0[id] != v)
				mismatch[id] = 1
			continue
		}
		c = ++cnt[id, a, k]
		val[id, a, k, c] = v + 0
	}
}

function median(id, a, k,    n, i, j, t, x) {
	n = cnt[id, a, k]
	if (n == 0)
		return ""
	for (i = 1; i <= n; i++)
		x[i] = val[id, a, k, i]
	for (i = 2; i <= n; i++) {
		t = x[i]
		for (j = i - 1; j >= 1 && x[j] > t; j--)
			x[j + 1] = x[j]
		x[j + 1] = t
	}
	if (n % 2)
		return x[(n + 1) / 2]
	return (x[n / 2] + x[n / 2 + 1]) / 2
}

function fmt(v) {
	if (v == "")
		return "–"
	if (v >= 1e6)
		return sprintf("%.2fM", v / 1e6)
	if (v >= 1e4)
		return sprintf("%.1fk", v / 1e3)
	if (v >= 100)
		return sprintf("%.0f", v)
	if (v >= 1)
		return sprintf("%.2f", v)
	if (v >= 0.01 || v == 0)
		return sprintf("%.3f", v)
	return sprintf("%.2g", v)
}

function cell(id, a, k,    m, r) {
	if (failed[id, a])
		return "**FAIL**"
	if (!ran[id, a])
		return "–"
	m = median(id, a, k)
	if (m == "")
		return "–"
	r = median(id, ref, k)
	if (a == ref || r == "" || r == 0)
		return fmt(m)
	return sprintf("%s (%.2f)", fmt(m), m / r)
}

END {
	# Speed.
	printf "| workload | unit |"
	for (j = 1; j <= na; j++)
		printf " %s |", A[j]
	printf "\n|---|---|"
	for (j = 1; j <= na; j++)
		printf "---:|"
	printf "\n"
	for (i = 1; i <= nf; i++) {
		printf "| %s%s | %s %s |", Flabel[i], (Fid[i] in mismatch) ? " **CHECKSUM MISMATCH**" : "",
			Funit[i], Fdir[i] == "hi" ? "↑" : "↓"
		for (j = 1; j <= na; j++)
			printf " %s |", cell(Fid[i], A[j], Fkey[i])
		printf "\n"
	}

	# Peak RSS, one row per workload.
	printf "\n| peak RSS (MiB) |"
	for (j = 1; j <= na; j++)
		printf " %s |", A[j]
	printf "\n|---|"
	for (j = 1; j <= na; j++)
		printf "---:|"
	printf "\n"
	for (i = 1; i <= nid; i++) {
		id = ids[i]
		printf "| %s |", id
		for (j = 1; j <= na; j++) {
			a = A[j]
			if (failed[id, a]) {
				printf " **FAIL** |"
				continue
			}
			m = median(id, a, "maxrss_kb")
			r = median(id, ref, "maxrss_kb")
			if (m == "")
				printf " – |"
			else if (a == ref || r == "" || r == 0)
				printf " %.1f |", m / 1024
			else
				printf " %.1f (%.2f) |", m / 1024, m / r
		}
		printf "\n"
	}

	# Chart data: speed relative to base, higher is better.
	if (chart != "") {
		printf "figure" > chart
		for (j = 1; j <= na; j++)
			printf "\t%s", A[j] > chart
		printf "\n" > chart
		for (i = 1; i <= nf; i++) {
			b = median(Fid[i], base, Fkey[i])
			label = Flabel[i]
			gsub(/ /, "_", label)
			printf "%s", label > chart
			for (j = 1; j <= na; j++) {
				m = failed[Fid[i], A[j]] ? "" : median(Fid[i], A[j], Fkey[i])
				if (m == "" || b == "" || m == 0 || b == 0)
					printf "\t-" > chart
				else if (Fdir[i] == "hi")
					printf "\t%.4f", m / b > chart
				else
					printf "\t%.4f", b / m > chart
			}
			printf "\n" > chart
		}
		close(chart)
	}

	if (nfail > 0)
		printf "\n%d run(s) FAILED (see the log); their cells read FAIL.\n", nfail
	for (id in mismatch)
		printf "\n%s: the output checksum differs between runs.\n", id
}
' "$5" "$6"
