// Command bench runs slotcache side by side with the caches its users would
// otherwise choose (otter, ristretto, x/sync/singleflight over a sync.Map,
// go-redis/cache, rueidis client-side caching), in one process and one run,
// and prints a table of the results with each figure's ratio to the best
// contender of its case.
//
// Usage, from this directory:
//
//	go run .                  # every scenario, a few minutes on 2 cores
//	go run . -quick           # a smoke run of a few seconds
//	go run . -json            # machine-readable results on stdout
//	go run . -o results.json  # the tables, and the JSON in a file
//	go run . -run 'mix/90'    # only the cases whose name matches
//	go run . -run 'mix/90-10/slotcache$' -cpuprofile cpu.out
//
// Results are in BENCHMARKS.md at the repository root, with how to read
// them. The Redis scenarios start a throwaway redis-server on a free loopback port
// (it must be on PATH) and kill it at the end, or use -redis URL. This is a
// separate Go module so that the peers never enter slotcache's own
// dependencies.
package main
