package redistest

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// SetUser runs ACL SETUSER user rules... as the server's administrator,
// creating or changing a Redis user, e.g. SetUser(tb, "app", "reset",
// "on", ">pw", "~app:*", "+get"). A rule change applies to the user's open
// connections at their next command. It fails the test on error.
func (s *Server) SetUser(tb testing.TB, user string, rules ...string) {
	tb.Helper()
	s.admin(tb, "ACL SETUSER "+user, func(ctx context.Context, c *redis.Client) error {
		return c.ACLSetUser(ctx, user, rules...).Err()
	})
}

// ACLDenials returns what ACL LOG recorded (newest first) as "reason
// object user", e.g. "command publish app" or "channel x:heartbeat:1 app"
// or "auth AUTH app": every command, key or channel Redis refused since
// the server started or the last ResetACLLog.
func (s *Server) ACLDenials(tb testing.TB) []string {
	tb.Helper()
	var out []string
	s.admin(tb, "ACL LOG", func(ctx context.Context, c *redis.Client) error {
		entries, err := c.ACLLog(ctx, 1000).Result()
		for _, e := range entries {
			out = append(out, strings.Join([]string{e.Reason, e.Object, e.Username}, " "))
		}
		return err
	})
	return out
}

// ResetACLLog empties ACL LOG.
func (s *Server) ResetACLLog(tb testing.TB) {
	tb.Helper()
	s.admin(tb, "ACL LOG RESET", func(ctx context.Context, c *redis.Client) error {
		return c.ACLLogReset(ctx).Err()
	})
}

// admin runs f on an administrator's connection, failing tb with what on
// error.
func (s *Server) admin(tb testing.TB, what string, f func(context.Context, *redis.Client) error) {
	tb.Helper()
	c := redis.NewClient(s.options())
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := f(ctx, c); err != nil {
		tb.Fatalf("redistest: %s on %s: %v", what, s.Addr(), err)
	}
}
