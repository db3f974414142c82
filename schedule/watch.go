package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/onus-sec/onus"
)

// watcher watches the export files of file sources. Exports are often
// written in several steps (truncate, write, rename), so a source is
// synced once its file has been quiet for the debounce time.
type watcher struct {
	files    map[string][]string // absolute path → sources reading it
	debounce time.Duration
	log      *slog.Logger
	fire     func(source, why string)

	w      *fsnotify.Watcher
	mu     sync.Mutex
	timers map[string]*time.Timer // by path
	done   chan struct{}
}

func (w *watcher) start(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("schedule: watch: %w", err)
	}
	// Directories are watched, not files: an export replaced by a rename
	// is a new file, which a watch on the old one would miss.
	dirs := map[string]bool{}
	for path := range w.files {
		dirs[filepath.Dir(path)] = true
	}
	for dir := range dirs {
		if err := fw.Add(dir); err != nil {
			fw.Close()
			return fmt.Errorf("schedule: watch %s: %w", dir, err)
		}
	}
	w.w, w.timers, w.done = fw, map[string]*time.Timer{}, make(chan struct{})
	go w.run(ctx)
	w.log.Info("watching exports", "files", len(w.files), "directories", len(dirs))
	return nil
}

func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.w.Errors:
			if !ok {
				return
			}
			w.log.Warn("watch error", onus.LogError, err)
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			path := filepath.Clean(ev.Name)
			if _, ok := w.files[path]; !ok {
				continue
			}
			w.changed(path)
		}
	}
}

// changed (re)starts the quiet period of a file.
func (w *watcher) changed(path string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t := w.timers[path]; t != nil {
		t.Reset(w.debounce)
		return
	}
	w.timers[path] = time.AfterFunc(w.debounce, func() {
		w.mu.Lock()
		delete(w.timers, path)
		w.mu.Unlock()
		for _, src := range w.files[path] {
			w.log.Info("export changed", onus.LogSource, src, "file", path)
			w.fire(src, "watch: "+filepath.Base(path)+" changed")
		}
	})
}

func (w *watcher) close() {
	w.w.Close()
	<-w.done
	w.mu.Lock()
	for _, t := range w.timers {
		t.Stop()
	}
	w.mu.Unlock()
}
