// Package slotcacheotel instruments slotcache with OpenTelemetry, like
// rueidisotel does for rueidis. It is a package of its own so that only
// programs that use OpenTelemetry import it.
//
// Traces: NewObserver returns a slotcache.Observer that records a span per
// load (a child of the span of the caller whose miss started it, so a
// request's trace shows the load and, under it, the loader's own spans),
// per fill lease and fill wait (WithFill), and per published invalidation.
// Slot IDs can be sensitive (user or tenant IDs): they become the
// slotcache.slot_id attribute only with WithSlotIDs.
//
//	obs := slotcacheotel.NewObserver()
//	engine, err := slotcache.New(slotcache.WithObserver(obs))
//
// Metrics, as an alternative to slotcacheprom: RegisterMetrics reports an
// engine's counters and gauges, and those of its named caches, through an
// OTel meter at each collection; the Observer records the load and fill
// wait durations as histograms (seconds) on the same meter.
//
//	reg, err := slotcacheotel.RegisterMetrics(engine)
//	defer reg.Unregister()
package slotcacheotel
