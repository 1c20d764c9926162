package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctibridge/ctibridge/internal/config"
	"github.com/ctibridge/ctibridge/internal/tenant"
)

// tenantCheckTimeout bounds the metadata reads at start and on reload: a
// slow Dynamics must not hold up the adapter, which queues its writes.
const tenantCheckTimeout = 30 * time.Second

// checkTenant checks cfg against the Dataverse environment's metadata when
// the server writes activities itself, and gives cfg what the planner
// needs (cfg.Tenant). A problem is an error; warnings are logged. An
// environment that cannot be reached is logged and leaves cfg unchecked:
// the server starts, and its writes wait in the outbox.
func (srv *Server) checkTenant(ctx context.Context, cfg *config.Config) error {
	if srv.Dataverse == nil || srv.skipTenantCheck {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, tenantCheckTimeout)
	defer cancel()
	codes, _ := srv.settings.ParseWrapCodes() // checked by Validate
	wrapCodes := make([]tenant.WrapCode, len(codes))
	for i, wc := range codes {
		wrapCodes[i] = tenant.WrapCode{Code: wc.Code, Label: wc.Label}
	}
	res, err := tenant.Check(ctx, srv.Dataverse, cfg, wrapCodes)
	if err != nil {
		srv.log.Warn("the config was not checked against Dynamics, which could not be read; writes wait in the outbox until it answers", "err", err)
		return nil
	}
	for _, w := range res.Warnings {
		srv.log.Warn("config against Dynamics", "problem", w.String())
	}
	if !res.OK() {
		lines := make([]string, len(res.Errors))
		for i, p := range res.Errors {
			lines[i] = "  " + p.String()
		}
		return fmt.Errorf("the config does not fit the Dynamics environment (%d problem(s)):\n%s", len(res.Errors), strings.Join(lines, "\n"))
	}
	cfg.Tenant = res.Tenant
	return nil
}
