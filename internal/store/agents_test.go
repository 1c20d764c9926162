package store

import (
	"context"
	"testing"
)

func TestAgentsOnBothEngines(t *testing.T) {
	onBothEngines(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		a := NewAgents(db)
		if _, _, found, err := a.Login(ctx, "1001"); err != nil || found {
			t.Fatalf("login of an agent never set: found %v, %v", found, err)
		}
		if found, err := a.SetSIP(ctx, "1001", SIPAccount{User: "u"}); err != nil || found {
			t.Fatalf("SIP account of an unknown agent: found %v, %v", found, err)
		}
		if err := a.SetLogin(ctx, "1001", "hash-1", "Alex", 11, 100); err != nil {
			t.Fatal(err)
		}
		if err := a.SetLogin(ctx, "1001", "hash-2", "Alex B", 12, 200); err != nil {
			t.Fatal(err)
		}
		if hash, gen, found, err := a.Login(ctx, "1001"); err != nil || !found || hash != "hash-2" || gen != 12 {
			t.Fatalf("login = %q, %d, %v, %v; want the second PIN and generation", hash, gen, found, err)
		}
		acc := SIPAccount{User: "agent1001", AuthUser: "a1001", Password: "pw", DisplayName: "Alex"}
		if found, err := a.SetSIP(ctx, "1001", acc); err != nil || !found {
			t.Fatalf("set SIP: found %v, %v", found, err)
		}
		if got, err := a.SIP(ctx, "1001"); err != nil || got != acc {
			t.Fatalf("SIP = %+v, %v", got, err)
		}
		user := DynamicsUser{SystemUserID: "00000000-0000-0000-0000-000000000001", ObjectID: "oid", Name: "alex@contoso.com"}
		if found, err := a.SetDynamicsUser(ctx, "1001", user); err != nil || !found {
			t.Fatalf("set Dynamics user: found %v, %v", found, err)
		}
		if got, err := a.DynamicsUser(ctx, "1001"); err != nil || got != user {
			t.Fatalf("Dynamics user = %+v, %v", got, err)
		}
		if err := a.SetGeneration(ctx, "1001", 13); err != nil {
			t.Fatal(err)
		}
		if gen, found, err := a.Generation(ctx, "1001"); err != nil || !found || gen != 13 {
			t.Fatalf("generation = %d, %v, %v; want 13", gen, found, err)
		}
		if found, err := a.RemoveLogin(ctx, "1001", 14); err != nil || !found {
			t.Fatalf("remove: found %v, %v", found, err)
		}
		if found, err := a.RemoveLogin(ctx, "1009", 14); err != nil || found {
			t.Fatalf("remove of an unknown agent: found %v, %v", found, err)
		}
		// Removed: no PIN, no SIP account, and a generation that ends the
		// tokens issued before.
		hash, gen, found, err := a.Login(ctx, "1001")
		if err != nil || !found || hash != "" || gen != 14 {
			t.Fatalf("login after remove = %q, %d, %v, %v", hash, gen, found, err)
		}
		if got, err := a.SIP(ctx, "1001"); err != nil || got != (SIPAccount{}) {
			t.Fatalf("SIP after remove = %+v, %v", got, err)
		}
		if got, err := a.DynamicsUser(ctx, "1001"); err != nil || got != (DynamicsUser{}) {
			t.Fatalf("Dynamics user after remove = %+v, %v", got, err)
		}
	})
}
