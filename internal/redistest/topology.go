package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartReplica starts a plain server that replicates primary and waits
// until its link to the primary is up.
func StartReplica(tb testing.TB, primary *Server) *Server {
	tb.Helper()
	r := start(tb, func(s *Server) []string {
		return append(defaultArgs(s), "--replicaof", "127.0.0.1", strconv.Itoa(primary.port))
	})
	waitInfo(tb, r.Addr(), "replication", "master_link_status:up")
	return r
}

// MasterName is the name the sentinels of StartSentinels monitor.
const MasterName = "slotcache-test"

// Sentinels are the sentinel processes of one monitored primary.
type Sentinels struct {
	Servers []*Server
}

// Addrs returns the sentinels' addresses.
func (s *Sentinels) Addrs() []string { return addrsOf(s.Servers) }

func addrsOf(servers []*Server) []string {
	addrs := make([]string, len(servers))
	for i, srv := range servers {
		addrs[i] = srv.Addr()
	}
	return addrs
}

// URL returns the sentinels as a go-redis failover URL
// (redis.ParseFailoverURL): the first sentinel as host, the others as addr
// parameters, the master name as master_name.
func (s *Sentinels) URL() string {
	u := "redis://" + s.Servers[0].Addr() + "/0?master_name=" + MasterName
	for _, srv := range s.Servers[1:] {
		u += "&addr=" + srv.Addr()
	}
	return u
}

// StartSentinels starts n sentinels monitoring primary (quorum 2) and
// waits until each of them knows primary's replicas and the other
// sentinels, so that a failover can proceed at once.
func StartSentinels(tb testing.TB, primary *Server, replicas, n int) *Sentinels {
	tb.Helper()
	ss := &Sentinels{}
	for range n {
		ss.Servers = append(ss.Servers, start(tb, func(s *Server) []string {
			conf := filepath.Join(s.dir, "sentinel.conf")
			body := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 10000
sentinel parallel-syncs %s 1
`, s.port, s.dir, MasterName, primary.port, MasterName, MasterName, MasterName)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				tb.Fatalf("redistest: write %s: %v", conf, err)
			}
			return []string{conf, "--sentinel"}
		}))
	}
	for _, s := range ss.Servers {
		waitSentinel(tb, s.Addr(), replicas, n-1)
	}
	return ss
}

// Failover forces a failover (SENTINEL FAILOVER, no agreement needed) and
// returns the new primary's address once every sentinel reports it and it
// answers as a primary.
func (s *Sentinels) Failover(tb testing.TB, old string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Servers[0].Addr()})
	defer func() { _ = sc.Close() }()
	if err := sc.Failover(ctx, MasterName).Err(); err != nil {
		tb.Fatalf("redistest: SENTINEL FAILOVER: %v", err)
	}
	for {
		addr, ok := s.agreedMaster(ctx)
		if ok && addr != old && isPrimary(ctx, addr) {
			return addr
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: no new primary after SENTINEL FAILOVER (last answer %q)", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// agreedMaster returns the primary every sentinel reports, if they agree.
func (s *Sentinels) agreedMaster(ctx context.Context) (string, bool) {
	var agreed string
	for i, srv := range s.Servers {
		sc := redis.NewSentinelClient(&redis.Options{Addr: srv.Addr()})
		hp, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		_ = sc.Close()
		if err != nil || len(hp) != 2 {
			return "", false
		}
		addr := hp[0] + ":" + hp[1]
		if i > 0 && addr != agreed {
			return addr, false
		}
		agreed = addr
	}
	return agreed, true
}

func isPrimary(ctx context.Context, addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	info, err := c.Info(ctx, "replication").Result()
	return err == nil && strings.Contains(info, "role:master")
}

// waitSentinel waits until the sentinel at addr knows the primary's
// replicas and its peers.
func waitSentinel(tb testing.TB, addr string, replicas, peers int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer func() { _ = sc.Close() }()
	for {
		m, err := sc.Master(ctx, MasterName).Result()
		if err == nil {
			r, _ := strconv.Atoi(m["num-slaves"])
			p, _ := strconv.Atoi(m["num-other-sentinels"])
			if r >= replicas && p >= peers {
				return
			}
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: sentinel %s does not see %d replicas and %d peers: %v %v", addr, replicas, peers, m, err)
		case <-time.After(pollInterval * 4):
		}
	}
}

// waitInfo waits until INFO section of the server at addr contains want.
func waitInfo(tb testing.TB, addr, section, want string) {
	tb.Helper()
	waitText(tb, addr, "INFO "+section, want, func(ctx context.Context, c *redis.Client) (string, error) {
		return c.Info(ctx, section).Result()
	})
}

// waitText waits until the text that get reads from the server at addr
// (what names it in the failure) contains want.
func waitText(tb testing.TB, addr, what, want string, get func(context.Context, *redis.Client) (string, error)) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*readyTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer func() { _ = c.Close() }()
	for {
		text, err := get(ctx, c)
		if err == nil && strings.Contains(text, want) {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: %s never reported %q in %s (last error %v)", addr, want, what, err)
		case <-time.After(pollInterval):
		}
	}
}

// Cluster is a Redis Cluster of plain masters, no replicas.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string { return addrsOf(c.Nodes) }

// ClusterURL returns a go-redis cluster URL (redis.ParseClusterURL) that
// seeds a client with addrs: the first as host, the others as addr.
func ClusterURL(addrs []string) string {
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// StartCluster starts n cluster-enabled servers, joins them with
// redis-cli --cluster create (every slot assigned, no replicas) and waits
// until every node reports cluster_state:ok.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redistest: redis-cli not found on PATH (%v); it comes with Debian's redis-tools package, which make test installs", err)
	}
	c := &Cluster{}
	for range n {
		c.Nodes = append(c.Nodes, start(tb, func(s *Server) []string {
			return append(defaultArgs(s),
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
				"--cluster-node-timeout", "2000")
		}))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, node := range c.Nodes {
		waitText(tb, node.Addr(), "CLUSTER INFO", "cluster_state:ok", func(ctx context.Context, c *redis.Client) (string, error) {
			return c.ClusterInfo(ctx).Result()
		})
	}
	return c
}
