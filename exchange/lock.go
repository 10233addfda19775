package exchange

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrLocked reports that another run holds a partner's lock (exit status 3).
var ErrLocked = errors.New("another sealpost run holds the lock")

// lockFile is an OS file lock (flock) held for one partner while a run works
// on its folders. It covers one-shot runs from cron and the daemon alike, and
// is released by the kernel if the process dies.
type lockFile struct{ f *os.File }

// acquireLock takes the lock at path without waiting; ErrLocked when
// another process (or another run in this one) holds it.
func acquireLock(path, partner string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("partner %s: %w (%s)", partner, ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return &lockFile{f: f}, nil
}

// release drops the lock.
func (l *lockFile) release() {
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
