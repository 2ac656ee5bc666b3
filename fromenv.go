package slotcache

import (
	"crypto/tls"
	"net/url"

	"github.com/redis/go-redis/v9"

	"github.com/slotcache/slotcache/bridge"
)

// redisKind is the Redis deployment FromEnv found.
type redisKind int

const (
	redisNode     redisKind = iota // one server: redis.ParseURL
	redisSentinel                  // Sentinel: redis.ParseFailoverURL
	redisCluster                   // Cluster: redis.ParseClusterURL
)

// redisFromEnv records the Redis deployment of REDIS_URL or
// REDIS_CLUSTER_URL (see FromEnv), checking the URL now so that New fails
// on a bad one instead of dialling nothing. It returns the URL's TLS
// configuration: nil for redis://.
func (c *config) redisFromEnv(nodeURL, clusterURL string) (*tls.Config, error) {
	switch {
	case nodeURL != "" && clusterURL != "":
		return nil, &OptionError{Option: "FromEnv", Reason: "set REDIS_URL or REDIS_CLUSTER_URL, not both"}
	case clusterURL != "":
		o, err := redis.ParseClusterURL(clusterURL)
		if err != nil {
			err = urlError(err)
			return nil, &OptionError{Option: "FromEnv", Reason: "REDIS_CLUSTER_URL: " + err.Error(), Err: err}
		}
		c.redis, c.redisURL, c.redisKind, c.failover = nil, clusterURL, redisCluster, nil
		return o.TLSConfig, nil
	case nodeURL != "":
		kind := redisNode
		var urlTLS *tls.Config
		var err error
		if u, perr := url.Parse(nodeURL); perr == nil && u.Query().Has("master_name") {
			kind = redisSentinel
			var o *redis.FailoverOptions
			if o, err = redis.ParseFailoverURL(nodeURL); err == nil {
				urlTLS = o.TLSConfig
			}
		} else {
			var o *redis.Options
			if o, err = redis.ParseURL(nodeURL); err == nil {
				urlTLS = o.TLSConfig
			}
		}
		if err != nil {
			err = urlError(err)
			return nil, &OptionError{Option: "FromEnv", Reason: "REDIS_URL: " + err.Error(), Err: err}
		}
		c.redis, c.redisURL, c.redisKind, c.failover = nil, nodeURL, kind, nil
		return urlTLS, nil
	}
	return nil, nil
}

// dialRedis returns a client for the URL FromEnv checked, or for
// WithSentinel's options, with WithRedisTLS's or the environment's TLS and
// credentials (see dialConfig).
func (c *config) dialRedis() redis.UniversalClient {
	switch c.redisKind {
	case redisSentinel:
		return redis.NewFailoverClient(c.failoverOptions())
	case redisCluster:
		o, _ := redis.ParseClusterURL(c.redisURL)
		c.dial.apply(&o.TLSConfig, &o.Username, &o.Password)
		return redis.NewClusterClient(o)
	default:
		o, _ := redis.ParseURL(c.redisURL)
		c.dial.apply(&o.TLSConfig, &o.Username, &o.Password)
		return redis.NewClient(o)
	}
}

// failoverOptions returns the Sentinel options, WithSentinel's or the
// URL's, with the dial configuration applied.
func (c *config) failoverOptions() *redis.FailoverOptions {
	var o *redis.FailoverOptions
	if c.failover != nil {
		cp := *c.failover
		o = &cp
	} else {
		o, _ = redis.ParseFailoverURL(c.redisURL)
	}
	c.dial.apply(&o.TLSConfig, &o.Username, &o.Password)
	return o
}

// sentinelWatch returns what the bridge needs to hear the sentinels
// announce a new primary, or nil when FromEnv found no Sentinel URL.
func (c *config) sentinelWatch() *bridge.SentinelWatch {
	if c.redisURL == "" || c.redisKind != redisSentinel {
		return nil
	}
	o := c.failoverOptions()
	return &bridge.SentinelWatch{
		Addrs:      o.SentinelAddrs,
		MasterName: o.MasterName,
		Username:   o.SentinelUsername,
		Password:   o.SentinelPassword,
		TLSConfig:  o.TLSConfig,
	}
}

// WithSentinel connects the engine to Redis through Sentinel: it dials
// redis.NewFailoverClient(opts), closes it at Close, and listens to the
// sentinels for +switch-master, moving its subscription to a new primary at
// once (go-redis's failover client alone leaves an open subscription on the
// demoted one). It is what FromEnv does for a REDIS_URL with master_name;
// prefer it to WithRedis(redis.NewFailoverClient(opts)), with which only
// the heartbeat notices a failover, after three intervals.
func WithSentinel(opts *redis.FailoverOptions) Option {
	return func(c *config) error {
		if opts == nil || opts.MasterName == "" || len(opts.SentinelAddrs) == 0 {
			return &OptionError{Option: "WithSentinel", Reason: "options need a MasterName and SentinelAddrs"}
		}
		o := *opts
		c.redis, c.redisURL, c.redisKind, c.failover = nil, "sentinel:"+o.MasterName, redisSentinel, &o
		return nil
	}
}
