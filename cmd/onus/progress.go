package main

import (
	"io"

	"github.com/schollz/progressbar/v3"
)

// bar shows a source being read, in bytes.
type bar struct {
	w    io.Writer
	name string
	pb   *progressbar.ProgressBar
}

func newBar(w io.Writer, name string) *bar { return &bar{w: w, name: name} }

func (b *bar) Start(total int64) {
	if b.pb != nil {
		return
	}
	if total <= 0 {
		total = -1
	}
	b.pb = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(fmt_(b.name)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() {}),
	)
}

func (b *bar) Add(n int64) {
	if b.pb != nil {
		_ = b.pb.Add64(n)
	}
}

// Note shows a connector's pages, records and waits after the source name.
func (b *bar) Note(status string) {
	if b.pb != nil {
		b.pb.Describe(fmt_(b.name) + " " + status)
	}
}

func fmt_(name string) string {
	const width = 16
	if len(name) > width {
		return name[:width]
	}
	for len(name) < width {
		name += " "
	}
	return name
}
