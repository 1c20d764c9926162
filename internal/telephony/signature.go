package telephony

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names of the webhook signature scheme (docs/webhook.md).
const (
	TimestampHeader = "X-Ctibridge-Timestamp"
	SignatureHeader = "X-Ctibridge-Signature"
)

// signatureScheme prefixes each signature in SignatureHeader. A new scheme
// would get a new prefix, and receivers ignore prefixes they do not know, so
// a sender can send both during a migration.
const signatureScheme = "v1="

// maxSignatures bounds the comma-separated values one SignatureHeader may
// carry: rotation needs two or three, and the bound keeps a hostile header
// from making a request cost more than a few comparisons.
const maxSignatures = 8

// Sign returns the two headers that authenticate body as sent at ts:
// X-Ctibridge-Timestamp (unix seconds) and X-Ctibridge-Signature
// ("v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)).
//
// To sign with several secrets while a new one is rolled out, join the
// signature headers of each with a comma: "v1=ab12...,v1=cd34...".
func Sign(secret []byte, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	mac := signatureMAC(secret, timestampHeader, body)
	return timestampHeader, signatureScheme + hex.EncodeToString(mac[:])
}

// signatureMAC is HMAC-SHA256(secret, timestamp + "." + body).
func signatureMAC(secret []byte, timestamp string, body []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// parseSignatures extracts the v1 signatures of a SignatureHeader value.
// Values of other schemes are skipped; values that are v1 but not 64 hex
// digits make the header invalid, since a sender that produced one has a bug
// worth reporting rather than hiding behind another value that happens to
// match.
func parseSignatures(header string) (sigs [][sha256.Size]byte, ok bool) {
	parts := strings.Split(header, ",")
	if len(parts) > maxSignatures {
		return nil, false
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		hexSig, isV1 := strings.CutPrefix(p, signatureScheme)
		if !isV1 {
			continue
		}
		var sig [sha256.Size]byte
		if len(hexSig) != hex.EncodedLen(sha256.Size) {
			return nil, false
		}
		if _, err := hex.Decode(sig[:], []byte(hexSig)); err != nil {
			return nil, false
		}
		sigs = append(sigs, sig)
	}
	return sigs, len(sigs) > 0
}

// replayKey identifies one signed message for replay detection. 128 bits of
// the message's MAC under the primary secret: collisions between distinct
// messages are out of reach (2^-64 at a billion entries), and half the size
// of the full MAC keeps the memory at its cap reasonable.
type replayKey [16]byte

// replayMemory remembers the messages accepted recently, so a captured
// request cannot be sent again while its timestamp is still within the
// tolerance. A message carries its timestamp, so a replay has the same
// timestamp second as the original: entries are kept in per-second buckets,
// looked up in one bucket, and dropped a whole second at a time once that
// second is out of tolerance (a replay would then fail the timestamp check
// anyway).
type replayMemory struct {
	mu        sync.Mutex
	tolerance int64 // seconds
	capacity  int
	size      int
	buckets   map[int64]map[replayKey]struct{}
	// swept is the latest "now" second a sweep ran for; sweeping at most once
	// a second keeps it off the hot path.
	swept int64
}

func newReplayMemory(tolerance time.Duration, capacity int) *replayMemory {
	return &replayMemory{
		// Rounded up and one more: keeping an entry a second too long is
		// harmless, dropping it a second too early would open a window.
		tolerance: int64((tolerance+time.Second-1)/time.Second) + 1,
		capacity:  capacity,
		buckets:   make(map[int64]map[replayKey]struct{}),
	}
}

// replayOutcome is what remember decided.
type replayOutcome int

const (
	replayRemembered replayOutcome = iota // first time seen; now remembered
	replaySeen                            // seen before within tolerance
	replayFull                            // at capacity; not remembered
)

// remember records the message (ts, key) unless it was seen before or the
// memory is full. At capacity the request is refused rather than an older
// entry evicted: evicting would reopen that entry's replay window, while a
// refusal only delays the sender, who retries (docs/webhook.md). Only
// requests with a valid signature reach the memory, so only a holder of the
// secret can fill it. retryAfter is how long until the oldest second expires.
func (r *replayMemory) remember(now, ts int64, key replayKey) (outcome replayOutcome, retryAfter time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	bucket := r.buckets[ts]
	if _, seen := bucket[key]; seen {
		return replaySeen, 0
	}
	if r.size >= r.capacity {
		oldest := ts
		for sec := range r.buckets {
			oldest = min(oldest, sec)
		}
		wait := oldest + r.tolerance + 1 - now
		return replayFull, time.Duration(max(wait, 1)) * time.Second
	}
	if bucket == nil {
		bucket = make(map[replayKey]struct{})
		r.buckets[ts] = bucket
	}
	bucket[key] = struct{}{}
	r.size++
	return replayRemembered, 0
}

// restore adds a message remembered before a restart. The capacity is not
// checked: every entry was admitted under it, and refusing one would reopen
// its replay window.
func (r *replayMemory) restore(ts int64, key replayKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bucket := r.buckets[ts]
	if bucket == nil {
		bucket = make(map[replayKey]struct{})
		r.buckets[ts] = bucket
	}
	if _, seen := bucket[key]; !seen {
		bucket[key] = struct{}{}
		r.size++
	}
}

// forget removes a message, so the sender may retry the very same request
// after a temporary failure on our side.
func (r *replayMemory) forget(ts int64, key replayKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bucket := r.buckets[ts]
	if _, ok := bucket[key]; !ok {
		return
	}
	delete(bucket, key)
	r.size--
	if len(bucket) == 0 {
		delete(r.buckets, ts)
	}
}

// sweep drops the seconds no longer within tolerance of now. There are at
// most 2*tolerance+1 live seconds, so a sweep is a short loop, run at most
// once per second.
func (r *replayMemory) sweep(now int64) {
	if now == r.swept {
		return
	}
	r.swept = now
	for sec, bucket := range r.buckets {
		if sec < now-r.tolerance {
			r.size -= len(bucket)
			delete(r.buckets, sec)
		}
	}
}

// len is the number of messages remembered.
func (r *replayMemory) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.size
}
