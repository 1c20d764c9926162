package server

// setLimits replaces the HTTP limits before Serve, so that tests of the
// timeouts take a fraction of a second rather than minutes.
func (srv *Server) setLimits(l httpLimits) {
	srv.limits = l
	srv.bodies.max = l.pendingBodies
}
