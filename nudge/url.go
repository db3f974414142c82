package nudge

import (
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/onus-sec/onus"
)

// linkTemplate is nudges.finding_url or nudges.exception_url, parsed
// once. A template made only of text and the finding's fields below
// ("https://onus.acme.com/findings/{{.ID}}", as most are) is written
// without the template engine, with the same result.
type linkTemplate struct {
	t     *template.Template
	parts []linkPart
	plain bool
}

type linkPart struct {
	text  string
	field func(*onus.Finding) string // nil for text
}

var linkFields = map[string]func(*onus.Finding) string{
	"ID":         func(f *onus.Finding) string { return strconv.FormatInt(f.ID, 10) },
	"Control":    func(f *onus.Finding) string { return f.Control },
	"Entity":     func(f *onus.Finding) string { return f.Entity },
	"EntityName": func(f *onus.Finding) string { return f.EntityName },
	"EntityKind": func(f *onus.Finding) string { return f.EntityKind },
}

func parseLink(s string) (*linkTemplate, error) {
	if s == "" {
		return nil, nil
	}
	t, err := template.New("url").Option("missingkey=zero").Parse(s)
	if err != nil {
		return nil, err
	}
	l := &linkTemplate{t: t, plain: len(t.Templates()) == 1}
	for _, n := range t.Tree.Root.Nodes {
		if !l.plain {
			break
		}
		switch n := n.(type) {
		case *parse.TextNode:
			l.parts = append(l.parts, linkPart{text: string(n.Text)})
		case *parse.ActionNode:
			l.plain = false
			if p := n.Pipe; len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
				if fn, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok && len(fn.Ident) == 1 && linkFields[fn.Ident[0]] != nil {
					l.parts = append(l.parts, linkPart{field: linkFields[fn.Ident[0]]})
					l.plain = true
				}
			}
		default:
			l.plain = false
		}
	}
	return l, nil
}

// render writes the link of a finding; "" when there is no template or
// it fails.
func (l *linkTemplate) render(f *onus.Finding) string {
	if l == nil {
		return ""
	}
	var b strings.Builder
	if l.plain {
		for _, p := range l.parts {
			if p.field == nil {
				b.WriteString(p.text)
			} else {
				b.WriteString(p.field(f))
			}
		}
		return b.String()
	}
	if err := l.t.Execute(&b, *f); err != nil {
		return ""
	}
	return b.String()
}
