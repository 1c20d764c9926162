package dataverse

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ctibridge/ctibridge/internal/sandbox"
)

func TestFindUserAgainstTheSandbox(t *testing.T) {
	env := newSandboxEnv(t, nil)
	c, ctx := env.c, context.Background()
	alex := sandbox.DemoAgents[0]
	// A disabled user, and two users sharing a sign-in name (which
	// Dataverse would not allow, but a stand-in or a sync error may).
	for _, u := range []map[string]any{
		{"firstname": "Dee", "lastname": "Sabled", "domainname": "dee@sandbox.local", "isdisabled": true},
		{"firstname": "Twin", "lastname": "One", "domainname": "twin@sandbox.local"},
		{"firstname": "Twin", "lastname": "Two", "domainname": "twin@sandbox.local"},
	} {
		if _, err := c.Create(ctx, "systemusers", u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, nameOrID string
		wantErr        string // "" : finds alex
	}{
		{name: "sign-in name", nameOrID: alex.Email},
		{name: "systemuserid", nameOrID: alex.SystemUserID},
		{name: "systemuserid as CIF gives it", nameOrID: "{" + strings.ToUpper(alex.SystemUserID) + "}"},
		{name: "Entra object id", nameOrID: alex.ObjectID},
		{name: "a quote in the name is a literal", nameOrID: "x' or domainname ne 'x", wantErr: "no such Dynamics user"},
		{name: "unknown", nameOrID: "nobody@sandbox.local", wantErr: "no such Dynamics user with sign-in name nobody@sandbox.local"},
		{name: "unknown GUID", nameOrID: "00000000-0000-0000-0000-000000000123", wantErr: "no such Dynamics user"},
		{name: "disabled", nameOrID: "dee@sandbox.local", wantErr: "is disabled"},
		{name: "several", nameOrID: "twin@sandbox.local", wantErr: "several Dynamics users"},
		{name: "not a name", nameOrID: "a\nb", wantErr: "neither a GUID nor a sign-in name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := c.FindUser(ctx, tt.nameOrID)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FindUser(%q) = %+v, %v; want an error with %q", tt.nameOrID, u, err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "no such") && !errors.Is(err, ErrUserNotFound) {
					t.Errorf("error %v is not ErrUserNotFound", err)
				}
				return
			}
			want := User{SystemUserID: alex.SystemUserID, ObjectID: alex.ObjectID, DomainName: alex.Email, FullName: alex.FirstName + " " + alex.LastName}
			if err != nil || u != want {
				t.Fatalf("FindUser(%q) = %+v, %v; want %+v", tt.nameOrID, u, err, want)
			}
		})
	}
}
