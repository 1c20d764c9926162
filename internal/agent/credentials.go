// Package agent authenticates agents and holds the widget connections: who
// is logged in, which sockets belong to which agent, and the signed session
// tokens that make sure no agent ever receives another agent's calls.
package agent

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/store"
)

// pinIterations makes a PIN guess cost a few milliseconds offline; online
// guessing is limited by the login rate limiter.
const pinIterations = 60_000

// ErrBadCredentials is returned for an unknown agent or a wrong PIN alike,
// so a caller cannot probe which agent ids exist.
var ErrBadCredentials = errors.New("unknown agent id or wrong PIN")

// Credentials stores agents' PINs, hashed, in the store's agents table,
// with each agent's session generation: a random number that changes with
// the PIN and at logout, which every session token carries, so that a
// change made by any process (the agent command) ends the tokens issued
// before it.
type Credentials struct {
	store LoginStore
	// ended, when set, is told about an agent whose sessions just ended
	// in this process, to close its sockets (Sessions sets it).
	ended func(agentID string)
}

// LoginStore keeps agents' logins (internal/store.Agents, on SQLite or
// PostgreSQL).
type LoginStore interface {
	SetLogin(ctx context.Context, agentID, pinHash, name string, generation, createdAt int64) error
	RemoveLogin(ctx context.Context, agentID string, generation int64) (bool, error)
	SetGeneration(ctx context.Context, agentID string, generation int64) error
	Generation(ctx context.Context, agentID string) (generation int64, found bool, err error)
	Login(ctx context.Context, agentID string) (pinHash string, generation int64, found bool, err error)
	SetSIP(ctx context.Context, agentID string, acc store.SIPAccount) (bool, error)
	SIP(ctx context.Context, agentID string) (store.SIPAccount, error)
	SetDynamicsUser(ctx context.Context, agentID string, u store.DynamicsUser) (bool, error)
	DynamicsUser(ctx context.Context, agentID string) (store.DynamicsUser, error)
}

// NewCredentials returns the credentials kept in s.
func NewCredentials(s LoginStore) *Credentials { return &Credentials{store: s} }

// Set creates or replaces an agent's PIN, and ends the agent's sessions.
func (c *Credentials) Set(ctx context.Context, agentID, pin, name string) error {
	if err := ValidateAgentID(agentID); err != nil {
		return err
	}
	if len(pin) < 4 {
		return fmt.Errorf("pin: must be at least 4 characters")
	}
	hash, err := hashPIN(pin)
	if err != nil {
		return err
	}
	if err := c.store.SetLogin(ctx, agentID, hash, name, newGeneration(), time.Now().Unix()); err != nil {
		return fmt.Errorf("save agent %q: %w", agentID, err)
	}
	c.sessionsEnded(agentID)
	return nil
}

// Remove removes an agent's PIN, so it can no longer log in, and ends its
// sessions. The row stays (with no PIN, SIP account or Dynamics user): its new
// session generation is what refuses the tokens issued before.
func (c *Credentials) Remove(ctx context.Context, agentID string) error {
	found, err := c.store.RemoveLogin(ctx, agentID, newGeneration())
	if err != nil {
		return fmt.Errorf("remove agent %q: %w", agentID, err)
	}
	if !found {
		return fmt.Errorf("agent %q: no such agent", agentID)
	}
	c.sessionsEnded(agentID)
	return nil
}

// EndSessions ends every session of agentID (logout): tokens issued before
// no longer open a socket.
func (c *Credentials) EndSessions(ctx context.Context, agentID string) error {
	if err := c.store.SetGeneration(ctx, agentID, newGeneration()); err != nil {
		return fmt.Errorf("end the sessions of agent %q: %w", agentID, err)
	}
	c.sessionsEnded(agentID)
	return nil
}

// Generation returns agentID's session generation, and false when the
// agent has no stored login. One read by primary key.
func (c *Credentials) Generation(ctx context.Context, agentID string) (int64, bool, error) {
	gen, found, err := c.store.Generation(ctx, agentID)
	if err != nil {
		return 0, false, fmt.Errorf("look up the sessions of agent %q: %w", agentID, err)
	}
	return gen, found, nil
}

func (c *Credentials) sessionsEnded(agentID string) {
	if c.ended != nil {
		c.ended(agentID)
	}
}

// newGeneration is a random, non-zero session generation: 0 is what tokens
// minted without a login carry.
func newGeneration() int64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if g := int64(binary.BigEndian.Uint64(b[:]) >> 1); g != 0 {
			return g
		}
	}
}

// Verify checks an agent's PIN. It returns ErrBadCredentials for an unknown
// agent or a wrong PIN.
func (c *Credentials) Verify(ctx context.Context, agentID, pin string) error {
	_, err := c.verify(ctx, agentID, pin)
	return err
}

