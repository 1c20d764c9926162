package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ctibridge/ctibridge/internal/store"
)

// DynamicsUser is the Dynamics 365 user an agent's activities are written
// as with --impersonate-agents. An administrator sets it (ctibridge agent
// set --dynamics-user), resolved through the Web API; it is never taken
// from the widget, which could otherwise name anyone.
type DynamicsUser struct {
	// SystemUserID is the Dataverse systemuserid (MSCRMCallerID, and what
	// CIF's getEnvironment reports as userId). Empty: none set.
	SystemUserID string `json:"systemUserId"`
	// ObjectID is the user's Microsoft Entra object id (CallerObjectId,
	// which Microsoft prefers), when the user has one.
	ObjectID string `json:"objectId,omitempty"`
	// Name is the user's sign-in name (domainname), for people to read.
	Name string `json:"name,omitempty"`
}

// LogValue logs the user by id and sign-in name.
func (u DynamicsUser) LogValue() slog.Value {
	return slog.GroupValue(slog.String("systemuserid", u.SystemUserID), slog.String("name", u.Name))
}

// SameUser reports whether id (a systemuserid, braces and case as CIF
// gives them) names u.
func (u DynamicsUser) SameUser(id string) bool {
	return u.SystemUserID != "" && normalizeGUID(id) == normalizeGUID(u.SystemUserID)
}

func normalizeGUID(id string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(id), "{}"))
}

// SetDynamicsUser stores the Dynamics user agentID writes as; a zero
// DynamicsUser clears it. The user must have been resolved (a
// systemuserid that exists): see dataverse.Client.FindUser.
func (c *Credentials) SetDynamicsUser(ctx context.Context, agentID string, u DynamicsUser) error {
	if err := ValidateAgentID(agentID); err != nil {
		return err
	}
	u.SystemUserID = normalizeGUID(u.SystemUserID)
	u.ObjectID = normalizeGUID(u.ObjectID)
	if u.SystemUserID == "" {
		u = DynamicsUser{}
	}
	found, err := c.store.SetDynamicsUser(ctx, agentID, store.DynamicsUser{SystemUserID: u.SystemUserID, ObjectID: u.ObjectID, Name: u.Name})
	if err != nil {
		return fmt.Errorf("save the Dynamics user of agent %q: %w", agentID, err)
	}
	if !found {
		return ErrUnknownAgent
	}
	return nil
}

// DynamicsUser returns the Dynamics user agentID writes as, and false when
// none is set (or the agent has no login). One read by primary key.
func (c *Credentials) DynamicsUser(ctx context.Context, agentID string) (DynamicsUser, bool, error) {
	stored, err := c.store.DynamicsUser(ctx, agentID)
	if err != nil {
		return DynamicsUser{}, false, fmt.Errorf("look up the Dynamics user of agent %q: %w", agentID, err)
	}
	u := DynamicsUser{SystemUserID: stored.SystemUserID, ObjectID: stored.ObjectID, Name: stored.Name}
	return u, u.SystemUserID != "", nil
}
