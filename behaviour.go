package slotcache

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/slotcache/slotcache/actors"
	"github.com/slotcache/slotcache/internal/core"
)

// Behaviour decides what a slot does at its key moments: when a value has
// been loaded (cache it? for how long? refresh it ahead? serve it stale?),
// when a load failed (may the last value still be served?), and when an
// invalidation arrived (reload at once?). Behaviours are chosen per slot
// with WithBehaviour and WithPrefixBehaviour.
//
// Hooks run in the engine's actors (the slot's own, or the router for a
// slot that has none), never on the hit path, one at a time per slot; they
// must be quick and must not call the engine. A hook that panics is logged
// and the default decision is taken. OnLoad runs once per load (and per
// Cache.Set, on the value set), on the instance that loaded, and decides the shared copy's lifetime too (with
// WithFill; each instance that reads the shared copy runs OnLoad on it
// again, and the copy's remaining life caps that decision); OnInvalidate
// runs once per invalidation of every slot that holds an entry.
//
// Embed Base to write only the hooks you need:
//
//	type tokenTTL struct{ slotcache.Base }
//
//	func (tokenTTL) OnLoad(_ string, v any, d slotcache.Decision) slotcache.Decision {
//		if tok, ok := v.(*Token); ok {
//			d.TTL = time.Until(tok.Expiry)
//			d.SharedTTL = d.TTL // nor in Redis
//		}
//		return d
//	}
type Behaviour interface {
	// OnLoad is called when a load of slotID succeeded with value. d holds
	// the decision so far (the engine TTL, or what earlier behaviours of
	// a Chain decided); return it, changed as needed.
	OnLoad(slotID string, value any, d Decision) Decision
	// OnError is called when a load of slotID failed with err. Return true
	// to keep serving the last value within the bounds decided when it was
	// loaded (its TTL, and its StaleFor window), false to stop serving it
	// once its TTL is over.
	OnError(slotID string, err error) (serveStale bool)
	// OnInvalidate is called when slotID was invalidated, here or by another
	// instance. Return true to reload it in the background at once instead
	// of on the next Get.
	OnInvalidate(slotID string) (reload bool)
}

// Decision is how long a slot serves a value it loaded, and how long the
// shared tier keeps it (WithFill).
type Decision struct {
	// TTL is how long the value is fresh. Zero or negative: the value is
	// returned to the callers that waited for it but not cached.
	TTL time.Duration
	// RefreshAfter, when positive and shorter than TTL, is the age from
	// which the first hit starts one background reload (refresh-ahead);
	// hits keep getting the current value at hit speed until it lands.
	RefreshAfter time.Duration
	// StaleFor, when positive, lets hits be served the value for up to this
	// long after TTL, while one background reload runs
	// (stale-while-revalidate). If that reload fails and OnError allows it,
	// the stale value keeps being served, never beyond TTL + StaleFor.
	StaleFor time.Duration
	// SharedTTL is how long the shared copy lives in Redis (WithFill), so
	// that an expensive source is asked about once per SharedTTL for the
	// whole fleet while each instance keeps its own copy only for TTL. It
	// starts at FillPolicy.SharedTTL; zero means TTL, and a value under TTL
	// counts as TTL. A behaviour that derives the TTL from the value should
	// set SharedTTL too, as TTLFromValue and NegativeTTL do: otherwise the
	// shared copy keeps FillPolicy.SharedTTL. With RefreshAfter, one
	// instance reloads the shared copy from the source once it has lived
	// the same fraction of SharedTTL (see RefreshAhead).
	SharedTTL time.Duration
}

// Base is a Behaviour that changes nothing: the engine TTL, errors keep the
// last value within its bounds, invalidations reload lazily. Embed it in
// your own behaviours.
type Base struct{}

// OnLoad implements Behaviour.
func (Base) OnLoad(_ string, _ any, d Decision) Decision { return d }

// OnError implements Behaviour.
func (Base) OnError(string, error) bool { return true }

// OnInvalidate implements Behaviour.
func (Base) OnInvalidate(string) bool { return false }

// validator is implemented by the built-in behaviours, so that bad
// parameters fail New instead of misbehaving later.
type validator interface{ validate() error }

// TTLFromValue takes the TTL from the loaded value, e.g. a token's own
// expiry, for both tiers: a value that says when it goes stale must not
// outlive that in Redis either. ttl returns ok=false to keep the TTLs
// decided so far; a TTL of zero or less means "do not cache" (nor share).
func TTLFromValue(ttl func(slotID string, value any) (d time.Duration, ok bool)) Behaviour {
	return valueTTL{ttl: ttl}
}

type valueTTL struct {
	Base
	ttl func(string, any) (time.Duration, bool)
}

func (b valueTTL) OnLoad(id string, v any, d Decision) Decision {
	if ttl, ok := b.ttl(id, v); ok {
		d.TTL, d.SharedTTL = ttl, ttl
	}
	return d
}

func (b valueTTL) validate() error {
	if b.ttl == nil {
		return errors.New("TTLFromValue: function is nil")
	}
	return nil
}

// NegativeTTL caches a nil value ("slot deleted") for ttl instead of the
// TTL decided so far, usually shorter, so that a slot that comes back is
// seen soon; in both tiers, so that a "not found" does not live for a long
// FillPolicy.SharedTTL in Redis. To keep it longer in Redis, follow it in a
// Chain with a behaviour that sets SharedTTL for nil.
func NegativeTTL(ttl time.Duration) Behaviour { return negativeTTL{ttl: ttl} }

type negativeTTL struct {
	Base
	ttl time.Duration
}

func (b negativeTTL) OnLoad(_ string, v any, d Decision) Decision {
	if v == nil {
		d.TTL, d.SharedTTL = b.ttl, b.ttl
	}
	return d
}

