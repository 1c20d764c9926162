package sandbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"modernc.org/sqlite"
)

// Options configures a sandbox.
type Options struct {
	// Path is the SQLite database file; "" keeps the database in memory for
	// the life of the Sandbox.
	Path string
	// ExtraColumns are custom columns added to phonecall and task, such as
	// the config's options.fields values (new_wrapcode). Names are
	// lower-cased. A name is a string column (max 4000); "name:type" picks
	// another type: string, memo, bool, int, decimal, datetime, guid, or
	// "name:choice:1=Sale,2=No sale" for a choice column with its options.
	ExtraColumns []string
	// AlternateKey names a string column of phonecall and task that is an
	// alternate key (unique, case-insensitive), addressable as
	// /phonecalls(new_agentinteractionid='IX-1'). It is added to the extra
	// columns if missing.
	AlternateKey string
	// PhoneCallPartyTargets are the tables a phone call's from and to (its
	// activity parties) accept, as the metadata reports them; nil means
	// account, contact, lead and systemuser (Dynamics 365 Sales).
	PhoneCallPartyTargets []string
	// RefuseMetadata answers reads of table definitions 403, as Dataverse
	// answers an application user whose role lacks prvReadEntity.
	RefuseMetadata bool
	// RequireAuth makes /api/data demand a bearer token from the token
	// endpoint.
	RequireAuth bool
	// Clients are the OAuth2 clients the token endpoint accepts: client id
	// → client secret. Each gets an application user in systemusers.
	Clients map[string]string
	// Seed fills an empty database with the demo data (see Seed).
	Seed bool
	// SeedContacts is the number of generated contacts when Seed is set;
	// 0 means DefaultSeedContacts.
	SeedContacts int
	// TokenLifetime is how long issued access tokens last; 0 means one hour.
	TokenLifetime time.Duration
	// Now is the clock for timestamps and token expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives internal errors (a failing SQL statement); nil means
	// slog.Default().
	Logger *slog.Logger
}

// Sandbox is an embedded Dataverse-compatible CRM. It is safe for
// concurrent use.
type Sandbox struct {
	opts Options
	// schema is replaced, whole, when the metadata API adds a column or a
	// key; a request works with the one it read.
	schema atomic.Pointer[schema]
	// schemaMu serialises metadata changes; added lists them, in order.
	schemaMu sync.Mutex
	added    []addedColumn
	now      func() time.Time

	// writer has a single connection: SQLite allows one writer at a time,
	// and serializing in the pool avoids busy retries. reader serves GETs
	// concurrently (WAL lets them run beside the writer).
	writer *sql.DB
	reader *sql.DB

	writerStmts *stmtCache
	readerStmts *stmtCache

	version atomic.Int64

	auth   *authority
	faults *faultInjector
	stats  *statsCounter

	log *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// collationCI is the case-insensitive collation of text columns.
const collationCI = "sandbox_ci"

var registerOnce sync.Once
var registerErr error

// registerSQLite installs the collation and functions the sandbox's SQL
// uses. Registration is process-wide in modernc.org/sqlite, so it runs once.
func registerSQLite() error {
	registerOnce.Do(func() {
		err := sqlite.RegisterCollationUtf8(collationCI, compareFold)
		if err != nil && !strings.Contains(err.Error(), "already") {
			registerErr = err
			return
		}
		err = sqlite.RegisterDeterministicScalarFunction("sandbox_like", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			value, ok := args[0].(string)
			if !ok {
				return nil, nil
			}
			pattern, _ := args[1].(string)
			if matchLike(value, pattern) {
				return int64(1), nil
			}
			return int64(0), nil
		})
		if err != nil && !strings.Contains(err.Error(), "already") {
			registerErr = err
		}
	})
	return registerErr
}

// compareFold orders strings ignoring case, like a case-insensitive SQL
// Server collation. Strings equal when folded are ordered byte-wise so the
// collation stays a total order only through the fold.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		var ra, rb rune
		if a[0] < utf8.RuneSelf {
			ra, a = rune(a[0]), a[1:]
		} else {
			r, size := utf8.DecodeRuneInString(a)
			ra, a = r, a[size:]
		}
		if b[0] < utf8.RuneSelf {
			rb, b = rune(b[0]), b[1:]
		} else {
			r, size := utf8.DecodeRuneInString(b)
			rb, b = r, b[size:]
		}
		if ra == rb {
			continue
		}
		la, lb := unicode.ToLower(ra), unicode.ToLower(rb)
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

