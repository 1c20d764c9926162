package loadtest

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
)

// referenceConfig is the config a spawned server runs with: the reference
// ipSCAPE config (testdata/sample.json), which completes the activity on
// wrap and writes the interaction id to an alternate-key column.
//
//go:embed config.json
var referenceConfig []byte

// clientID is the OAuth2 client the spawned server uses against the
// spawned sandbox.
const clientID = "ctiload"

// tenant is the tenant in the spawned sandbox's token URL.
const tenant = "ctiload"

// stack is a spawned sandbox and server, on free loopback ports, sharing a
// temporary directory.
type stack struct {
	dir        string
	bin        string
	configPath string
	cfg        *config.Config

	sandboxAddr string
	serverAddr  string

	clientSecret  string
	webhookSecret string
	sessionKey    string

	sandbox *child
	// server is replaced by each restart, while the samplers read it.
	mu     sync.Mutex
	server *child
}

// currentServer is the server process running now (nil for a nil stack).
func (s *stack) currentServer() *child {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// prepareConfig writes the config the server runs with and parses it. With
// alternateKey false, fields.agentInteractionId is removed, so activities
// are plain creates and only the outbox's idempotency keys stand between a
// retried create and a duplicate.
func prepareConfig(dir, from string, alternateKey bool) (string, *config.Config, error) {
	data := referenceConfig
	if from != "" {
		var err error
		if data, err = os.ReadFile(from); err != nil {
			return "", nil, fmt.Errorf("--config: %w", err)
		}
	}
	if !alternateKey {
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return "", nil, fmt.Errorf("config: %w", err)
		}
		if c, ok := doc["config"].(map[string]any); ok {
			if o, ok := c["options"].(map[string]any); ok {
				if f, ok := o["fields"].(map[string]any); ok {
					delete(f, "agentInteractionId")
				}
			}
		}
		var err error
		if data, err = json.MarshalIndent(doc, "", "  "); err != nil {
			return "", nil, err
		}
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return "", nil, fmt.Errorf("config: %w", err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", nil, err
	}
	return path, cfg, nil
}

// columns are the activity columns the config writes, lower-cased as
// Dataverse (and the sandbox) name them.
func columns(cfg *config.Config) ActivityColumns {
	return ActivityColumns{
		InteractionID: strings.ToLower(cfg.Options.Fields.AgentInteractionID),
		WrapCode:      strings.ToLower(cfg.Options.Fields.CallDispositionField),
	}
}

func (s *stack) startSandbox(ctx context.Context) error {
	var err error
	if s.sandboxAddr, err = FreeAddr(); err != nil {
		return err
	}
	cols := columns(s.cfg)
	args := []string{"sandbox", "--listen", s.sandboxAddr, "--db", filepath.Join(s.dir, "sandbox.db"),
		"--require-auth", "--clients", clientID + "=" + s.clientSecret}
	if cols.WrapCode != "" {
		args = append(args, "--columns", cols.WrapCode)
	}
	if cols.InteractionID != "" {
		args = append(args, "--alternate-key", cols.InteractionID)
	}
	s.sandbox = &child{name: "sandbox", path: s.bin, args: args, logPath: filepath.Join(s.dir, "sandbox.log")}
	if err := s.sandbox.start(); err != nil {
		return err
	}
	// With --require-auth the sandbox answers its stats 401 without a token:
	// it serves.
	return s.sandbox.waitReady(ctx, "http://"+s.sandboxAddr+"/_sandbox/stats", 60*time.Second, http.StatusUnauthorized)
}

// startServer starts ctibridge serve on the same address every time, so
// that widgets and the sender find a restarted server where they left it.
func (s *stack) startServer(ctx context.Context) error {
	if s.serverAddr == "" {
		var err error
		if s.serverAddr, err = FreeAddr(); err != nil {
			return err
		}
	}
	sandboxURL := "http://" + s.sandboxAddr
	srv := &child{
		name: "ctibridge serve", path: s.bin, logPath: filepath.Join(s.dir, "server.log"),
		args: []string{"serve", "--config", s.configPath, "--listen", s.serverAddr,
			"--store", filepath.Join(s.dir, "store.db"), "--phone-region", "AU",
			"--dynamics-url", sandboxURL, "--client-id", clientID,
			"--token-url", sandboxURL + "/" + tenant + "/oauth2/v2.0/token",
			"--telephony", "webhook", "--log-level", "warn"},
		// Secrets go by environment, as docs/deploy.md recommends.
		env: []string{
			"CTIBRIDGE_CLIENT_SECRET=" + s.clientSecret,
			"CTIBRIDGE_WEBHOOK_SECRET=" + s.webhookSecret,
			"CTIBRIDGE_SESSION_KEY=" + s.sessionKey,
		},
	}
	if err := srv.start(); err != nil {
		return err
	}
	s.mu.Lock()
	s.server = srv
	s.mu.Unlock()
	return srv.waitReady(ctx, "http://"+s.serverAddr+"/readyz", 60*time.Second)
}

func (s *stack) stop() {
	if srv := s.currentServer(); srv != nil {
		srv.stop(10 * time.Second)
	}
	if s.sandbox != nil {
		s.sandbox.stop(10 * time.Second)
	}
}

// startRelay starts the bare relay as a child process (the load tool
// itself, with relayArgs), so it is measured as a process of its own like
// the server.
func startRelay(ctx context.Context, dir string, relayCommand []string) (*child, string, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, "", err
	}
	c := &child{name: "relay", path: relayCommand[0], args: append(append([]string(nil), relayCommand[1:]...), "--listen", addr),
		logPath: filepath.Join(dir, "relay.log")}
	if err := c.start(); err != nil {
		return nil, "", err
	}
	if err := c.waitReady(ctx, "http://"+addr+"/healthz", 30*time.Second); err != nil {
		c.kill()
		return nil, "", err
	}
	return c, addr, nil
}
