package exchange

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/fsx"
)

// readyMarker in an outbox folder says the folder is complete: it is
// picked up without waiting for the settle time.
const readyMarker = "READY"

// claimMeta is the intent recorded in work/<p>/out/<id>/meta.json once an
// outbox item or an owed receipt is claimed: what bundle it becomes.
type claimMeta struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Reference string          `json:"reference"`
	InReplyTo string          `json:"in_reply_to"`
	Created   time.Time       `json:"created"`
	Item      string          `json:"item,omitempty"` // the outbox item's name, under item/
	Receipt   *bundle.Receipt `json:"receipt,omitempty"`
}

// hiddenName reports whether an outbox name is never picked up (SPEC §3).
func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".tmp")
}

// claimOutbox moves every settled item of the partner's outbox into its own
// claim folder, and every unsafe one (a link, a special file) to failed/.
// Items are claimed only once the partner's drop is reachable, so an
// unreachable partner leaves the outbox as it is.
func (r *partnerRun) claimOutbox(ctx context.Context) error {
	dir := r.e.dirs.outbox(r.id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read outbox %s: %w", dir, err)
	}
	now := r.e.now()
	var ready []string
	for _, de := range entries {
		name := de.Name()
		if hiddenName(name) || strings.HasSuffix(name, ".reason.json") {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if err != nil {
			continue // gone meanwhile
		}
		if reason := unsafeEntry(fi); reason != "" {
			if err := r.fail(path, name, reason); err != nil {
				return err
			}
			continue
		}
		if settled(path, fi, now, r.p.Settle) {
			ready = append(ready, name)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	if err := r.withRetry(ctx, func(Transport) error { return nil }); err != nil {
		return err
	}
	return r.claimItems(ctx, dir, ready)
}

// claimItems claims the ready items of the outbox dir as one batch: each is
// renamed into its claim folder and its meta.json written, all without
// folder syncs; then the files and folders of the batch are synced at once
// (the outbox and work/<p>/out once for all), and only then are the claims
// logged. A claim is durable before push uploads anything of it.
func (r *partnerRun) claimItems(ctx context.Context, dir string, ready []string) error {
	var mu sync.Mutex
	var errs []error
	var claims []string
	forEach(ctx, ready, pushWorkers, func(name string) {
		claim, err := r.claimItem(filepath.Join(dir, name), name)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else if claim != "" {
			claims = append(claims, claim)
		}
	})
	if len(claims) == 0 {
		return errors.Join(errs...)
	}
	if err := syncClaims(dir, r.e.dirs.workOut(r.id), claims); err != nil {
		return errors.Join(append(errs, err)...)
	}
	forEach(ctx, claims, pushWorkers, func(claim string) {
		if err := r.logClaim(claim); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	return errors.Join(errs...)
}

// syncClaims makes a batch of claims durable: each claim's meta.json,
// item/ and folder, from several goroutines so that the file system
// commits them together, then the outbox and work/<p>/out.
func syncClaims(outbox, workOut string, claims []string) error {
	var paths []string
	for _, c := range claims {
		paths = append(paths, filepath.Join(c, "meta.json"), filepath.Join(c, "item"), c)
	}
	var mu sync.Mutex
	var errs []error
	forEach(context.Background(), paths, pushWorkers, func(p string) {
		if err := fsx.SyncDir(p); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	errs = append(errs, fsx.SyncDir(outbox), fsx.SyncDir(workOut))
	return errors.Join(errs...)
}

// unsafeEntry says why an outbox entry must never be read, or "".
func unsafeEntry(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m&fs.ModeSymlink != 0:
		return "symbolic links are never followed or sent"
	case m.IsDir():
		return ""
	case !m.IsRegular():
		return "special files (devices, pipes, sockets) are never sent"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return "a file with several hard links may change under another name; copy it instead"
	}
	return ""
}

// settled reports whether an outbox item has stayed unchanged for settle
// (a folder: every entry in it), or is a folder holding READY.
func settled(path string, fi fs.FileInfo, now time.Time, settle time.Duration) bool {
	if !fi.IsDir() {
		return now.Sub(fi.ModTime()) >= settle
	}
	if exists(filepath.Join(path, readyMarker)) {
		return true
	}
	newest := fi.ModTime()
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	return now.Sub(newest) >= settle
}

// claimItem renames an outbox item into work/<p>/out/<id>/item/ and writes
// what bundle it becomes, syncing neither folders nor meta.json (see
// claimItems). The rename is the claim: an item is either in the outbox or
// in exactly one claim folder. It returns the claim folder, or "" when the
// item was moved to failed/.
func (r *partnerRun) claimItem(path, name string) (string, error) {
	id := bundle.NewID()
	claim := filepath.Join(r.e.dirs.workOut(r.id), id)
	if err := mkdirs(filepath.Join(claim, "item")); err != nil {
		return "", fmt.Errorf("claim outbox item %s: %w", path, err)
	}
	if err := os.Rename(path, filepath.Join(claim, "item", name)); err != nil {
		os.RemoveAll(claim)
		return "", fmt.Errorf("claim outbox item %s: %w", path, err)
	}
	crashpoint("push.claimed")
	m, err := r.itemMeta(claim, name)
	if err != nil {
		return "", r.failClaim(claim, name, err.Error())
	}
	if err := writeJSONUnsynced(filepath.Join(claim, "meta.json"), m); err != nil {
		return "", err
	}
	return claim, nil
}

// mkdirs creates dir and its parent 0700, without syncing (see claimItem).
func mkdirs(dir string) error {
	if err := os.Mkdir(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	return os.Mkdir(dir, 0o700)
}

// logClaim logs the claim of an outbox item, as its meta.json says.
func (r *partnerRun) logClaim(claim string) error {
	var m claimMeta
	if err := readJSON(filepath.Join(claim, "meta.json"), &m); err != nil {
		return &localError{err}
	}
	return r.record(audit.Record{Event: audit.EvClaimed, Bundle: m.ID, Kind: m.Kind, File: m.Item,
		Reference: m.Reference, InReplyTo: m.InReplyTo}, nil)
}

// writeItemMeta records, durably, the intent for a claimed outbox item
// whose claim was interrupted before its meta.json was durable, and logs
// the claim.
func (r *partnerRun) writeItemMeta(claim, name string) error {
	m, err := r.itemMeta(claim, name)
	if err != nil {
		return r.failClaim(claim, name, err.Error())
	}
	if err := writeJSON(filepath.Join(claim, "meta.json"), m); err != nil {
		return err
	}
	return r.logClaim(claim)
}

// itemMeta is the intent for a claimed outbox item: its kind, reference
// and reply-to come from its bundle.yaml, if any; an error says why it can
// never be sent.
func (r *partnerRun) itemMeta(claim, name string) (claimMeta, error) {
	m := claimMeta{ID: filepath.Base(claim), Kind: bundle.KindRequest, Reference: name,
		Created: r.e.now().UTC().Truncate(time.Second), Item: name}
	item := filepath.Join(claim, "item", name)
	if fi, err := os.Lstat(item); err == nil && fi.IsDir() {
		ref, reply, err := bundle.ReadItemMeta(item)
		if err != nil {
			return m, err
		}
		if ref != "" {
			m.Reference = ref
		}
		m.InReplyTo = reply
	}
	if m.InReplyTo != "" {
		m.Kind = bundle.KindResponse
	}
	return m, nil
}

// fail moves an outbox entry that can never be sent to failed/<p>/ with a
// <name>.reason.json beside it, and logs it.
func (r *partnerRun) fail(path, name, reason string) error {
	dst := uniquePath(r.e.dirs.failed(r.id), name)
	rj := reasonFile{File: name, Reason: reason, Time: r.e.now().UTC()}
	if err := writeJSON(dst+".reason.json", rj); err != nil {
		return fmt.Errorf("record why %s failed: %w", path, err)
	}
	if err := fsx.Rename(path, dst); err != nil {
		return fmt.Errorf("move %s to %s: %w", path, dst, err)
	}
	r.count(func(res *Result) { res.Failed++ })
	r.e.logger.Warn("outbox item cannot be sent", "partner", r.id, "item", name, "reason", reason, "moved_to", dst)
	return r.record(audit.Record{Event: audit.EvFailed, File: name, Outcome: "error", Error: reason}, nil)
}

// failClaim moves a claimed item to failed/ and removes its claim folder.
func (r *partnerRun) failClaim(claim, name, reason string) error {
	if err := r.fail(filepath.Join(claim, "item", name), name, reason); err != nil {
		return err
	}
	return removeClaim(claim)
}

// removeClaim deletes a finished claim folder durably.
func removeClaim(claim string) error {
	if err := dropClaim(claim); err != nil {
		return err
	}
	return fsx.SyncDir(filepath.Dir(claim))
}

// dropClaim deletes a finished claim folder; the caller syncs its parent.
// Until then a crash may bring it back, which a later run resumes: its
// bundle is in sent/ and its upload logged.
func dropClaim(claim string) error {
	if err := os.RemoveAll(claim); err != nil {
		return fmt.Errorf("remove finished claim %s: %w", claim, err)
	}
	return nil
}

// reasonFile is the <name>.reason.json written beside a failed or
// quarantined file.
type reasonFile struct {
	File   string    `json:"file"`
	Bundle string    `json:"bundle,omitempty"`
	Code   string    `json:"code,omitempty"`
	Reason string    `json:"reason"`
	SHA256 string    `json:"sha256,omitempty"`
	Bytes  int64     `json:"bytes,omitempty"`
	Time   time.Time `json:"time"`
}

// uniquePath returns dir/name, or dir/name.1, .2, ... if that is taken.
func uniquePath(dir, name string) string {
	p := filepath.Join(dir, name)
	for i := 1; exists(p) || exists(p+".reason.json"); i++ {
		p = filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
	}
	return p
}

// claims lists the claim folders in work/<p>/out/, oldest id first.
func (r *partnerRun) claims() ([]string, error) {
	dir := r.e.dirs.workOut(r.id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []string
	for _, de := range entries {
		if de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}
