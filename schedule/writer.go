package schedule

import "sync"

// writerLock lets one writer job run at a time and, when several wait,
// hands the lock to the one declared first: pending syncs run before the
// evaluation they trigger, so a start or a burst of changes makes one
// evaluation rather than one per source.
type writerLock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	held    bool
	waiting map[int]int // declared position → jobs waiting
}

func newWriterLock() *writerLock {
	w := &writerLock{waiting: map[int]int{}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *writerLock) lock(pos int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting[pos]++
	for w.held || w.earlier(pos) {
		w.cond.Wait()
	}
	w.waiting[pos]--
	w.held = true
}

func (w *writerLock) earlier(pos int) bool {
	for p, n := range w.waiting {
		if p < pos && n > 0 {
			return true
		}
	}
	return false
}

func (w *writerLock) unlock() {
	w.mu.Lock()
	w.held = false
	w.mu.Unlock()
	w.cond.Broadcast()
}
