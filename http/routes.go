package http

import "net/http"

// route is one entry of the router.
type route struct {
	Method  string
	Path    string
	Handler http.Handler
}

// routes is every route of the server, in one place. A page and its API
// twin share a handler: the handler answers HTML or JSON by path.
func (s *Server) routes() []route {
	var rs []route
	add := func(method, path string, h http.HandlerFunc) {
		rs = append(rs, route{Method: method, Path: path, Handler: h})
	}
	// both registers a page and the same handler under /api/v1.
	both := func(method, path string, h http.HandlerFunc) {
		add(method, path, h)
		add(method, "/api/v1"+path, h)
	}

	add("GET", "/healthz", s.handleHealthz)
	add("GET", "/readyz", s.handleReadyz)
	add("GET", "/api/v1/openapi.json", s.handleOpenAPI)

	add("GET", "/{$}", s.handleHome)
	add("GET", "/signin", s.handleSignIn)
	add("GET", "/auth/login", s.handleLogin)
	add("GET", "/auth/callback", s.handleCallback)
	add("POST", "/auth/demo", s.handleDemoSignIn)
	add("POST", "/auth/break-glass", s.handleBreakGlass)
	add("POST", "/signout", s.handleSignOut)

	both("GET", "/me", s.handleMe)
	both("GET", "/team", s.handleTeam)
	both("GET", "/approvals", s.handleApprovals)
	both("GET", "/findings", s.handleFindings)
	both("GET", "/findings/{id}", s.handleFinding)
	both("POST", "/findings/{id}/claim", s.handleClaim)
	both("POST", "/findings/{id}/exception", s.handleRequestException)
	add("GET", "/findings/{id}/exception", s.handleExceptionForm)
	both("GET", "/exceptions/{id}", s.handleException)
	add("GET", "/api/v1/exceptions/export", s.handleExceptionsExport)
	both("POST", "/exceptions/{id}/approve", s.handleDecide(true))
	both("POST", "/exceptions/{id}/reject", s.handleDecide(false))
	both("POST", "/exceptions/{id}/revoke", s.handleRevokeException)
	both("POST", "/exceptions/{id}/extend", s.handleExtendException)
	both("POST", "/exceptions", s.handleRequestScopeException)
	both("GET", "/matrix", s.handleMatrix)
	both("GET", "/controls", s.handleControls)
	both("GET", "/sources", s.handleSources)
	both("POST", "/sources/{name}/accept", s.handleAcceptShrink)
	both("GET", "/outbox", s.handleOutbox)
	both("GET", "/outbox/{id}", s.handleOutboxMessage)
	both("POST", "/outbox/{id}/resend", s.handleResend)
	both("POST", "/outbox/{id}/confirm", s.handleConfirm)
	both("GET", "/audit", s.handleAudit)
	both("GET", "/dashboard", s.handleDashboard)
	both("GET", "/tokens", s.handleTokens)
	both("POST", "/tokens", s.handleCreateToken)
	both("POST", "/tokens/{id}/revoke", s.handleRevokeToken)
	both("GET", "/sessions", s.handleSessions)
	both("POST", "/sessions/{id}/revoke", s.handleRevokeSession)
	both("POST", "/sessions/revoke", s.handleRevokeSessionsOf)
	both("GET", "/links", s.handleLinks)
	both("POST", "/links", s.handleLink)
	both("POST", "/links/forget", s.handleForgetLink)
	return rs
}
