package slotcacheprom_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache"
	"github.com/slotcache/slotcache/internal/exporttest"
	"github.com/slotcache/slotcache/internal/redistest"
	"github.com/slotcache/slotcache/slotcacheprom"
)

const wait = 10 * time.Second

// TestCollectorPassesLint: names, units and help follow Prometheus
// conventions, as promtool checks them.
func TestCollectorPassesLint(t *testing.T) {
	e := exporttest.Engine(t)
	exporttest.Get(t, e, "a")
	problems, err := testutil.CollectAndLint(slotcacheprom.NewCollector(e))
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestScrapeOverLoopback: a real registry scraped over HTTP shows the
// engine's and its named cache's counters under their cache label, the
// load histogram, and no Redis metrics for an engine without Redis.
func TestScrapeOverLoopback(t *testing.T) {
	e := exporttest.Engine(t)
	users, err := slotcache.NewCache(e, "users", func(_ context.Context, id string) (string, error) { return id, nil })
	require.NoError(t, err)
	exporttest.Get(t, e, "a")
	exporttest.Get(t, e, "a")
	exporttest.Get(t, e, "b")
	_, err = users.Get(context.Background(), "u")
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	reg.MustRegister(slotcacheprom.NewCollector(e))
	url := exporttest.Serve(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) + "/metrics"

	expected := `
# HELP slotcache_hits_total Gets served from a fresh entry without waiting.
# TYPE slotcache_hits_total counter
slotcache_hits_total{cache=""} 1
slotcache_hits_total{cache="users"} 0
# HELP slotcache_loads_total Loader calls (shared loads).
# TYPE slotcache_loads_total counter
slotcache_loads_total{cache=""} 2
slotcache_loads_total{cache="users"} 1
`
	require.NoError(t, testutil.ScrapeAndCompare(url, strings.NewReader(expected), "slotcache_hits_total", "slotcache_loads_total"))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	h := find(mfs, "slotcache_load_duration_seconds", "")
	require.NotNil(t, h)
	assert.Equal(t, uint64(2), h.GetHistogram().GetSampleCount())
	assert.Equal(t, uint64(2), h.GetHistogram().GetBucket()[len(h.GetHistogram().GetBucket())-1].GetCumulativeCount(), "the last finite bucket holds both loads")
	assert.Nil(t, find(mfs, "slotcache_redis_subscribed", ""), "no Redis, no subscription metrics")
	assert.NotNil(t, find(mfs, "slotcache_slots", "users"))
}

// TestCountersNeverGoBackwardsAcrossReset: every counter and histogram the
// collector exports after Engine.Reset is at least what it was before.
func TestCountersNeverGoBackwardsAcrossReset(t *testing.T) {
	e := exporttest.Engine(t)
	for _, id := range []string{"a", "a", "b"} {
		exporttest.Get(t, e, id)
	}
	require.NoError(t, e.Invalidate(context.Background(), "a"))
	_, err := e.Get(context.Background(), "boom", func(context.Context, string) (any, error) { return nil, errors.New("boom") })
	require.Error(t, err)

	reg := prometheus.NewRegistry()
	reg.MustRegister(slotcacheprom.NewCollector(e))
	before := counts(t, reg)
	require.Equal(t, 1.0, before[`slotcache_hits_total{cache=""}`])
	require.Equal(t, 1.0, before[`slotcache_load_errors_total{cache=""}`])

	e.Reset()
	require.Zero(t, e.Stats().Loads, "Reset zeroes Stats")
	after := counts(t, reg)
	for k, v := range before {
		assert.GreaterOrEqual(t, after[k], v, k)
	}
	exporttest.Get(t, e, "c")
	assert.Equal(t, before[`slotcache_loads_total{cache=""}`]+1, counts(t, reg)[`slotcache_loads_total{cache=""}`])
}

// TestNamedCachesAcrossReset: a named cache's series never go backwards
// when it or its engine is Reset, and both keep counting afterwards.
func TestNamedCachesAcrossReset(t *testing.T) {
	e := exporttest.Engine(t)
	users, err := slotcache.NewCache(e, "users", func(_ context.Context, id string) (string, error) { return id, nil })
	require.NoError(t, err)
	getUser := func(id string) {
		_, err := users.Get(context.Background(), id)
		require.NoError(t, err)
	}
	exporttest.Get(t, e, "a")
	for _, id := range []string{"u", "u", "v"} {
		getUser(id)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(slotcacheprom.NewCollector(e))
	before := counts(t, reg)
	require.Equal(t, 2.0, before[`slotcache_loads_total{cache="users"}`])
	require.Equal(t, 1.0, before[`slotcache_hits_total{cache="users"}`])
	require.Equal(t, 2.0, before[`slotcache_load_duration_seconds{cache="users"}_count`])
	require.Equal(t, 1.0, before[`slotcache_loads_total{cache=""}`])

	users.Reset()
	require.Zero(t, users.Stats().Loads, "Reset zeroes the cache's Stats")
	require.Equal(t, uint64(1), e.Stats().Loads, "and not its engine's")
	e.Reset()
	after := counts(t, reg)
	require.Len(t, after, len(before))
	for k, v := range before {
		assert.GreaterOrEqual(t, after[k], v, k) // evictions grow: Reset flushed
	}
	assert.Equal(t, before[`slotcache_loads_total{cache="users"}`], after[`slotcache_loads_total{cache="users"}`])
	assert.Equal(t, before[`slotcache_hits_total{cache="users"}`], after[`slotcache_hits_total{cache="users"}`])

	getUser("u") // flushed by its Reset: a load
	exporttest.Get(t, e, "a")
	now := counts(t, reg)
	assert.Equal(t, 3.0, now[`slotcache_loads_total{cache="users"}`])
	assert.Equal(t, 3.0, now[`slotcache_load_duration_seconds{cache="users"}_count`])
	assert.Equal(t, 2.0, now[`slotcache_loads_total{cache=""}`])
}

// TestRedisStateIsExported: with a real redis-server, the subscription
// shows as up, a malformed message on the channel is counted, fill outcomes
// are labelled, a dropped subscription shows as a resync, and a dead Redis
// as unsubscribed.
func TestRedisStateIsExported(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	channel := "slotcacheprom-test:" + t.Name()
	e := exporttest.Engine(t, slotcache.WithRedis(client), slotcache.WithChannel(channel), slotcache.WithHeartbeat(time.Second),
		slotcache.WithFill(slotcache.FillPolicy{}))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, e.WaitReady(ctx))

	c := slotcacheprom.NewCollector(e)
	require.Eventually(t, func() bool { return testutil.ToFloat64(only(c, "slotcache_redis_subscribed")) == 1 }, wait, 5*time.Millisecond)
	require.NoError(t, client.Publish(ctx, channel, "not json").Err())
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(only(c, "slotcache_redis_malformed_messages_total")) == 1
	}, wait, 5*time.Millisecond)
	assert.Equal(t, 0.0, testutil.ToFloat64(only(c, "slotcache_redis_resyncs_total")))
	assert.Equal(t, 1.0, testutil.ToFloat64(only(c, "slotcache_redis_subscriptions_total")))

	exporttest.Get(t, e, "filled") // cold everywhere: this instance leads the fill
	expected := `
# HELP slotcache_fill_outcomes_total Coordinated loads (WithFill), by how they ended.
# TYPE slotcache_fill_outcomes_total counter
slotcache_fill_outcomes_total{cache="",outcome="cancelled"} 0
slotcache_fill_outcomes_total{cache="",outcome="degraded"} 0
slotcache_fill_outcomes_total{cache="",outcome="follower_polled"} 0
slotcache_fill_outcomes_total{cache="",outcome="follower_timeout"} 0
slotcache_fill_outcomes_total{cache="",outcome="follower_woken"} 0
slotcache_fill_outcomes_total{cache="",outcome="leader_load"} 1
slotcache_fill_outcomes_total{cache="",outcome="shared_hit"} 0
slotcache_fill_outcomes_total{cache="",outcome="shared_refresh"} 0
slotcache_fill_outcomes_total{cache="",outcome="stale_commit_rejected"} 0
slotcache_fill_outcomes_total{cache="",outcome="unverified"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(expected), "slotcache_fill_outcomes_total"))
	assert.Equal(t, 1, testutil.CollectAndCount(c, "slotcache_fill_wait_duration_seconds"))

	srv.KillPubSubClients()
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(only(c, "slotcache_redis_resyncs_total")) == 1
	}, wait, 5*time.Millisecond, "a resubscription is a resync")

	srv.Kill()
	require.Eventually(t, func() bool { return testutil.ToFloat64(only(c, "slotcache_redis_subscribed")) == 0 }, wait, 5*time.Millisecond,
		"a dead Redis shows within three heartbeats")
}

// only narrows a collector to one metric family, for testutil.ToFloat64.
func only(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, name}
}

type filtered struct {
	prometheus.Collector
	name string
}

func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() {
		f.Collector.Collect(all)
		close(all)
	}()
	for m := range all {
		if strings.Contains(m.Desc().String(), `fqName: "`+f.name+`"`) {
			ch <- m
		}
	}
}

// find returns the metric of family name with cache label value cache.
func find(mfs []*dto.MetricFamily, name, cache string) *dto.Metric {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cache" && l.GetValue() == cache {
					return m
				}
			}
		}
	}
	return nil
}

// counts returns every counter and histogram sample count by series.
func counts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}
