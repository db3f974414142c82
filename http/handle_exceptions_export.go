package http

import (
	"net/http"
	"time"

	"github.com/onus-sec/onus"
	"github.com/onus-sec/onus/gate"
)

// handleExceptionsExport answers every exception in the form of "onus
// exceptions export", for "onus gate --exceptions URL --token …" in CI
// (administrators and auditors, or their read tokens).
func (s *Server) handleExceptionsExport(w http.ResponseWriter, r *http.Request) {
	list, err := s.Authz.ExceptionsExport(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []*onus.Exception{}
	}
	writeJSON(w, http.StatusOK, gate.Export{Version: gate.ExportVersion, ExportedAt: s.Ops.Now().Truncate(time.Second), Exceptions: list})
}
