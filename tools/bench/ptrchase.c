/* SPDX-License-Identifier: MIT */
/*
 * ptrchase - pointer-chasing walk over millions of small nodes.
 *
 * usage: ptrchase [NODES [NODESZ [WALKS [SEED]]]]
 *        defaults: 4000000 64 1 1
 *
 * NODES nodes of NODESZ bytes are allocated one by one (timed: the
 * allocation figure), then linked into a single list in a random order
 * (untimed) and the list is walked WALKS times (timed: the walk figure).
 * The walk touches the nodes in an order unrelated to their addresses, so
 * it is dominated by cache and TLB misses: this is where an allocator that
 * backs its heap with 2 MiB pages shows.  Finally every node is freed
 * (timed separately).  Prints:
 *
 *   ptrchase nodes=N ops=N nodesz=N walks=N alloc_secs=S alloc_ns_per_node=R
 *            walk_secs=S walk_ns_per_node=R free_secs=S alloc_minflt=N
 *            faults_per_mib=R
 *
 * alloc_minflt is the minor page faults taken while allocating and first
 * writing the nodes (getrusage); faults_per_mib divides it by the MiB of
 * node payload (NODES * NODESZ): about 256 with 4 KiB pages, about 0.5
 * when every fault brings in a 2 MiB page.
 */
#include "bench.h"
#include <sys/resource.h>

struct node {
	struct node *next;
	uint64_t value;
};

int main(int argc, char **argv)
{
	const char *prog = "ptrchase";
	long nodes = bench_arg(argc, argv, 1, 4000000);
	long nodesz = bench_arg(argc, argv, 2, 64);
	long walks = bench_arg(argc, argv, 3, 1);
	long seed = bench_arg(argc, argv, 4, 1);
	struct bench_rng rng;
	struct node **all;
	uint32_t *order;
	double t0, t1, t2, t3, t4, mib;
	struct rusage ru0, ru1;
	uint64_t sum = 0, expect;
	long i, w, steps = 0;

	bench_verify_allocator(prog);
	if (nodes < 2 || nodes > (long)UINT32_MAX || walks < 1) {
		fprintf(stderr, "%s: bad parameters\n", prog);
		return 1;
	}
	if (nodesz < (long)sizeof(struct node))
		nodesz = sizeof(struct node);
	bench_rng_init(&rng, (uint64_t)seed);
	all = malloc((size_t)nodes * sizeof(*all));
	order = malloc((size_t)nodes * sizeof(*order));
	if (!all || !order)
		bench_oom(prog, (size_t)nodes * sizeof(*all));

	getrusage(RUSAGE_SELF, &ru0);
	t0 = bench_now();
	for (i = 0; i < nodes; i++) {
		struct node *n = malloc((size_t)nodesz);

		if (!n)
			bench_oom(prog, (size_t)nodesz);
		n->next = NULL;
		n->value = (uint64_t)i;
		all[i] = n;
	}
	t1 = bench_now();
	getrusage(RUSAGE_SELF, &ru1);
	mib = (double)nodes * (double)nodesz / (1024.0 * 1024.0);

	/* Random cyclic order: Fisher-Yates shuffle of the indices. */
	for (i = 0; i < nodes; i++)
		order[i] = (uint32_t)i;
	for (i = nodes - 1; i > 0; i--) {
		uint32_t j = bench_rng_below(&rng, (uint32_t)(i + 1));
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i + 1 < nodes; i++)
		all[order[i]]->next = all[order[i + 1]];
	all[order[nodes - 1]]->next = all[order[0]];

	t2 = bench_now();
	for (w = 0; w < walks; w++) {
		struct node *start = all[order[0]];
		struct node *n = start;

		do {
			sum += n->value;
			n = n->next;
			steps++;
		} while (n != start);
	}
	t3 = bench_now();

	expect = (uint64_t)walks * ((uint64_t)nodes * (uint64_t)(nodes - 1) / 2);
	if (sum != expect || steps != walks * nodes) {
		fprintf(stderr, "%s: FAIL: walk saw %ld nodes summing to %llu, expected %ld and %llu\n",
			prog, steps, (unsigned long long)sum, walks * nodes,
			(unsigned long long)expect);
		return 1;
	}
	for (i = 0; i < nodes; i++) {
		if (all[i]->value != (uint64_t)i) {
			fprintf(stderr, "%s: FAIL: node %ld corrupted\n", prog, i);
			return 1;
		}
		free(all[i]);
	}
	t4 = bench_now();
	free(order);
	free(all);

	printf("ptrchase nodes=%ld ops=%ld nodesz=%ld walks=%ld alloc_secs=%.6f alloc_ns_per_node=%.2f walk_secs=%.6f walk_ns_per_node=%.2f free_secs=%.6f alloc_minflt=%ld faults_per_mib=%.3f\n",
	       nodes, nodes, nodesz, walks, t1 - t0, (t1 - t0) * 1e9 / (double)nodes,
	       t3 - t2, (t3 - t2) * 1e9 / (double)(walks * nodes), t4 - t3,
	       ru1.ru_minflt - ru0.ru_minflt, (double)(ru1.ru_minflt - ru0.ru_minflt) / mib);
	return 0;
}
