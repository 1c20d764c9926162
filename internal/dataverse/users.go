package dataverse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// User is a Dataverse user (systemuser), as FindUser finds it.
type User struct {
	SystemUserID string // systemuserid: the MSCRMCallerID header
	ObjectID     string // azureactivedirectoryobjectid: the CallerObjectId header; "" when the user has none
	DomainName   string // the sign-in name (user principal name)
	FullName     string
}

// ErrUserNotFound is returned by FindUser when no user matches.
var ErrUserNotFound = errors.New("no such Dynamics user")

// FindUser finds the one enabled user that nameOrID names: a GUID is a
// systemuserid or a Microsoft Entra object id
// (azureactivedirectoryobjectid), anything else a sign-in name
// (domainname, e.g. alex@contoso.com). It fails, saying which, when no
// user matches (ErrUserNotFound), when several do, or when the user is
// disabled: impersonating such a user would write as nobody in
// particular, or fail at every write.
func (c *Client) FindUser(ctx context.Context, nameOrID string) (User, error) {
	nameOrID = strings.TrimSpace(nameOrID)
	var filter, what string
	if id, err := normalizeGUID("user", nameOrID); err == nil {
		filter = "systemuserid eq " + id + " or azureactivedirectoryobjectid eq " + id
		what = "systemuserid or Entra object id " + id
	} else {
		if nameOrID == "" || len(nameOrID) > 320 || strings.IndexFunc(nameOrID, unicode.IsControl) >= 0 {
			return User{}, fmt.Errorf("user: %q is neither a GUID nor a sign-in name (such as alex@contoso.com)", nameOrID)
		}
		filter = "domainname eq " + quoteLiteral(nameOrID)
		what = "sign-in name " + nameOrID
	}
	page, err := c.RetrieveMultiple(ctx, "systemusers",
		"?$select=systemuserid,azureactivedirectoryobjectid,domainname,fullname,isdisabled&$filter="+percentEncodeQueryPart(filter)+"&$top=2")
	if err != nil {
		return User{}, fmt.Errorf("find the Dynamics user with %s: %w", what, err)
	}
	switch len(page.Records) {
	case 0:
		return User{}, fmt.Errorf("%w with %s in %s", ErrUserNotFound, what, c.s.apiRoot.Host)
	case 1:
	default:
		return User{}, fmt.Errorf("several Dynamics users have %s: give the systemuserid of the one to write as", what)
	}
	r := page.Records[0]
	text := func(k string) string { s, _ := r[k].(string); return s }
	u := User{SystemUserID: strings.ToLower(text("systemuserid")), ObjectID: strings.ToLower(text("azureactivedirectoryobjectid")),
		DomainName: text("domainname"), FullName: text("fullname")}
	if !isGUID(u.SystemUserID) {
		return User{}, fmt.Errorf("find the Dynamics user with %s: unexpected answer: systemuserid %q is not a GUID", what, u.SystemUserID)
	}
	if u.ObjectID != "" && !isGUID(u.ObjectID) {
		u.ObjectID = ""
	}
	if disabled, _ := r["isdisabled"].(bool); disabled {
		return User{}, fmt.Errorf("the Dynamics user %s (%s) is disabled: enable it in the Power Platform admin center, or choose another user", u.DomainName, u.SystemUserID)
	}
	return u, nil
}