// Open creates or opens a sandbox database, creates missing tables and
// columns, and seeds it when Options.Seed is set and it holds no contacts.
func Open(ctx context.Context, opts Options) (*Sandbox, error) {
	if err := registerSQLite(); err != nil {
		return nil, fmt.Errorf("sandbox: registering SQLite collation: %w", err)
	}
	sch, err := newSchema(opts.ExtraColumns, opts.AlternateKey, nil, opts.PhoneCallPartyTargets)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		opts:   opts,
		now:    opts.Now,
		faults: newFaultInjector(),
		stats:  newStatsCounter(),
	}
	s.schema.Store(sch)
	if s.now == nil {
		s.now = time.Now
	}
	s.log = opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}

	memory := opts.Path == ""
	var dsn string
	if memory {
		// A named memdb database is shared by every connection of this
		// process that opens the same name, so reader and writer pools see
		// one database.
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:/sandbox-" + hex.EncodeToString(b[:]) + "?vfs=memdb"
	} else {
		dsn = "file:" + (&url.URL{Path: opts.Path}).EscapedPath() + "?"
	}
	pragmas := []string{"busy_timeout(10000)", "foreign_keys(off)"}
	if !memory {
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)")
	}
	sep := "&"
	if strings.HasSuffix(dsn, "?") {
		sep = ""
	}
	for _, p := range pragmas {
		dsn += sep + "_pragma=" + url.QueryEscape(p)
		sep = "&"
	}
	dsn += "&_txlock=immediate"

	s.writer, err = sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sandbox: opening %q: %w", opts.Path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	s.reader, err = sql.Open("sqlite", dsn)
	if err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sandbox: opening %q: %w", opts.Path, err)
	}
	s.reader.SetMaxOpenConns(8)
	s.reader.SetMaxIdleConns(8)
	s.reader.SetConnMaxIdleTime(0)
	// The memdb database lives while a connection is open: pin the writer's
	// connection before anything else can close it.
	if err := s.writer.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("sandbox: opening %q: %w", opts.Path, err)
	}
	s.writerStmts = newStmtCache(s.writer)
	s.readerStmts = newStmtCache(s.reader)

	if err := s.loadAddedMetadata(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.loadVersion(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	for _, q := range s.writerStatements() {
		if _, err := s.writerStmts.get(ctx, q); err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("sandbox: preparing %q: %w", q, err)
		}
	}
	s.auth = newAuthority(s, opts.Clients, opts.TokenLifetime)
	if err := s.ensureUsers(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if opts.Seed {
		var n int
		if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM "contacts"`).Scan(&n); err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("sandbox: counting contacts: %w", err)
		}
		if n == 0 {
			size := opts.SeedContacts
			if size <= 0 {
				size = DefaultSeedContacts
			}
			if err := s.Seed(ctx, size); err != nil {
				s.closeDBs()
				return nil, err
			}
		}
	}
	return s, nil
}

// migrate creates the tables, adds columns that a newer Options asks for
// and (re)creates the alternate-key indexes, all in one transaction.
func (s *Sandbox) sch() *schema { return s.schema.Load() }

func (s *Sandbox) migrate(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sandbox: starting schema migration: %w", err)
	}
	defer tx.Rollback()
	for _, t := range s.sch().tables {
		for _, stmt := range t.ddl() {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sandbox: creating table %s: %w", t.set, err)
			}
		}
		existing := map[string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t.set)
		if err != nil {
			return fmt.Errorf("sandbox: reading columns of %s: %w", t.set, err)
		}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("sandbox: reading columns of %s: %w", t.set, err)
			}
			existing[name] = true
		}
		rows.Close()
		for _, c := range t.columns {
			if !existing[c.name] {
				stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quoteIdent(t.set), quoteIdent(c.name), c.sqlType())
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("sandbox: adding column %s to %s: %w", c.name, t.set, err)
				}
			}
			if c.kind == kindLookup && !existing[c.name+typeSuffix] {
				stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s TEXT", quoteIdent(t.set), quoteIdent(c.name+typeSuffix))
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("sandbox: adding column %s to %s: %w", c.name, t.set, err)
				}
			}
		}
		// Drop alternate-key indexes of an earlier AlternateKey choice.
		rows, err = tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND name LIKE 'ux\_%' ESCAPE '\'`, t.set)
		if err != nil {
			return fmt.Errorf("sandbox: reading indexes of %s: %w", t.set, err)
		}
		var stale []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return fmt.Errorf("sandbox: reading indexes of %s: %w", t.set, err)
			}
			if t.altKey == nil || name != "ux_"+t.set+"_"+t.altKey.name {
				stale = append(stale, name)
			}
		}
		rows.Close()
		for _, name := range stale {
			if _, err := tx.ExecContext(ctx, "DROP INDEX "+quoteIdent(name)); err != nil {
				return fmt.Errorf("sandbox: dropping index %s: %w", name, err)
			}
		}
		if stmt := t.altKeyDDL(); stmt != "" {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("sandbox: creating alternate key %s on %s (do existing rows repeat a value?): %w", t.altKey.name, t.set, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sandbox: committing schema migration: %w", err)
	}
	return nil
}

