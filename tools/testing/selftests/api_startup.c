// SPDX-License-Identifier: MIT
/*
 * api_startup - allocation at start-up and from the loader, through the
 * preloaded library:
 *   - a constructor that runs before main() allocates and calls dlsym;
 *   - libnuma, loaded with dlopen, allocates in its own constructor and
 *     in its topology calls;
 *   - a library with thread-local storage (libstdc++'s exception globals)
 *     is loaded with dlopen and its TLS blocks are set up, from malloc, by
 *     threads created before and after the load;
 *   - environment-driven start-up: the options are read even when the
 *     first allocation happens in a constructor.
 */
#include <pthread.h>
#include <stdint.h>

#include "tap.h"
#include "hk_util.h"

static void *early_block;
static size_t early_usable;
static void *early_sym;

__attribute__((constructor(101))) static void early(void)
{
	early_block = malloc(100);
	if (early_block)
		memset(early_block, 0x5a, 100);
	early_usable = early_block ? malloc_usable_size(early_block) : 0;
	early_sym = dlsym(RTLD_DEFAULT, "hakmem_version");
}

static void *(*cxa_globals)(void);

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static pthread_barrier_t all_alive;

/* Every thread is alive at the barrier, so their TLS blocks must differ. */
static void *tls_thread(void *arg)
{
	void *g = cxa_globals();
	void *p = malloc(1000);

	(void)arg;
	pthread_barrier_wait(&all_alive);
	if (!g || !p)
		return NULL;
	memset(p, 1, 1000);
	free(p);
	return g;
}

int main(void)
{
	void *numa, *cxx;
	int all = 1;

	tap_init(7);
	tap_check_hakmem();

	tap_ok(early_block && early_usable >= 100 && ((uintptr_t)early_block & 15) == 0,
	       "malloc from a constructor before main (usable %zu)", early_usable);
	tap_ok(early_sym != NULL || tap_is_other(), "dlsym from a constructor");
	free(early_block);

	numa = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!numa) {
		tap_skip("libnuma.so.1 not installed", "libnuma loaded and used");
	} else {
		int (*available)(void) = (int (*)(void))dlsym(numa, "numa_available");
		int (*max_node)(void) = (int (*)(void))dlsym(numa, "numa_max_node");
		void *(*alloc_local)(size_t) = (void *(*)(size_t))dlsym(numa, "numa_alloc_local");
		void (*numa_free_fn)(void *, size_t) = (void (*)(void *, size_t))dlsym(numa, "numa_free");
		int ok = available && max_node && alloc_local && numa_free_fn;

		if (ok && available() >= 0) {
			char *m = alloc_local(1 << 20);

			ok = m && max_node() >= 0;
			if (m) {
				memset(m, 3, 1 << 20);
				numa_free_fn(m, 1 << 20);
			}
		}
		tap_ok(ok, "libnuma loaded with dlopen and used");
	}

	{
		pthread_t before;
		int started = pthread_create(&before, NULL, sleeper, NULL) == 0;

		cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL);
		if (started) {
			pthread_cancel(before);
			pthread_join(before, NULL);
		}
	}
	if (!cxx) {
		tap_skip("libstdc++.so.6 not installed", "TLS of a dlopen'ed library in 16 threads");
	} else {
		pthread_t t[16];
		void *g[16];

		cxa_globals = (void *(*)(void))dlsym(cxx, "__cxa_get_globals");
		pthread_barrier_init(&all_alive, NULL, 16);
		for (int i = 0; cxa_globals && i < 16; i++)
			if (pthread_create(&t[i], NULL, tls_thread, NULL))
				all = 0;
		for (int i = 0; cxa_globals && i < 16; i++) {
			pthread_join(t[i], &g[i]);
			if (!g[i])
				all = 0;
			for (int j = 0; j < i; j++)
				if (g[j] == g[i])
					all = 0;
		}
		tap_ok(cxa_globals && all && cxa_globals() != NULL,
		       "TLS of a dlopen'ed library in 16 threads");
	}

	{
		/* A second dlopen/dlclose cycle frees the loader's allocations. */
		int ok = 1;

		for (int i = 0; i < 20 && ok; i++) {
			void *h = dlopen("libnuma.so.1", RTLD_NOW | RTLD_LOCAL);

			if (h)
				ok = dlclose(h) == 0;
		}
		tap_ok(ok, "dlopen/dlclose cycles");
	}

	{
		char *s = strdup("after start-up");
		tap_ok(s && !strcmp(s, "after start-up"), "heap usable after all of the above");
		free(s);
	}
	return tap_finish();
}
