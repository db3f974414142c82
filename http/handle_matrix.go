package http

import (
	"net/http"

	"github.com/onus-sec/onus/raci"
)

type matrixRow struct {
	ID, Title  string
	R, A, C, I []string
	Gap        bool
	Problems   []raci.Problem
}

type matrixPage struct {
	Rows     []matrixRow    `json:"activities"`
	Problems []raci.Problem `json:"problems"`
}

// handleMatrix shows the responsibility matrix with its gaps and the
// problems "onus raci check" finds.
func (s *Server) handleMatrix(w http.ResponseWriter, r *http.Request) {
	m, probs, err := s.Authz.Matrix(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := matrixPage{Problems: probs}
	for _, a := range m.Activities {
		row := matrixRow{ID: a.ID, Title: a.Title, R: m.Responsible(a), A: a.A, C: a.C, I: a.I}
		for _, p := range probs {
			if p.Activity == a.ID {
				row.Problems = append(row.Problems, p)
				row.Gap = row.Gap || p.Severity == raci.Error
			}
		}
		row.Gap = row.Gap || len(row.A) != 1 || len(row.R) == 0
		d.Rows = append(d.Rows, row)
	}
	s.respond(w, r, "matrix", "Responsibility matrix", "matrix", d)
}
