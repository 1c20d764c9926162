package dataverse

import "context"

type callerKey struct{}

// caller is the impersonation header to send.
type caller struct {
	header string // "CallerObjectId" or "MSCRMCallerID"
	id     string
}

// WithCallerObjectID makes requests made with the returned context run as
// the user with this Microsoft Entra object id (header CallerObjectId). The
// application user needs the "Act on Behalf of Another User" privilege. It
// replaces any impersonation already on ctx.
func WithCallerObjectID(ctx context.Context, objectID string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller{header: "CallerObjectId", id: objectID})
}

// WithCallerSystemUserID makes requests made with the returned context run
// as the Dataverse user with this systemuserid (header MSCRMCallerID), e.g.
// the userId CIF's getEnvironment reports; braces are accepted. It replaces
// any impersonation already on ctx.
func WithCallerSystemUserID(ctx context.Context, systemUserID string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller{header: "MSCRMCallerID", id: systemUserID})
}

func callerFrom(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

type retrySafeKey struct{}

// WithRetrySafe marks requests made with the returned context as safe to
// resend after an ambiguous network failure even though they are not
// idempotent: a Create, or a Batch holding creates. Use it only when a
// duplicate is harmless or impossible, for example when the body sets an
// alternate key, so that a second create fails instead of duplicating.
// Without it such a request is sent once and a dropped connection is
// returned to the caller, because Dataverse may have created the record.
func WithRetrySafe(ctx context.Context) context.Context {
	return context.WithValue(ctx, retrySafeKey{}, true)
}

func retrySafe(ctx context.Context) bool {
	v, _ := ctx.Value(retrySafeKey{}).(bool)
	return v
}