// dummyHash is checked for an unknown or removed agent, to spend the time
// of a real check.
const dummyHash = "pbkdf2-sha256$60000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// verify is Verify that also returns the agent's session generation, for
// the token it logs in to.
func (c *Credentials) verify(ctx context.Context, agentID, pin string) (int64, error) {
	stored, gen, found, err := c.store.Login(ctx, agentID)
	if err != nil {
		return 0, fmt.Errorf("look up agent: %w", err)
	}
	if !found || stored == "" {
		verifyPIN(dummyHash, pin)
		return 0, ErrBadCredentials
	}
	if !verifyPIN(stored, pin) {
		return 0, ErrBadCredentials
	}
	return gen, nil
}

// ValidateAgentID checks that an agent id is printable and short: it ends
// up in logs, tokens and metrics.
func ValidateAgentID(id string) error {
	if id == "" {
		return errors.New("agentId: is required")
	}
	if len(id) > 64 {
		return errors.New("agentId: must be at most 64 characters")
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return errors.New("agentId: use only printable ASCII characters without spaces")
		}
	}
	return nil
}

func hashPIN(pin string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pin, salt, pinIterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return "pbkdf2-sha256$" + strconv.Itoa(pinIterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

func verifyPIN(stored, pin string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iterations, err := strconv.Atoi(parts[1])
	if err != nil || iterations < 1 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pin, salt, iterations, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// SIPAccount is an agent's account on the contact centre's SIP server, which
// the widget's softphone registers with. It is handed to the agent's widget
// only over the authenticated socket, and never logged.
type SIPAccount struct {
	// User is the SIP user (sip:USER@domain); empty means no account.
	User string `json:"user"`
	// AuthUser is the digest authentication user when it differs from User.
	AuthUser    string `json:"authUser"`
	Password    string `json:"password"`
	DisplayName string `json:"displayName"`
}

// String hides the password, so an account printed by mistake leaks nothing.
func (a SIPAccount) String() string {
	return fmt.Sprintf("SIPAccount{User: %q, AuthUser: %q, Password: [%d bytes], DisplayName: %q}", a.User, a.AuthUser, len(a.Password), a.DisplayName)
}

// LogValue keeps the password out of structured logs.
func (a SIPAccount) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", a.User), slog.String("authUser", a.AuthUser))
}

// ErrUnknownAgent is returned when an agent's SIP account is set before the
// agent has a login.
var ErrUnknownAgent = errors.New("unknown agent id: create the agent's login first (ctibridge agent set ID PIN)")

// SetSIP stores the agent's SIP account next to its login; an account with
// an empty User removes it.
func (c *Credentials) SetSIP(ctx context.Context, agentID string, acc SIPAccount) error {
	if err := ValidateAgentID(agentID); err != nil {
		return err
	}
	if acc.User != "" {
		if err := validateSIPUser(acc.User, "user"); err != nil {
			return err
		}
		if acc.AuthUser != "" {
			if err := validateSIPUser(acc.AuthUser, "auth user"); err != nil {
				return err
			}
		}
		if acc.Password == "" {
			return errors.New("sip password: is required; give it on standard input")
		}
		if len(acc.Password) > 256 || strings.ContainsAny(acc.Password, "\r\n\x00") {
			return errors.New("sip password: must be at most 256 characters on one line")
		}
		if len(acc.DisplayName) > 128 || strings.ContainsAny(acc.DisplayName, "\r\n\x00\"") {
			return errors.New("sip display name: must be at most 128 characters on one line, without double quotes")
		}
	} else {
		acc = SIPAccount{}
	}
	found, err := c.store.SetSIP(ctx, agentID, store.SIPAccount(acc))
	if err != nil {
		return fmt.Errorf("save the SIP account of agent %q: %w", agentID, err)
	}
	if !found {
		return ErrUnknownAgent
	}
	return nil
}

// SIP returns the agent's SIP account; User is empty when it has none.
func (c *Credentials) SIP(ctx context.Context, agentID string) (SIPAccount, error) {
	acc, err := c.store.SIP(ctx, agentID)
	if err != nil {
		return SIPAccount{}, fmt.Errorf("look up the SIP account of agent %q: %w", agentID, err)
	}
	return SIPAccount(acc), nil
}

// validateSIPUser accepts the user part of a SIP URI as PBXs name accounts:
// RFC 3261 unreserved characters and a few of its user-unreserved ones.
func validateSIPUser(user, what string) error {
	if len(user) > 64 {
		return fmt.Errorf("sip %s: must be at most 64 characters", what)
	}
	for _, r := range user {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.!~*'()&=+$,;?/", r):
		default:
			return fmt.Errorf("sip %s: %q is not allowed in a SIP user; use letters, digits and - _ . ! ~ * ' ( ) & = + $ , ; ? /", what, r)
		}
	}
	return nil
}
