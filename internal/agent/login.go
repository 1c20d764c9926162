package agent

import (
	"container/list"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login limits. Every attempt costs a PBKDF2 hash (tens of milliseconds of
// a core), so attempts are limited before hashing: per agent id (the PIN
// lockout), per source address, globally, and in how many hash at once.
const (
	// lockoutAfter failures in a row lock an agent id for firstLockout;
	// each failure after a lockout locks it for twice as long as the last
	// one, up to maxLockout. A successful login forgets the failures.
	lockoutAfter = 5
	firstLockout = time.Minute
	maxLockout   = time.Hour
	// forgetLockouts is how long after its last failure a locked-out id's
	// record is kept, so its lockouts keep growing across a day of guessing.
	forgetLockouts = 6 * time.Hour
	// maxProbationIDs bounds the ids with 1 to lockoutAfter-1 failures.
	// Past it the oldest record with the fewest failures goes: spraying
	// fresh ids (one failure each) evicts only other such records.
	maxProbationIDs = 10_000

	// Per source address: a burst, then one attempt a second. Behind a
	// reverse proxy every agent shares the proxy's address.
	sourceBurst = 30
	sourceRate  = rate.Limit(1)
	maxSources  = 10_000

	// All sources together: at most 10 hashes a second after a burst.
	globalBurst = 60
	globalRate  = rate.Limit(10)
)

// loginGuard decides whether a login attempt may be hashed.
type loginGuard struct {
	mu sync.Mutex
	// ids are the agent ids with failures. byFailures[n] lists the records
	// with n failures (1 ≤ n < lockoutAfter), oldest first;
	// byFailures[lockoutAfter] those locked out at least once, by last
	// failure: these are never evicted, only forgotten after
	// forgetLockouts. Reaching lockoutAfter failures needs that many
	// hashed attempts, which the global limiter bounds, so these records
	// are bounded too (globalRate × forgetLockouts / lockoutAfter).
	ids        map[string]*idRecord
	byFailures [lockoutAfter + 1]*list.List
	probation  int

	sources     map[netip.Prefix]*list.Element // of *sourceRecord
	sourceOrder *list.List                     // least recently used first
	maxSources  int
	maxIDs      int

	global  *rate.Limiter
	hashing chan struct{} // a slot per concurrent PIN hash
}

type idRecord struct {
	id          string
	failures    int
	lockedUntil time.Time
	lastFailure time.Time
	elem        *list.Element
}

type sourceRecord struct {
	key netip.Prefix
	lim *rate.Limiter
}

func newLoginGuard() *loginGuard {
	g := &loginGuard{
		ids:         make(map[string]*idRecord),
		sources:     make(map[netip.Prefix]*list.Element),
		sourceOrder: list.New(),
		maxSources:  maxSources,
		maxIDs:      maxProbationIDs,
		global:      rate.NewLimiter(globalRate, globalBurst),
		// Half the cores at most, so webhooks and sockets keep the rest
		// whatever the logins do.
		hashing: make(chan struct{}, max(1, runtime.NumCPU()/2)),
	}
	for i := range g.byFailures {
		g.byFailures[i] = list.New()
	}
	return g
}

// lockedFor is how long agentID stays locked out (0: not locked).
func (g *loginGuard) lockedFor(agentID string, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forget(now)
	if r := g.ids[agentID]; r != nil && now.Before(r.lockedUntil) {
		return r.lockedUntil.Sub(now)
	}
	return 0
}

// allowSource takes one attempt from the source's and the global budget,
// or says how long to wait.
func (g *loginGuard) allowSource(source netip.Prefix, now time.Time) (ok, global bool, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var lim *rate.Limiter
	if e := g.sources[source]; e != nil {
		g.sourceOrder.MoveToBack(e)
		lim = e.Value.(*sourceRecord).lim
	} else {
		lim = rate.NewLimiter(sourceRate, sourceBurst)
		g.sources[source] = g.sourceOrder.PushBack(&sourceRecord{key: source, lim: lim})
		if g.sourceOrder.Len() > g.maxSources {
			// Forgetting a source hands it a fresh burst; the global
			// limit still holds.
			oldest := g.sourceOrder.Remove(g.sourceOrder.Front()).(*sourceRecord)
			delete(g.sources, oldest.key)
		}
	}
	if !lim.AllowN(now, 1) {
		return false, false, time.Duration(float64(time.Second) / float64(sourceRate))
	}
	if !g.global.AllowN(now, 1) {
		return false, true, time.Duration(float64(time.Second) / float64(globalRate))
	}
	return true, false, 0
}

// acquireHash takes a hashing slot without waiting; release gives it back.
func (g *loginGuard) acquireHash() bool {
	select {
	case g.hashing <- struct{}{}:
		return true
	default:
		return false
	}
}

func (g *loginGuard) releaseHash() { <-g.hashing }

// attempt counts an attempt on agentID as a failure before it is checked,
// so simultaneous guesses cannot overtake the lockout; succeeded takes it
// back. It returns the failures so far, or how long the id is locked.
func (g *loginGuard) attempt(agentID string, now time.Time) (failures int, locked time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.forget(now)
	r := g.ids[agentID]
	if r != nil && now.Before(r.lockedUntil) {
		return r.failures, r.lockedUntil.Sub(now)
	}
	if r == nil {
		r = &idRecord{id: agentID}
		g.ids[agentID] = r
	} else {
		g.unlink(r)
	}
	r.failures++
	r.lastFailure = now
	if r.failures >= lockoutAfter {
		r.lockedUntil = now.Add(lockoutDuration(r.failures - lockoutAfter))
	}
	g.link(r)
	g.evict()
	return r.failures, 0
}

// succeeded forgets agentID's failures.
func (g *loginGuard) succeeded(agentID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.ids[agentID]; r != nil {
		g.unlink(r)
		delete(g.ids, agentID)
	}
}

// lockoutDuration is the n-th lockout (from 0): firstLockout doubled n
// times, at most maxLockout.
func lockoutDuration(n int) time.Duration {
	d := firstLockout
	for ; n > 0 && d < maxLockout; n-- {
		d *= 2
	}
	return min(d, maxLockout)
}

func (g *loginGuard) link(r *idRecord) {
	n := min(r.failures, lockoutAfter)
	r.elem = g.byFailures[n].PushBack(r)
	if n < lockoutAfter {
		g.probation++
	}
}

func (g *loginGuard) unlink(r *idRecord) {
	n := min(r.failures, lockoutAfter)
	g.byFailures[n].Remove(r.elem)
	if n < lockoutAfter {
		g.probation--
	}
}

// evict drops the oldest record among those with the fewest failures while
// there are too many. A locked-out record is never evicted.
func (g *loginGuard) evict() {
	for g.probation > g.maxIDs {
		for n := 1; n < lockoutAfter; n++ {
			if front := g.byFailures[n].Front(); front != nil {
				r := front.Value.(*idRecord)
				g.unlink(r)
				delete(g.ids, r.id)
				break
			}
		}
	}
}

// forget drops locked-out records whose last failure is forgetLockouts
// old; they are in order of last failure.
func (g *loginGuard) forget(now time.Time) {
	l := g.byFailures[lockoutAfter]
	for e := l.Front(); e != nil; e = l.Front() {
		r := e.Value.(*idRecord)
		if now.Sub(r.lastFailure) < forgetLockouts || now.Before(r.lockedUntil) {
			return
		}
		g.unlink(r)
		delete(g.ids, r.id)
	}
}

// sourceOf is the address a login came from: the peer of the TCP
// connection, unless that peer is one of the trusted proxies; then the
// rightmost X-Forwarded-For address that is not a trusted proxy (a client
// can write anything to the left of what its proxies appended). An IPv6
// client usually holds a whole /64, so that is one source. An invalid
// address is the zero prefix: one source for all of them.
func sourceOf(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	if isTrusted(addr, trusted) {
		var hops []string
		for _, h := range forwardedFor {
			hops = append(hops, strings.Split(h, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a garbled hop: the last address trusted is the source
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32)
	}
	p, _ := addr.WithZone("").Prefix(64)
	return p
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a comma-separated list of addresses or CIDR
// prefixes (the serve setting --trusted-proxies): the reverse proxies whose
// X-Forwarded-For names the client of a login.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q: not an IP address or CIDR prefix (e.g. 127.0.0.1, 10.0.0.0/8, ::1)", item)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
