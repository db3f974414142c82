package http

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openAPI []byte

// handleOpenAPI serves the OpenAPI 3.1 description of /api/v1. A test
// checks it against the router both ways.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}
