package store

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared runs the statements that run for every event, prepared once:
// under load, parsing their SQL afresh cost about as much CPU as running
// them. A statement is prepared on first use outside a transaction, or by
// Prepare, and kept until Close. Inside a transaction only statements
// prepared before it began are used prepared: preparing one there would
// wait for a second connection, and the store has one.
//
// Its statements run to their end whatever becomes of the caller's
// context: see Uncancelled.
//
// Queries are written with ? placeholders and rewritten for the engine
// (DB.Q) once, when prepared.
type Prepared struct {
	db    *DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// NewPrepared returns a Prepared over db.
func NewPrepared(db *DB) *Prepared {
	return &Prepared{db: db, stmts: make(map[string]*sql.Stmt)}
}

// Prepare prepares queries not prepared yet; call it before beginning a
// transaction that runs them.
func (p *Prepared) Prepare(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, err := p.stmt(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// prepared returns query's statement if it is prepared.
func (p *Prepared) prepared(query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stmts[query]
}

func (p *Prepared) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := p.prepared(query); s != nil {
		return s, nil
	}
	// Prepared without holding p.mu: preparing waits for the connection,
	// which a transaction that wants p.mu may hold.
	s, err := p.db.PrepareContext(Uncancelled(ctx), p.db.Q(query))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if kept, ok := p.stmts[query]; ok {
		s.Close() // prepared meanwhile by another caller
		return kept, nil
	}
	p.stmts[query] = s
	return s, nil
}

// ExecContext runs query outside a transaction.
func (p *Prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = Uncancelled(ctx)
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (p *Prepared) QueryRowContext(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	ctx = Uncancelled(ctx)
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryRowContext(ctx, args...), nil
}

// QueryContext runs a query.
func (p *Prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = Uncancelled(ctx)
	s, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// in returns the statements of p inside tx.
func (p *Prepared) in(tx *sql.Tx) preparedTx { return preparedTx{p, tx} }

type preparedTx struct {
	p  *Prepared
	tx *sql.Tx
}

func (t preparedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = Uncancelled(ctx)
	if s := t.p.prepared(query); s != nil {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.p.db.Q(query), args...)
}

func (t preparedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = Uncancelled(ctx)
	if s := t.p.prepared(query); s != nil {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.p.db.Q(query), args...)
}

// Close closes every statement prepared.
func (p *Prepared) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for q, s := range p.stmts {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
		delete(p.stmts, q)
	}
	return first
}
