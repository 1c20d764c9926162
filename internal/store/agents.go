package store

import (
	"context"
	"database/sql"
	"errors"
)

// Agents keeps agents' logins: each agent's PIN hash, name, SIP account
// and session generation (internal/agent.Credentials decides what they
// mean).
type Agents struct{ db *DB }

// NewAgents returns the agents table of db.
func NewAgents(db *DB) *Agents { return &Agents{db: db} }

// SetLogin creates or replaces an agent's PIN hash and name, with a new
// session generation; a new agent is created at createdAt (unix seconds).
func (a *Agents) SetLogin(ctx context.Context, agentID, pinHash, name string, generation, createdAt int64) error {
	_, err := a.db.ExecContext(ctx, a.db.Q(`INSERT INTO agents(agent_id, pin_hash, name, created_at, session_gen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(agent_id) DO UPDATE SET pin_hash = excluded.pin_hash, name = excluded.name, session_gen = excluded.session_gen`),
		agentID, pinHash, name, createdAt, generation)
	return err
}

// RemoveLogin clears an agent's PIN, SIP account and Dynamics user and sets its session
// generation; the row stays, so its generation refuses older tokens. It
// reports false when there is no such agent.
func (a *Agents) RemoveLogin(ctx context.Context, agentID string, generation int64) (bool, error) {
	res, err := a.db.ExecContext(ctx, a.db.Q(`UPDATE agents SET pin_hash = '', sip_user = '', sip_auth_user = '', sip_password = '', sip_display_name = '',
		dynamics_user_id = '', dynamics_object_id = '', dynamics_user_name = '', session_gen = ?
		WHERE agent_id = ?`), generation, agentID)
	return affected(res, err)
}

// SetGeneration sets an agent's session generation.
func (a *Agents) SetGeneration(ctx context.Context, agentID string, generation int64) error {
	_, err := a.db.ExecContext(ctx, a.db.Q(`UPDATE agents SET session_gen = ? WHERE agent_id = ?`), generation, agentID)
	return err
}

// Generation returns an agent's session generation; found is false for an
// agent with no row.
func (a *Agents) Generation(ctx context.Context, agentID string) (generation int64, found bool, err error) {
	err = a.db.QueryRowContext(ctx, a.db.Q(`SELECT session_gen FROM agents WHERE agent_id = ?`), agentID).Scan(&generation)
	return generation, err == nil, noRows(err)
}

// Login returns an agent's PIN hash ("" once removed) and session
// generation; found is false for an agent with no row.
func (a *Agents) Login(ctx context.Context, agentID string) (pinHash string, generation int64, found bool, err error) {
	err = a.db.QueryRowContext(ctx, a.db.Q(`SELECT pin_hash, session_gen FROM agents WHERE agent_id = ?`), agentID).Scan(&pinHash, &generation)
	return pinHash, generation, err == nil, noRows(err)
}

// SIPAccount is an agent's SIP account as stored; User "" is none.
type SIPAccount struct {
	User, AuthUser, Password, DisplayName string
}

// SetSIP stores an agent's SIP account; it reports false when there is no
// such agent.
func (a *Agents) SetSIP(ctx context.Context, agentID string, acc SIPAccount) (bool, error) {
	res, err := a.db.ExecContext(ctx, a.db.Q(`UPDATE agents SET sip_user = ?, sip_auth_user = ?, sip_password = ?, sip_display_name = ? WHERE agent_id = ?`),
		acc.User, acc.AuthUser, acc.Password, acc.DisplayName, agentID)
	return affected(res, err)
}

// SIP returns an agent's SIP account, the zero account for an unknown agent.
func (a *Agents) SIP(ctx context.Context, agentID string) (SIPAccount, error) {
	var acc SIPAccount
	err := a.db.QueryRowContext(ctx, a.db.Q(`SELECT sip_user, sip_auth_user, sip_password, sip_display_name FROM agents WHERE agent_id = ?`), agentID).
		Scan(&acc.User, &acc.AuthUser, &acc.Password, &acc.DisplayName)
	return acc, noRows(err)
}

// DynamicsUser is the Dynamics user an agent writes as, as stored;
// SystemUserID "" is none.
type DynamicsUser struct {
	SystemUserID, ObjectID, Name string
}

// SetDynamicsUser stores the Dynamics user an agent writes as; it reports
// false when there is no such agent.
func (a *Agents) SetDynamicsUser(ctx context.Context, agentID string, u DynamicsUser) (bool, error) {
	res, err := a.db.ExecContext(ctx, a.db.Q(`UPDATE agents SET dynamics_user_id = ?, dynamics_object_id = ?, dynamics_user_name = ? WHERE agent_id = ?`),
		u.SystemUserID, u.ObjectID, u.Name, agentID)
	return affected(res, err)
}

// DynamicsUser returns the Dynamics user an agent writes as, the zero user
// for an unknown agent.
func (a *Agents) DynamicsUser(ctx context.Context, agentID string) (DynamicsUser, error) {
	var u DynamicsUser
	err := a.db.QueryRowContext(ctx, a.db.Q(`SELECT dynamics_user_id, dynamics_object_id, dynamics_user_name FROM agents WHERE agent_id = ?`), agentID).
		Scan(&u.SystemUserID, &u.ObjectID, &u.Name)
	return u, noRows(err)
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// noRows is err, except that no row is not an error.
func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}
