package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// newGUID returns a random (version 4) GUID in the stored form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func insertSQL(t *table) string {
	cols := t.sqlColumns()
	names := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		names[i] = quoteIdent(c)
		marks[i] = "?"
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteIdent(t.set), strings.Join(names, ", "), strings.Join(marks, ", "))
}

func updateSQL(t *table) string {
	var sets []string
	for _, c := range t.sqlColumns() {
		if c == t.key {
			continue
		}
		sets = append(sets, quoteIdent(c)+" = ?")
	}
	return fmt.Sprintf("UPDATE %s SET %s WHERE %s = ?", quoteIdent(t.set), strings.Join(sets, ", "), quoteIdent(t.key))
}

func deleteSQL(t *table) string {
	return fmt.Sprintf("DELETE FROM %s WHERE %s = ?", quoteIdent(t.set), quoteIdent(t.key))
}

const deletePartiesSQL = `DELETE FROM "activityparties" WHERE "activityid" = ?`
const deletePartiesByMaskSQL = `DELETE FROM "activityparties" WHERE "activityid" = ? AND "participationtypemask" = ?`

// writerStatements are prepared on the single writer connection at Open;
// preparing later would have to wait for the connection a transaction
// holds.
func (s *Sandbox) writerStatements() []string {
	var out []string
	for _, t := range s.sch().tables {
		out = append(out, byKeySQL(t), insertSQL(t), updateSQL(t), deleteSQL(t))
		if t.altKey != nil {
			out = append(out, byAltKeySQL(t))
		}
	}
	return append(out, deletePartiesSQL, deletePartiesByMaskSQL)
}

