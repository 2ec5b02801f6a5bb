#!/bin/bash
# SPDX-License-Identifier: MIT
#
# C++ under the preloaded allocator: g++ (itself preloaded) builds a program
# that uses operator new/delete through the standard containers, strings,
# shared_ptr released in other threads, exceptions (allocated with malloc by
# the runtime) and over-aligned types (aligned operator new).  The program,
# run preloaded, must print the values computed here.
#
#   tools/testing/preload/cxx.sh /abs/path/libhakmem.so
. "$(dirname "$0")/tap-lib.bash"
tap_init "$@" cxx
tap_plan 6

check_loaded
CXX=$(command -v g++ || command -v c++)
if [ -z "$CXX" ]; then
	for i in 2 3 4 5 6; do skip "C++ test $i" "no C++ compiler"; done
	tap_done
fi

cat >"$TMP/prog.cc" <<'EOF'
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct alignas(64) Line {
	std::uint64_t v[8];
};
struct alignas(4096) Page {
	char b[4096];
};

static std::atomic<long> misaligned{0};

int main()
{
	// Containers and strings.
	std::map<std::string, std::vector<int>> m;
	for (int i = 0; i < 100000; i++)
		m["key" + std::to_string(i % 3001)].push_back(i);
	long total = 0;
	for (auto &kv : m)
		total += std::accumulate(kv.second.begin(), kv.second.end(), 0L);
	std::printf("map %zu %ld\n", m.size(), total);

	std::unordered_map<long, std::string> um;
	for (long i = 0; i < 200000; i++)
		um[i * 7919 % 100003] = std::string(i % 50, 'a' + i % 26);
	std::size_t len = 0;
	for (auto &kv : um)
		len += kv.second.size();
	std::printf("umap %zu %zu\n", um.size(), len);

	// Over-aligned types: aligned operator new and delete.
	std::vector<std::unique_ptr<Line>> lines;
	std::vector<std::unique_ptr<Page>> pages;
	for (int i = 0; i < 20000; i++) {
		lines.emplace_back(new Line());
		if (reinterpret_cast<std::uintptr_t>(lines.back().get()) % 64)
			misaligned++;
		if (i % 50 == 0) {
			pages.emplace_back(new Page());
			if (reinterpret_cast<std::uintptr_t>(pages.back().get()) % 4096)
				misaligned++;
		}
	}
	std::printf("aligned %zu %zu misaligned %ld\n", lines.size(), pages.size(),
		    misaligned.load());

	// Threads: shared_ptrs made in one thread, released in others;
	// exceptions thrown and caught many times.
	std::vector<std::shared_ptr<std::string>> shared;
	for (int i = 0; i < 50000; i++)
		shared.push_back(std::make_shared<std::string>(std::to_string(i) + std::string(i % 40, 'z')));
	std::atomic<long> caught{0}, chars{0};
	std::atomic<int> copied{0};
	std::vector<std::thread> th;
	std::mutex mu;
	for (int t = 0; t < 8; t++)
		th.emplace_back([&, t] {
			std::vector<std::shared_ptr<std::string>> mine;
			{
				std::lock_guard<std::mutex> g(mu);
				for (std::size_t i = t; i < shared.size(); i += 8)
					mine.push_back(shared[i]);
			}
			copied++;
			for (auto &s : mine)
				chars += static_cast<long>(s->size());
			for (int i = 0; i < 5000; i++) {
				try {
					if (i % 3 == 0)
						throw std::runtime_error("error number " + std::to_string(i));
					throw std::vector<int>(i % 100, t);
				} catch (const std::runtime_error &e) {
					caught++;
				} catch (const std::vector<int> &v) {
					caught++;
				}
			}
			mine.clear();
		});
	while (copied.load() < 8)
		std::this_thread::yield();
	{
		std::lock_guard<std::mutex> g(mu);
		shared.clear();	// the threads now hold the last references
	}
	for (auto &x : th)
		x.join();
	std::printf("threads chars %ld caught %ld\n", chars.load(), caught.load());

	// std::string growth and sort of many small strings.
	std::vector<std::string> words;
	for (int i = 0; i < 100000; i++)
		words.push_back(std::to_string((i * 7919L) % 100003));
	std::sort(words.begin(), words.end());
	std::string joined;
	for (auto &w : words)
		joined += w;
	std::printf("sort %s %s %zu\n", words.front().c_str(), words.back().c_str(), joined.size());
	return 0;
}
EOF

run_pre "$CXX" -O2 -std=c++17 -pthread -o "$TMP/prog" "$TMP/prog.cc" >"$TMP/build.log" 2>&1
st=$?
result "g++ builds the program" $st "$(describe_status $st):$(tail -n 5 "$TMP/build.log")"
"$CXX" -O2 -std=c++17 -pthread -o "$TMP/prog.base" "$TMP/prog.cc" >/dev/null 2>&1 ||
	bail "g++ fails without the library"

# Expected values.
map_total=$((99999 * 100000 / 2))
um_len=$(awk 'BEGIN { for (i = 0; i < 200000; i++) v[(i * 7919) % 100003] = i % 50; for (k in v) s += v[k]; print s }')
chars=$(awk 'BEGIN { for (i = 0; i < 50000; i++) s += length(i "") + i % 40; print s }')
sorted=$(seq 0 99999 | awk '{ print ($1 * 7919) % 100003 }' | sort)
first=$(head -n 1 <<<"$sorted") last=$(tail -n 1 <<<"$sorted") jl=$(tr -d '\n' <<<"$sorted" | wc -c)
cat >"$TMP/expected" <<EOF
map 3001 $map_total
umap 100003 $um_len
aligned 20000 400 misaligned 0
threads chars $chars caught 40000
sort $first $last $jl
EOF

if [ -x "$TMP/prog" ]; then
	run_pre "$TMP/prog" >"$TMP/run.out" 2>"$TMP/run.err"
	st=$?
else
	st=127
fi
result "the program runs under the library" $st "$(describe_status $st): $(tail -n 3 "$TMP/run.err" 2>/dev/null)"
if cmp -s "$TMP/expected" "$TMP/run.out"; then
	ok "its output is the expected one (containers, aligned new, threads, exceptions)"
else
	not_ok "its output is the expected one" "diff expected got:"
	diff "$TMP/expected" "$TMP/run.out" | head -n 20 | sed 's/^/#   /'
fi
"$TMP/prog.base" >"$TMP/base.out" 2>&1
same_output "same output as the build made and run without the library" "$TMP/base.out" "$TMP/run.out"
# A build of the preloaded compiler must not differ from the normal one.
if cmp -s "$TMP/prog" "$TMP/prog.base"; then
	ok "the preloaded g++ produced the same binary"
else
	not_ok "the preloaded g++ produced the same binary"
fi
tap_done
