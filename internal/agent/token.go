package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token errors. Both mean "log in again".
var (
	ErrTokenInvalid = errors.New("session token is malformed or not signed by this server")
	ErrTokenExpired = errors.New("session token has expired")
)

// Claims is what a session token asserts.
type Claims struct {
	AgentID   string `json:"sub"`
	ExpiresAt int64  `json:"exp"`
	SessionID string `json:"sid"`
	// Generation is the agent's session generation when the token was
	// issued by a login (see Credentials.Generation). Changing the PIN or
	// logging out moves the generation on, which ends every token issued
	// before. 0: not issued by a login but minted with the key (ctiload).
	Generation int64 `json:"gen,omitempty"`
}

// Signer issues and checks session tokens: base64url(payload) "."
// base64url(HMAC-SHA256(key, payload)).
type Signer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a Signer. key must be at least 32 bytes; ttl is how long
// a token lasts (an agent's shift).
func NewSigner(key []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("session key: must be at least 32 bytes, got %d", len(key))
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("session ttl: must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, ttl: ttl, now: now}, nil
}

// Issue returns a token for agentID and when it expires, bound to no
// login: for tools that hold the session key (ctiload). Such a token opens
// a socket only for an agent id without a stored login.
func (s *Signer) Issue(agentID string) (string, time.Time) {
	return s.IssueSession(agentID, 0)
}

// IssueSession returns a token for agentID at its session generation, and
// when it expires.
func (s *Signer) IssueSession(agentID string, generation int64) (string, time.Time) {
	sid := make([]byte, 12)
	rand.Read(sid)
	exp := s.now().Add(s.ttl).Truncate(time.Second)
	payload, _ := json.Marshal(Claims{AgentID: agentID, ExpiresAt: exp.Unix(), SessionID: base64.RawURLEncoding.EncodeToString(sid), Generation: generation})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.sign(payload)), exp
}

// Verify checks a token's signature and expiry and returns its claims.
func (s *Signer) Verify(token string) (Claims, error) {
	payloadPart, sigPart, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrTokenInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(payloadPart)
	sig, err2 := enc.DecodeString(sigPart)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, s.sign(payload)) {
		return Claims{}, ErrTokenInvalid
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c.AgentID == "" {
		return Claims{}, ErrTokenInvalid
	}
	if s.now().Unix() >= c.ExpiresAt {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

func (s *Signer) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}