// recordArgs are the bound values of rec in sqlColumns order.
func recordArgs(t *table, rec record) []any {
	var args []any
	for _, c := range t.columns {
		v := rec[c.name]
		args = append(args, toSQL(c, v))
		if c.kind == kindLookup {
			if ref, ok := v.(lookupRef); ok {
				args = append(args, ref.Entity)
			} else {
				args = append(args, nil)
			}
		}
	}
	return args
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (s *Sandbox) insert(ctx context.Context, db dbConn, t *table, rec record) error {
	_, err := db.exec(ctx, insertSQL(t), recordArgs(t, rec)...)
	if isUniqueViolation(err) {
		return errDuplicateKey()
	}
	if err != nil {
		return fmt.Errorf("sandbox: inserting into %s: %w", t.set, err)
	}
	return nil
}

func (s *Sandbox) update(ctx context.Context, db dbConn, t *table, rec record) error {
	var args []any
	all := recordArgs(t, rec)
	for i, c := range t.sqlColumns() {
		if c == t.key {
			continue
		}
		args = append(args, all[i])
	}
	args = append(args, rec.id(t))
	_, err := db.exec(ctx, updateSQL(t), args...)
	if isUniqueViolation(err) {
		return errDuplicateKey()
	}
	if err != nil {
		return fmt.Errorf("sandbox: updating %s: %w", t.set, err)
	}
	return nil
}

// fullName is Dataverse's default full-name format, "First Last".
func fullName(first, last any) any {
	f, _ := first.(string)
	l, _ := last.(string)
	name := strings.TrimSpace(strings.TrimSpace(f) + " " + strings.TrimSpace(l))
	if name == "" {
		return nil
	}
	return name
}

// resolveBinds checks every bound record exists and sets the lookups.
func (s *Sandbox) resolveBinds(ctx context.Context, db dbConn, rec record, ch *change) error {
	for _, colName := range sortedKeys(ch.binds) {
		ref := ch.binds[colName]
		if ref.null {
			rec[colName] = nil
			continue
		}
		target, err := s.lookupRecord(ctx, db, ref)
		if err != nil {
			return err
		}
		if target == nil {
			if ref.keyCol != nil {
				return errKeyNotFound(ref.target, ref.keyValue)
			}
			return errRecordNotFound(ref.target, ref.id)
		}
		rec[colName] = lookupRef{ID: target.id(ref.target), Entity: ref.target.logical}
	}
	return nil
}

// applyState sets statecode and statuscode from a change, checking that
// the status belongs to the state.
func applyState(t *table, rec record, ch *change, creating bool) error {
	m := t.state
	if m == nil {
		return nil
	}
	state := rec.int("statecode")
	if creating {
		state = 0
	}
	prevState := state
	if ch.state != nil {
		if _, ok := m.statuses[*ch.state]; !ok {
			return newError(http.StatusBadRequest, codeInvalidArgument, "%d is not a valid state code on %s.", *ch.state, t.logical)
		}
		state = *ch.state
	}
	status := rec.int("statuscode")
	switch {
	case ch.status != nil:
		if !slices.Contains(m.statuses[state], *ch.status) {
			return errStatus(m, *ch.status, state)
		}
		status = *ch.status
	case creating || state != prevState || rec["statuscode"] == nil:
		status = m.defaultStatus[state]
	}
	rec["statecode"] = state
	rec["statuscode"] = status
	return nil
}

// create inserts a new record from a change. id, when not empty, is the
// key from the URL of an upsert; altKey likewise sets the alternate key.
func (s *Sandbox) create(ctx context.Context, db dbConn, t *table, ch *change, by actor, id, altKeyValue string) (record, error) {
	if t.readOnlyViaAPI {
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "The 'Create' method does not support entities of type '%s'; create %ss through the activity's activity party collection.", t.logical, t.logical)
	}
	rec := record{}
	for _, c := range t.columns {
		rec[c.name] = nil
		if c.kind == kindBool {
			// Dataverse defaults: directioncode is Outgoing, the rest No.
			rec[c.name] = c.name == "directioncode"
		}
	}
	for k, v := range ch.values {
		rec[k] = v
	}
	if id != "" {
		rec[t.key] = id
	}
	if altKeyValue != "" {
		rec[t.altKey.name] = altKeyValue
	}
	if rec[t.key] == nil {
		rec[t.key] = newGUID()
	}
	if existing, err := s.getByID(ctx, db, t, rec.id(t)); err != nil {
		return nil, err
	} else if existing != nil {
		return nil, errDuplicateKey()
	}
	if err := s.checkAltKeyFree(ctx, db, t, rec); err != nil {
		return nil, err
	}
	if err := s.resolveBinds(ctx, db, rec, ch); err != nil {
		return nil, err
	}
	if err := applyState(t, rec, ch, true); err != nil {
		return nil, err
	}
	s.stamp(t, rec, by, true)
	if err := s.insert(ctx, db, t, rec); err != nil {
		return nil, err
	}
	if t.activity {
		if err := s.syncParties(ctx, db, t, nil, rec, ch); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// stamp sets the columns Dataverse maintains on every write.
//
// Impersonated, the caller is the user impersonated (createdby,
// modifiedby, owner) and the application user that impersonates is
// recorded in createdonbehalfby and modifiedonbehalfby, as Dataverse does
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/impersonate-another-user-web-api#determine-the-actual-user).
func (s *Sandbox) stamp(t *table, rec record, by actor, creating bool) {
	if t.computeFullName {
		rec["fullname"] = fullName(rec["firstname"], rec["lastname"])
	}
	if t.column("versionnumber") == nil {
		return
	}
	now := formatTime(s.now())
	user := lookupRef{ID: by.user, Entity: "systemuser"}
	var delegate any // null unless impersonated
	if by.onBehalfBy != "" && by.onBehalfBy != by.user {
		delegate = lookupRef{ID: by.onBehalfBy, Entity: "systemuser"}
	}
	if creating {
		rec["createdon"] = now
		rec["createdby"] = user
		rec["createdonbehalfby"] = delegate
		if t.userOwned && rec["ownerid"] == nil {
			rec["ownerid"] = user
		}
	}
	rec["modifiedon"] = now
	rec["modifiedby"] = user
	rec["modifiedonbehalfby"] = delegate
	rec["versionnumber"] = s.nextVersion()
}

func (s *Sandbox) checkAltKeyFree(ctx context.Context, db dbConn, t *table, rec record) error {
	if t.altKey == nil {
		return nil
	}
	value, ok := rec[t.altKey.name].(string)
	if !ok {
		return nil
	}
	other, err := s.getByAltKey(ctx, db, t, value)
	if err != nil {
		return err
	}
	if other != nil && other.id(t) != rec.id(t) {
		return errDuplicateKey()
	}
	return nil
}

// closedKeys are the payload properties a completed or canceled activity
// still accepts: the ones that reopen it.
var closedKeys = map[string]bool{"statecode": true, "statuscode": true}

// modify applies a change to an existing record.
func (s *Sandbox) modify(ctx context.Context, db dbConn, t *table, existing record, ch *change, by actor) (record, error) {
	if t.readOnlyViaAPI {
		return nil, newError(http.StatusBadRequest, codeInvalidArgument, "The 'Update' method does not support entities of type '%s'; update the parties through the activity.", t.logical)
	}
	if t.state != nil && t.state.closedReadOnly && existing.int("statecode") != 0 {
		reopening := ch.state != nil && *ch.state == 0
		for _, k := range ch.keys {
			if !strings.HasPrefix(k, "@") && !closedKeys[k] {
				reopening = false
			}
		}
		if !reopening {
			return nil, newError(http.StatusBadRequest, codeInvalidArgument,
				"The %s %s is %s and read-only: send only {\"statecode\": 0} (optionally with an open statuscode) to reopen it before changing '%s'.",
				t.logical, existing.id(t), strings.ToLower(t.state.stateLabels[existing.int("statecode")]), firstDataKey(ch.keys))
		}
	}
	rec := record{}
	for k, v := range existing {
		rec[k] = v
	}
	for k, v := range ch.values {
		rec[k] = v
	}
	if err := s.checkAltKeyFree(ctx, db, t, rec); err != nil {
		return nil, err
	}
	if err := s.resolveBinds(ctx, db, rec, ch); err != nil {
		return nil, err
	}
	if err := applyState(t, rec, ch, false); err != nil {
		return nil, err
	}
	s.stamp(t, rec, by, false)
	if err := s.update(ctx, db, t, rec); err != nil {
		return nil, err
	}
	if t.activity {
		if err := s.syncParties(ctx, db, t, existing, rec, ch); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func firstDataKey(keys []string) string {
	for _, k := range keys {
		if !strings.HasPrefix(k, "@") && !closedKeys[k] {
			return k
		}
	}
	return ""
}

// syncParties keeps an activity's parties in step: the owner (9) and
// regarding (8) parties Dataverse maintains itself, and the parties a
// payload sends, which replace the earlier ones.
func (s *Sandbox) syncParties(ctx context.Context, db dbConn, t *table, before, after record, ch *change) error {
	pt := s.sch().table("activityparty")
	id := after.id(t)
	activity := lookupRef{ID: id, Entity: t.logical}
	addParty := func(party lookupRef, mask int64, address any) error {
		rec := record{
			"activitypartyid":       newGUID(),
			"activityid":            activity,
			"partyid":               party,
			"participationtypemask": mask,
			"addressused":           address,
		}
		return s.insert(ctx, db, pt, rec)
	}
	system := []struct {
		column string
		mask   int64
	}{{"ownerid", partyOwner}, {"regardingobjectid", partyRegarding}}
	for _, sp := range system {
		now, _ := after[sp.column].(lookupRef)
		var was lookupRef
		if before != nil {
			was, _ = before[sp.column].(lookupRef)
		}
		if before != nil && now == was {
			continue
		}
		if before != nil {
			if _, err := db.exec(ctx, deletePartiesByMaskSQL, id, sp.mask); err != nil {
				return fmt.Errorf("sandbox: updating parties of %s: %w", id, err)
			}
		}
		if now.ID != "" {
			if err := addParty(now, sp.mask, nil); err != nil {
				return err
			}
		}
	}
	if !ch.partiesGiven {
		return nil
	}
	if before != nil {
		// Replace the parties the client manages; keep the system ones.
		for mask := range participationTypes {
			if mask == partyOwner || mask == partyRegarding {
				continue
			}
			if _, err := db.exec(ctx, deletePartiesByMaskSQL, id, mask); err != nil {
				return fmt.Errorf("sandbox: replacing parties of %s: %w", id, err)
			}
		}
	}
	for _, p := range ch.parties {
		target, err := s.lookupRecord(ctx, db, p.party)
		if err != nil {
			return err
		}
		if target == nil {
			if p.party.keyCol != nil {
				return errKeyNotFound(p.party.target, p.party.keyValue)
			}
			return errRecordNotFound(p.party.target, p.party.id)
		}
		if err := addParty(lookupRef{ID: target.id(p.party.target), Entity: p.party.target.logical}, p.mask, p.addressused); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes a record, its activity parties, and the links other
// records hold to it (Dataverse's "remove link" cascade).
func (s *Sandbox) remove(ctx context.Context, db dbConn, t *table, rec record) error {
	if t.readOnlyViaAPI {
		return newError(http.StatusBadRequest, codeInvalidArgument, "The 'Delete' method does not support entities of type '%s'.", t.logical)
	}
	id := rec.id(t)
	if _, err := db.exec(ctx, deleteSQL(t), id); err != nil {
		return fmt.Errorf("sandbox: deleting from %s: %w", t.set, err)
	}
	if t.activity {
		if _, err := db.exec(ctx, deletePartiesSQL, id); err != nil {
			return fmt.Errorf("sandbox: deleting parties of %s: %w", id, err)
		}
	}
	version := s.nextVersion()
	now := formatTime(s.now())
	for _, other := range s.sch().tables {
		for _, c := range other.columns {
			if c.kind != kindLookup || c.system {
				continue
			}
			if _, ok := c.nav[t.logical]; !ok {
				continue
			}
			var query string
			var args []any
			switch {
			case other.logical == "activityparty":
				query = fmt.Sprintf("DELETE FROM %s WHERE %s = ? AND %s = ?", quoteIdent(other.set), quoteIdent(c.name), quoteIdent(c.name+typeSuffix))
				args = []any{id, t.logical}
			default:
				query = fmt.Sprintf("UPDATE %s SET %s = NULL, %s = NULL, \"versionnumber\" = ?, \"modifiedon\" = ? WHERE %s = ? AND %s = ?",
					quoteIdent(other.set), quoteIdent(c.name), quoteIdent(c.name+typeSuffix), quoteIdent(c.name), quoteIdent(c.name+typeSuffix))
				args = []any{version, now, id, t.logical}
			}
			if _, err := db.exec(ctx, query, args...); err != nil {
				return fmt.Errorf("sandbox: unlinking %s from %s: %w", id, other.set, err)
			}
		}
	}
	return nil
}

// actor is who makes a write: the caller, and the user that impersonates
// it (the authenticated one) when the request impersonates.
type actor struct {
	user       string
	onBehalfBy string
}
