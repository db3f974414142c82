package http

import (
	"fmt"
	"net/http"
	"strings"
)

// handleOutbox lists messages: every message for administrators and
// auditors, one's own otherwise. ?status=uncertain shows those to confirm
// or resend.
func (s *Server) handleOutbox(w http.ResponseWriter, r *http.Request) {
	var statuses []string
	if st := r.URL.Query().Get("status"); st != "" {
		statuses = strings.Split(st, ",")
	}
	msgs, err := s.Authz.Outbox(r.Context(), statuses, 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, r, "outbox", "Outbox", "outbox", map[string]any{"messages": msgs})
}

// handleOutboxMessage shows one message as it was written.
func (s *Server) handleOutboxMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.Authz.OutboxMessage(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if isAPI(r) {
		writeJSON(w, http.StatusOK, map[string]any{"message": m, "text": m.Text})
		return
	}
	s.respond(w, r, "message", fmt.Sprintf("Message %d", id), "outbox", m)
}

// handleResend requeues an uncertain or failed message (administrators).
func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Authz.Resend(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/outbox", "resent", map[string]any{"id": id, "status": "pending"})
}

// handleConfirm records an uncertain message as delivered (administrators).
func (s *Server) handleConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Authz.Confirm(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.done(w, r, "/outbox", "confirmed", map[string]any{"id": id, "status": "sent"})
}