// loadVersion starts the row-version counter above every stored version,
// so ETags keep growing across restarts.
func (s *Sandbox) loadVersion(ctx context.Context) error {
	var max int64
	for _, t := range s.sch().tables {
		if t.column("versionnumber") == nil {
			continue
		}
		var v sql.NullInt64
		if err := s.reader.QueryRowContext(ctx, fmt.Sprintf(`SELECT max("versionnumber") FROM %s`, quoteIdent(t.set))).Scan(&v); err != nil {
			return fmt.Errorf("sandbox: reading versions of %s: %w", t.set, err)
		}
		if v.Int64 > max {
			max = v.Int64
		}
	}
	if max < 1000 {
		max = 1000
	}
	s.version.Store(max)
	return nil
}

func (s *Sandbox) nextVersion() int64 { return s.version.Add(1) }

// Close releases the database. An in-memory sandbox loses its data.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Sandbox) closeDBs() error {
	var errs []error
	if s.readerStmts != nil {
		s.readerStmts.close()
	}
	if s.writerStmts != nil {
		s.writerStmts.close()
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	return errors.Join(errs...)
}

// stmtCache keeps prepared statements by SQL text. Queries built from
// $filter differ only in structure, not values (values are parameters), so
// a small cache covers a workload.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

const stmtCacheSize = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	stmt, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return stmt, nil
	}
	stmt, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing, ok := c.stmts[query]; ok {
		stmt.Close()
		return existing, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		// Statements in use stay valid after Close until their rows are
		// done, so dropping the whole cache is safe.
		for q, old := range c.stmts {
			old.Close()
			delete(c.stmts, q)
		}
	}
	c.stmts[query] = stmt
	return stmt, nil
}

// lookup returns a cached statement without preparing one.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, stmt := range c.stmts {
		stmt.Close()
		delete(c.stmts, q)
	}
}

// dbConn runs statements either in a write transaction or on the reader
// pool, through the prepared-statement caches.
type dbConn struct {
	s  *Sandbox
	tx *sql.Tx
}

func (d dbConn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if d.tx != nil {
		// Preparing on the writer pool inside a transaction would wait for
		// the pool's only connection, which the transaction holds; use the
		// statements prepared at Open, or let the transaction prepare.
		if stmt := d.s.writerStmts.lookup(query); stmt != nil {
			return d.tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
		}
		return d.tx.QueryContext(ctx, query, args...)
	}
	stmt, err := d.s.readerStmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(ctx, args...)
}

func (d dbConn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if d.tx == nil {
		return nil, errors.New("sandbox: write outside a transaction")
	}
	if stmt := d.s.writerStmts.lookup(query); stmt != nil {
		return d.tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	}
	return d.tx.ExecContext(ctx, query, args...)
}

// inTx runs fn in a write transaction, committing when it returns nil.
func (s *Sandbox) inTx(ctx context.Context, fn func(dbConn) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sandbox: starting transaction: %w", err)
	}
	if err := fn(dbConn{s: s, tx: tx}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sandbox: committing: %w", err)
	}
	return nil
}