func (b negativeTTL) validate() error {
	if b.ttl <= 0 {
		return fmt.Errorf("NegativeTTL: ttl must be positive, got %v", b.ttl)
	}
	return nil
}

// RefreshAhead reloads a value in the background once it has lived
// fraction (0 < fraction < 1) of its TTL, so that hot slots never expire in
// front of their callers. Put it after behaviours that change the TTL.
//
// With WithFill, a background reload reads the shared copy; the shared
// copy itself is reloaded from the source once it has lived fraction of
// its SharedTTL, by one instance of the fleet (the first to find it due
// wins a lease), which keeps serving the old copy meanwhile and then
// rewrites it. The other instances keep serving and pick the new copy up
// at their next reload, so a hot slot never misses on any instance.
func RefreshAhead(fraction float64) Behaviour { return refreshAhead{fraction: fraction} }

type refreshAhead struct {
	Base
	fraction float64
}

func (b refreshAhead) OnLoad(_ string, _ any, d Decision) Decision {
	d.RefreshAfter = time.Duration(float64(d.TTL) * b.fraction)
	return d
}

func (b refreshAhead) validate() error { return checkFraction("RefreshAhead", b.fraction) }

// checkFraction reports a fraction parameter outside (0, 1).
func checkFraction(name string, f float64) error {
	if !(f > 0 && f < 1) {
		return fmt.Errorf("%s: fraction must be in (0, 1), got %v", name, f)
	}
	return nil
}

// StaleWhileRevalidate serves an expired value for up to window more while
// one background reload runs, and keeps serving it within that window if
// the reload fails (stale-if-error). After the window, Get waits for a load
// and returns its error. An invalidation always wins: an invalidated value
// is never served, stale or not.
func StaleWhileRevalidate(window time.Duration) Behaviour { return staleWindow{window: window} }

type staleWindow struct {
	Base
	window time.Duration
}

func (b staleWindow) OnLoad(_ string, _ any, d Decision) Decision {
	d.StaleFor = b.window
	return d
}

func (b staleWindow) validate() error {
	if b.window <= 0 {
		return fmt.Errorf("StaleWhileRevalidate: window must be positive, got %v", b.window)
	}
	return nil
}

// JitterTTL shortens each TTL by a random part of up to fraction
// (0 < fraction < 1) of it, so that slots loaded together do not all
// expire, and reload, together. The shared lifetime is shortened in the
// same proportion.
func JitterTTL(fraction float64) Behaviour { return jitterTTL{fraction: fraction} }

type jitterTTL struct {
	Base
	fraction float64
}

func (b jitterTTL) OnLoad(_ string, _ any, d Decision) Decision {
	cut := rand.Float64() * b.fraction
	d.TTL -= time.Duration(cut * float64(d.TTL))
	d.SharedTTL -= time.Duration(cut * float64(d.SharedTTL))
	return d
}

func (b jitterTTL) validate() error { return checkFraction("JitterTTL", b.fraction) }

// Chain combines behaviours: OnLoad runs them in order, each refining the
// decision of the previous one; OnError keeps serving stale only if all
// agree; OnInvalidate reloads if any asks to.
func Chain(bs ...Behaviour) Behaviour { return chain(bs) }

type chain []Behaviour

func (c chain) OnLoad(id string, v any, d Decision) Decision {
	for _, b := range c {
		d = b.OnLoad(id, v, d)
	}
	return d
}

func (c chain) OnError(id string, err error) bool {
	keep := true
	for _, b := range c {
		keep = b.OnError(id, err) && keep
	}
	return keep
}

func (c chain) OnInvalidate(id string) bool {
	reload := false
	for _, b := range c {
		reload = b.OnInvalidate(id) || reload
	}
	return reload
}

func (c chain) validate() error {
	var errs []error
	for i, b := range c {
		if err := validateBehaviour(b); err != nil {
			errs = append(errs, fmt.Errorf("Chain[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func validateBehaviour(b Behaviour) error {
	if b == nil {
		return errors.New("behaviour is nil")
	}
	if v, ok := b.(validator); ok {
		return v.validate()
	}
	return nil
}

// policy adapts a Behaviour to the slot actor's core.Policy.
type policy struct{ b Behaviour }

func (p policy) Loaded(id string, v any, t core.Timing) core.Timing {
	return core.Timing(p.b.OnLoad(id, v, Decision(t)))
}
func (p policy) Failed(id string, err error) bool { return p.b.OnError(id, err) }
func (p policy) Invalidated(id string) bool       { return p.b.OnInvalidate(id) }

// prefixBehaviour is one WithPrefixBehaviour rule.
type prefixBehaviour struct {
	prefix string
	b      Behaviour
}

// policyResolver returns the function that picks a slot's behaviour: the
// rule with the longest matching prefix, else the default. It runs once per
// new slot, never on the hit path. Each behaviour is adapted and guarded
// once, here, so that slots share it instead of allocating their own.
func policyResolver(def Behaviour, rules []prefixBehaviour, logger *slog.Logger) func(string) core.Policy {
	type rule struct {
		prefix string
		p      core.Policy
	}
	compiled := make([]rule, 0, len(rules))
	for _, r := range rules {
		compiled = append(compiled, rule{r.prefix, actors.Guard(policy{r.b}, logger)})
	}
	slices.SortStableFunc(compiled, func(a, b rule) int { return len(b.prefix) - len(a.prefix) })
	var fallback core.Policy = core.DefaultPolicy{}
	if def != nil {
		fallback = actors.Guard(policy{def}, logger)
	}
	return func(slotID string) core.Policy {
		for _, r := range compiled {
			if strings.HasPrefix(slotID, r.prefix) {
				return r.p
			}
		}
		return fallback
	}
}
