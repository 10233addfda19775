package exchange

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/exchange/sealed"
	"github.com/sealpost/sealpost/internal/chunkpipe"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/progress"
)

// pull fetches every bundle waiting on the partner's drop: each is made
// durable on local disk, removed (or moved) on the drop, then verified and
// filed or quarantined. A file already received is only cleaned up. Only
// files unchanged for pull_settle are taken, the partner's own bundle names
// first, and files under other names only until max_refused of them were
// refused or failed in this run.
func (r *partnerRun) pull(ctx context.Context) error {
	entries, err := r.listPull(ctx, true)
	if err != nil {
		return err
	}
	if entries, err = r.settled(ctx, entries); err != nil {
		return err
	}
	r.order(entries)
	var errs []error
	refused, left := 0, 0
	for _, ent := range entries {
		if ctx.Err() != nil {
			errs = append(errs, context.Cause(ctx))
			break
		}
		ours := r.partnerName(ent.Name)
		if !ours && refused >= r.p.Limits.MaxRefused {
			left++
			continue
		}
		before := r.res.Refused
		err := r.pullOne(ctx, ent)
		if err != nil {
			r.e.logger.Error("pull failed", "partner", r.id, "file", ent.Name, "err", err)
			errs = append(errs, err)
		}
		// A file under another name that fails (one we may not read, say)
		// costs the budget as a refusal does: it is tried again every run.
		if !ours && (r.res.Refused > before || err != nil) {
			refused++
		}
	}
	if left > 0 {
		reason := fmt.Sprintf("%d files under names that are not %s's bundle names were left on the drop for a later run: this run refused limits.max_refused (%d) such files already", left, r.id, r.p.Limits.MaxRefused)
		r.e.logger.Warn("refusal budget spent", "partner", r.id, "left", left)
		r.record(audit.Record{Event: evRemoteSkipped, Outcome: audit.OutcomeOK, Detail: reason}, nil)
	}
	return errors.Join(errs...)
}

// listPull lists the pull folder; logSkipped records the names skipped.
func (r *partnerRun) listPull(ctx context.Context, logSkipped bool) ([]drop.Entry, error) {
	var entries []drop.Entry
	err := r.withRetry(ctx, func(d Transport) error {
		var skipped []drop.Skipped
		var err error
		entries, skipped, err = d.List(ctx, r.p.Folders().PullDir)
		for _, s := range skipped {
			if logSkipped {
				r.record(audit.Record{Event: evRemoteSkipped, File: s.Name, Outcome: "rejected", Error: s.Reason}, nil)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pull %s: list %s: %w", r.id, r.p.Folders().PullDir, err)
	}
	return entries, nil
}

// settled lists the pull folder again pull_settle after the first listing
// and keeps the entries whose size and modification time did not change:
// a partner uploading under the final name is not taken half way. Our
// clock times the wait, so the server's clock does not matter.
func (r *partnerRun) settled(ctx context.Context, first []drop.Entry) ([]drop.Entry, error) {
	if r.p.PullSettle <= 0 || len(first) == 0 {
		return first, nil
	}
	if err := sleepCtx(ctx, r.p.PullSettle); err != nil {
		return nil, fmt.Errorf("pull %s: wait for the drop to settle: %w", r.id, context.Cause(ctx))
	}
	again, err := r.listPull(ctx, false)
	if err != nil {
		return nil, err
	}
	was := make(map[string]drop.Entry, len(first))
	for _, e := range first {
		was[e.Name] = e
	}
	var out []drop.Entry
	for _, e := range again {
		if old, ok := was[e.Name]; ok && old.Size == e.Size && old.ModTime.Equal(e.ModTime) {
			out = append(out, e)
		} else if ok {
			r.leave(e, fmt.Sprintf("still changing (%d bytes, then %d bytes %s later); left on the drop for a later run", old.Size, e.Size, r.p.PullSettle))
		}
	}
	return out, nil
}

// leave logs a file left on the drop for a later run, and why.
func (r *partnerRun) leave(ent drop.Entry, why string) {
	r.e.logger.Info("file left on the drop", "partner", r.id, "file", ent.Name, "why", why)
	r.record(audit.Record{Event: evRemoteSkipped, File: ent.Name, Bytes: ent.Size, Outcome: audit.OutcomeOK, Detail: why}, nil)
}

// partnerName reports whether name is a bundle name from this partner to us.
func (r *partnerRun) partnerName(name string) bool {
	n, ok := bundle.ParseFileName(name)
	return ok && n.Sender == r.id && n.Recipient == r.e.cfg.Identity.ID
}

// order puts the partner's bundle names first, then the rest; each group
// oldest first (by the server's modification time), then by name.
func (r *partnerRun) order(entries []drop.Entry) {
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if pa, pb := r.partnerName(a.Name), r.partnerName(b.Name); pa != pb {
			return pa
		}
		if !a.ModTime.Equal(b.ModTime) {
			return a.ModTime.Before(b.ModTime)
		}
		return a.Name < b.Name
	})
}

// pullOne downloads one remote file, cleans it up on the drop, and files it.
func (r *partnerRun) pullOne(ctx context.Context, ent drop.Entry) error {
	if r.alreadyReceived(ent) {
		if err := r.withRetry(ctx, func(d Transport) error { return r.afterPull(ctx, d, ent) }); err != nil {
			return fmt.Errorf("pull %s/%s: clean up: %w", r.id, ent.Name, err)
		}
		return r.record(audit.Record{Event: evDuplicate, File: ent.Name, Bytes: ent.Size,
			Detail: "already received; removed from the drop again"}, nil)
	}
	if r.oversized(ent) {
		return r.refuseUnfetched(ctx, ent)
	}
	local := filepath.Join(r.e.dirs.workIn(r.id), ent.Name)
	var sum string
	var early *opened
	err := r.withRetry(ctx, func(d Transport) error {
		var err error
		sum, early, err = r.downloadOpen(ctx, d, ent, local)
		return err
	})
	if early != nil {
		defer os.RemoveAll(early.stage)
	}
	if errors.Is(err, drop.ErrChanged) {
		r.leave(ent, fmt.Sprintf("changed while it was read (%v); left on the drop for a later run", err))
		return nil
	}
	if err != nil {
		r.record(audit.Record{Event: audit.EvDownloaded, File: ent.Name}, err)
		return fmt.Errorf("pull %s/%s: download: %w", r.id, ent.Name, err)
	}
	crashpoint("pull.downloaded")
	if err := r.record(audit.Record{Event: audit.EvDownloaded, File: ent.Name, Bytes: ent.Size, SHA256: sum}, nil); err != nil {
		return err
	}
	if err := r.withRetry(ctx, func(d Transport) error { return r.afterPull(ctx, d, ent) }); err != nil {
		return fmt.Errorf("pull %s/%s: %s on the drop: %w", r.id, ent.Name, r.p.Folders().AfterPull, err)
	}
	crashpoint("pull.cleaned")
	return r.process(ent.Name, sum, early)
}

// oversized reports whether a remote file is so large that its content
// must exceed limits.max_bytes: OpenPGP adds far less than 1% + 1 MiB to
// uncompressed data (armour a third). A compressed bundle may be smaller
// than its content, so Open's own bound still applies to what is fetched.
func (r *partnerRun) oversized(ent drop.Entry) bool {
	limit := addCapped(r.p.Limits.MaxBytes, r.p.Limits.MaxBytes/100+1<<20)
	if strings.HasSuffix(ent.Name, ".asc") {
		limit = addCapped(limit, limit/2)
	}
	return ent.Size > limit
}

// addCapped returns a+b for non-negative a and b, or the largest int64
// when the sum would not fit: max_bytes may be as large as a size can be.
func addCapped(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// refuseUnfetched refuses a file too large to be a bundle within our
// limits without storing it (it could fill the disk; it is only read
// through a hash): the reason is kept in quarantine/, the partner gets a
// rejected receipt, and the file is removed from the drop like any other.
func (r *partnerRun) refuseUnfetched(ctx context.Context, ent drop.Entry) error {
	cause := fmt.Errorf("%s is %d bytes, more than limits.max_bytes (%d) allows; not kept", ent.Name, ent.Size, r.p.Limits.MaxBytes)
	in := incoming{name: ent.Name, size: ent.Size}
	h := sha256.New() // the receipt names the bytes refused: hash them, keep nothing
	err := r.withRetry(ctx, func(d Transport) error {
		h.Reset()
		dctx, cancel := r.downloadDeadline(ctx, ent)
		defer cancel()
		_, err := d.DownloadListed(dctx, r.p.Folders().PullDir, ent, h)
		return err
	})
	if errors.Is(err, drop.ErrChanged) {
		r.leave(ent, fmt.Sprintf("changed while it was read (%v); left on the drop for a later run", err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("pull %s/%s: hash: %w", r.id, ent.Name, err)
	}
	in.sha256 = hex.EncodeToString(h.Sum(nil))
	if n, ok := bundle.ParseFileName(ent.Name); ok {
		in.kind = n.Kind
	}
	if in.kind != bundle.KindReceipt {
		if err := r.oweReceipt(in, "", "", bundle.StatusRejected, "limits", cause.Error()); err != nil {
			return err
		}
	}
	if r.quarantineRoom(0) {
		reason := uniquePath(r.e.dirs.quarantine(r.id), ent.Name) + ".reason.json"
		rj := reasonFile{File: ent.Name, Code: "limits", Reason: cause.Error(), SHA256: in.sha256, Bytes: ent.Size, Time: r.e.now().UTC()}
		if err := writeJSON(reason, rj); err != nil {
			return &localError{err}
		}
	}
	// Recorded before the drop is cleaned: a crash in between leaves the
	// file listed again, and alreadyReceived then only cleans it up.
	if err := r.record(audit.Record{Event: audit.EvRejected, Outcome: audit.OutcomeRejected, Kind: in.kind, File: ent.Name,
		Bytes: ent.Size, SHA256: in.sha256, Code: "limits", Error: cause.Error()}, nil); err != nil {
		return err
	}
	r.res.Refused++
	if err := r.withRetry(ctx, func(d Transport) error { return r.afterPull(ctx, d, ent) }); err != nil {
		return fmt.Errorf("pull %s/%s: clean up: %w", r.id, ent.Name, err)
	}
	return nil
}

// alreadyReceived reports whether a remote file of that name and size was
// received before (it is in received/ or quarantine/, or, too large to
// fetch, its refusal was logged): its removal from the drop failed or was
// interrupted.
func (r *partnerRun) alreadyReceived(ent drop.Entry) bool {
	for _, dir := range []string{r.e.dirs.received(r.id), r.e.dirs.quarantine(r.id)} {
		if fi, err := os.Lstat(filepath.Join(dir, ent.Name)); err == nil && fi.Size() == ent.Size {
			return true
		}
	}
	if !r.oversized(ent) {
		return false
	}
	// An oversized file is refused whatever it holds: its name and size
	// say it was refused before, with a reason kept or, past the
	// quarantine quota (or as <name>.N), only logged.
	return exists(filepath.Join(r.e.dirs.quarantine(r.id), ent.Name+".reason.json")) || r.refusedUnread(ent)
}

// refusedUnread reports whether the log records a refusal, for its size
// (code limits), of a remote file of ent's name and size. The log is read
// once per run, at the first oversized file, not once per file listed.
func (r *partnerRun) refusedUnread(ent drop.Entry) bool {
	key := func(bytes int64, name string) string { return fmt.Sprintf("%d %s", bytes, name) }
	if r.refusedTooLarge == nil {
		r.refusedTooLarge = map[string]bool{}
		r.e.loggedWhere(func(l audit.Record) bool {
			if l.Event == audit.EvRejected && l.Partner == r.id && l.Code == "limits" {
				r.refusedTooLarge[key(l.Bytes, l.File)] = true
			}
			return false
		})
	}
	return r.refusedTooLarge[key(ent.Size, ent.Name)]
}

// opened is a bundle that was opened, verified and unpacked into stage
// while it was downloaded.
type opened struct {
	m     *bundle.Manifest
	stage string
}

// downloadOpen downloads a remote file as download does and, from the same
// bytes as they arrive, opens and unpacks it into a new staging folder, so
// the data is read once. It returns no opened bundle when the download or
// the open failed: then process opens the durable file again, as it always
// did, and decides what the failure means.
func (r *partnerRun) downloadOpen(ctx context.Context, d Transport, ent drop.Entry, local string) (string, *opened, error) {
	stage, err := r.newStage(ent.Name)
	if err != nil {
		return "", nil, err
	}
	pipe := chunkpipe.New()
	done := make(chan *opened, 1)
	go func() { done <- r.openFrom(pipe, stage) }()
	sum, err := r.download(ctx, d, ent, local, &lossyWriter{w: pipe})
	pipe.CloseWithError(err)
	early := <-done
	if err != nil || early == nil {
		os.RemoveAll(stage)
		return sum, nil, err
	}
	return sum, early, nil
}

// openFrom opens the bundle streamed through pipe into stage and reads
// the pipe to its end; nil when it could not.
func (r *partnerRun) openFrom(pipe *chunkpipe.Pipe, stage string) *opened {
	m, err := r.open(pipe, stage)
	if err == nil {
		_, err = io.Copy(io.Discard, pipe)
	}
	pipe.CloseRead(err)
	if err != nil {
		return nil
	}
	return &opened{m: m, stage: stage}
}

// lossyWriter passes writes on until one fails, then drops them: the
// download goes on when the open beside it gives up.
type lossyWriter struct {
	w      io.Writer
	failed bool
}

func (l *lossyWriter) Write(p []byte) (int, error) {
	if !l.failed {
		if _, err := l.w.Write(p); err != nil {
			l.failed = true
		}
	}
	return len(p), nil
}

// download copies a remote file to work/<p>/in/<name> under a temporary
// name, and to also, checks its size, fsyncs it and renames it into place.
// It returns the SHA-256 of the bytes.
func (r *partnerRun) download(ctx context.Context, d Transport, ent drop.Entry, local string, also io.Writer) (string, error) {
	f, err := fsx.CreateTemp(local, 0o600)
	if err != nil {
		return "", &localError{fmt.Errorf("create %s: %w", local, err)}
	}
	h := sha256.New()
	task := progress.Start(r.e.progress, "pull "+ent.Name, ent.Size)
	defer task.Done()
	dctx, cancel := r.downloadDeadline(ctx, ent)
	defer cancel()
	n, err := d.DownloadListed(dctx, r.p.Folders().PullDir, ent, io.MultiWriter(f, h, task, also))
	if err == nil && n != ent.Size {
		err = fmt.Errorf("downloaded %d bytes of %s, the drop listed %d", n, ent.Name, ent.Size)
	}
	if err != nil {
		f.Abort()
		return "", err
	}
	if err := f.Commit(); err != nil {
		return "", &localError{err}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// downloadDeadline bounds one download of ent by sftp.download_deadline
// (a drop we host keeps that setting's default).
func (r *partnerRun) downloadDeadline(ctx context.Context, ent drop.Entry) (context.Context, context.CancelFunc) {
	dl, what := r.p.SFTP.DownloadDeadline, "sftp.download_deadline"
	if r.p.Local != nil {
		what = "the download deadline"
	}
	return context.WithTimeoutCause(ctx, dl, fmt.Errorf("download of %s took longer than %s (%s): %w", ent.Name, what, dl, drop.ErrDeadline))
}

// afterPull removes the remote file, or moves it to the configured folder,
// unless it changed (size or modification time) since it was listed: a
// partner still writing it would lose its bundle. Such a file is left on
// the drop and logged; a later run sees it with its new size.
func (r *partnerRun) afterPull(ctx context.Context, d Transport, ent drop.Entry) error {
	src := pathJoin(r.p.Folders().PullDir, ent.Name)
	fi, err := d.Stat(ctx, src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed or moved already
	} else if err != nil {
		return err
	}
	if fi.Size() != ent.Size || !fi.ModTime().Equal(ent.ModTime) {
		r.leave(ent, fmt.Sprintf("changed on the drop since it was listed (now %d bytes); not removed", fi.Size()))
		return nil
	}
	if r.p.Folders().AfterPull == "move" {
		return d.Rename(ctx, src, pathJoin(r.p.Folders().MoveDir, ent.Name))
	}
	return d.Remove(ctx, src)
}

// recoverIncoming finishes the files an interrupted run left in
// work/<p>/in: each is already off the drop (or will be cleaned up when it
// is listed again) and is resumed from its state (resumeIncoming). Partial
// downloads are deleted: the remote copy is still there.
func (r *partnerRun) recoverIncoming(ctx context.Context) error {
	dir := r.e.dirs.workIn(r.id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	var errs []error
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			os.Remove(filepath.Join(dir, de.Name()))
			continue
		}
		r.e.logger.Info("recovering an interrupted pull", "partner", r.id, "file", de.Name())
		if err := r.resumeIncoming(de.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// incoming is one downloaded file being verified and filed.
type incoming struct {
	name   string // file name on the drop
	path   string // work/<p>/in/<name>
	sha256 string
	size   int64
	kind   string // from the file name, unverified: only used to never answer a receipt
}

// verified is a file of work/<p>/in once opened into its staging folder:
// its manifest, or (refused) the refusal's code and cause and the manifest
// when it was read.
type verified struct {
	incoming
	m      *bundle.Manifest
	stage  string
	code   string // the refusal code (SPEC §2), "" when the bundle verified
	cause  error  // why it was refused
	reason string // a refusal's reason file written already (see refusalState)
}

// process takes a file just downloaded into work/<p>/in from state
// fetched: verified, then filed, taken (a receipt) or refused. sum is the
// SHA-256 the download computed; early, when set, is the file already
// opened during the download.
func (r *partnerRun) process(name, sum string, early *opened) error {
	v, err := r.verify(name, sum, early)
	defer os.RemoveAll(v.stage)
	if err != nil {
		return err
	}
	return r.advance(v, pullFetched)
}

// resumeIncoming is a pull's recovery: it verifies a file an interrupted
// run left in work/<p>/in, reads how far that run took it (pullStateOf)
// and resumes from there. The states are tabled in docs/states.md.
func (r *partnerRun) resumeIncoming(name string) error {
	v, err := r.verify(name, "", nil)
	defer os.RemoveAll(v.stage)
	if err != nil {
		return err
	}
	st := r.pullStateOf(v)
	r.e.logger.Debug("resuming an interrupted pull", "partner", r.id, "file", name, "state", st)
	return r.advance(v, st)
}

// verify opens and verifies a file of work/<p>/in into a staging folder
// (the caller removes v.stage). sum is its SHA-256 ("" to read the file
// again). A refusal is not an error: it is in v.code and v.cause.
func (r *partnerRun) verify(name, sum string, early *opened) (*verified, error) {
	in := incoming{name: name, path: filepath.Join(r.e.dirs.workIn(r.id), name)}
	fi, err := os.Stat(in.path)
	if err != nil {
		return &verified{incoming: in}, &localError{err}
	}
	in.size = fi.Size()
	in.sha256 = sum // known from the download, else read again
	if in.sha256 == "" {
		if in.sha256, err = fileSHA256(in.path); err != nil {
			return &verified{incoming: in}, &localError{err}
		}
	}
	if n, ok := bundle.ParseFileName(name); ok {
		in.kind = n.Kind
	}
	v := &verified{incoming: in}
	v.m, v.stage, err = r.openStaged(in, early)
	if v.code = sealed.RefusalCode(err); v.code != "" {
		v.cause = err
	} else if err != nil {
		return v, fmt.Errorf("pull %s/%s: %w", r.id, name, err)
	}
	return v, nil
}

// advance takes a verified file from state st to its end: filed into the
// inbox, taken as a receipt, or refused; each in received/ or quarantine/
// at last, and logged.
func (r *partnerRun) advance(v *verified, st pullStep) error {
	switch st {
	case pullFiled:
		return r.logFiled(v.incoming, v.m, audit.EvFiled)
	case pullReceiptKept:
		return r.logReceipt(v.incoming, v.m)
	case pullReceiptLogged:
		return r.keepCiphertext(v.incoming)
	case pullReasonKept:
		return r.logRefusal(v, v.reason)
	case pullRejected:
		return r.moveRefused(v, v.reason)
	case pullRejectedUnkept:
		return r.removeRefused(v)
	}
	// pullFetched, pullReceiptOwed, pullFiledLogged: as a file just fetched.
	switch {
	case v.code != "":
		return r.quarantine(v)
	case v.m.Kind == bundle.KindReceipt:
		return r.takeReceipt(v.incoming, v.m)
	}
	return r.file(v.incoming, v.m, v.stage)
}

// openStaged returns the bundle opened early, when set, or else opens the
// downloaded file into a new staging folder; it returns the folder.
func (r *partnerRun) openStaged(in incoming, early *opened) (*bundle.Manifest, string, error) {
	if early != nil {
		return early.m, early.stage, nil
	}
	stage, err := r.newStage(in.name)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(in.path)
	if err != nil {
		return nil, stage, &localError{err}
	}
	defer f.Close()
	m, err := r.open(bufio.NewReaderSize(f, 256<<10), stage)
	return m, stage, err
}

// newStage makes an empty staging folder for the file name.
func (r *partnerRun) newStage(name string) (string, error) {
	stage := filepath.Join(r.e.dirs.workStage(r.id), name)
	if err := os.RemoveAll(stage); err != nil {
		return "", &localError{err}
	}
	if err := os.Mkdir(stage, 0o700); err != nil {
		return "", &localError{fmt.Errorf("create staging folder %s: %w", stage, err)}
	}
	return stage, nil
}

// open decrypts and verifies a bundle read from src and unpacks it into
// stage. Nothing in stage counts until open returns without error.
func (r *partnerRun) open(src io.Reader, stage string) (*bundle.Manifest, error) {
	return sealed.Pair{Self: r.e.keys.self, Peer: r.peer, Partner: r.p, SelfID: r.e.cfg.Identity.ID}.Open(src, stage)
}

// file moves a verified bundle from its staging folder into
// inbox/<p>/<id>/, owing the partner a receipt, and keeps the ciphertext in
// received/. A bundle whose id was filed before (its folder is in the
// inbox, or its id in seen/) is not filed again: it is logged as a
// duplicate.
func (r *partnerRun) file(in incoming, m *bundle.Manifest, stage string) error {
	dst := filepath.Join(r.e.dirs.inbox(r.id), m.ID)
	if isDir(dst) || exists(filepath.Join(r.e.dirs.seen(r.id), m.ID)) {
		return r.logFiled(in, m, evDuplicate)
	}
	if err := r.oweReceipt(in, m.ID, m.Reference, bundle.StatusFiled, "", ""); err != nil {
		return err
	}
	crashpoint("pull.receipt-owed")
	if err := fsx.SyncTree(stage); err != nil {
		return &localError{fmt.Errorf("file bundle %s: %w", m.ID, err)}
	}
	if err := fsx.Rename(stage, dst); err != nil {
		return &localError{fmt.Errorf("file bundle %s into %s: %w", m.ID, dst, err)}
	}
	crashpoint("pull.filed")
	return r.logFiled(in, m, audit.EvFiled)
}

// logFiled finishes a bundle in the inbox (event bundle.filed) or a copy
// of one filed before (event duplicate): its id in seen/, the record in
// the log, the ciphertext in received/.
func (r *partnerRun) logFiled(in incoming, m *bundle.Manifest, event string) error {
	dst := filepath.Join(r.e.dirs.inbox(r.id), m.ID)
	seen := filepath.Join(r.e.dirs.seen(r.id), m.ID)
	rec := audit.Record{Event: audit.EvFiled, Bundle: m.ID, Kind: m.Kind, File: in.name, Bytes: in.size,
		SHA256: in.sha256, Reference: m.Reference, InReplyTo: m.InReplyTo, Detail: r.correlate(m)}
	if m.LogHead != nil {
		rec.PeerLogHead = &audit.LogHead{Seq: m.LogHead.Seq, SHA256: m.LogHead.SHA256}
	}
	if event == evDuplicate {
		rec.Event, rec.Detail = evDuplicate, "bundle "+m.ID+" is already filed; this copy is dropped"
	}
	if !exists(seen) {
		if err := fsx.WriteFile(seen, nil, 0o600); err != nil {
			return &localError{fmt.Errorf("record bundle %s as filed: %w", m.ID, err)}
		}
	}
	if err := r.record(rec, nil); err != nil {
		return err
	}
	if rec.Event == audit.EvFiled {
		r.res.Filed++
		r.e.logger.Info("bundle filed", "partner", r.id, "bundle", m.ID, "kind", m.Kind, "reference", m.Reference, "folder", dst)
	}
	crashpoint("pull.logged")
	return r.keepCiphertext(in)
}

// correlate says how an incoming bundle relates to what we sent.
func (r *partnerRun) correlate(m *bundle.Manifest) string {
	if m.Kind != bundle.KindResponse {
		return ""
	}
	if exists(filepath.Join(r.e.dirs.sent(r.id), m.InReplyTo+".pgp")) {
		return "answers request " + m.InReplyTo
	}
	return "unmatched response: we sent no bundle " + m.InReplyTo
}

// keepCiphertext moves the downloaded file into received/<p>/, the evidence
// of what arrived and the record that lets a repeated listing be cleaned up.
// Evidence is never replaced: when a file of that name is kept already (the
// same name uploaded again, perhaps with other bytes), this one is kept
// beside it as <name>.1, <name>.2, ... and the operator's log says so.
func (r *partnerRun) keepCiphertext(in incoming) error {
	dst, err := keepEvidence(in.path, r.e.dirs.received(r.id), in.name)
	if err != nil {
		return &localError{fmt.Errorf("keep %s in %s: %w", in.name, r.e.dirs.received(r.id), err)}
	}
	if filepath.Base(dst) != in.name {
		r.e.logger.Warn("a file of that name is kept already; this one is kept beside it",
			"partner", r.id, "file", in.name, "sha256", in.sha256, "kept_as", dst)
	}
	return nil
}

// keepEvidence moves src into dir under name, or under the first free
// <name>.N when name is taken, never replacing a file; it returns the path
// used. A src already linked under one of those names (a crash between
// link and unlink) is only unlinked, so a crash never keeps it twice.
func keepEvidence(src, dir, name string) (string, error) {
	for i := 0; ; i++ {
		dst := filepath.Join(dir, name)
		if i > 0 {
			dst = fmt.Sprintf("%s.%d", dst, i)
		}
		if sameFile(src, dst) {
			return dst, os.Remove(src)
		}
		if err := fsx.RenameNoReplace(src, dst); !errors.Is(err, fs.ErrExist) {
			return dst, err
		}
	}
}

// sameFile reports whether a and b are the same file (hard links).
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// quarantine moves a refused file to quarantine/<p>/ with a reason, logs
// it, and owes the partner a rejected receipt (unless it is a receipt). The
// reason is written first and the rejection logged before the file leaves
// work/<p>/in, so a crash in between is finished by the next run without a
// second record (states reason-kept and rejected).
func (r *partnerRun) quarantine(v *verified) error {
	if !r.quarantineRoom(v.size) {
		return r.refuseUnkept(v)
	}
	if v.kind != bundle.KindReceipt {
		if err := r.oweReceipt(v.incoming, v.id(), "", bundle.StatusRejected, v.code, v.cause.Error()); err != nil {
			return err
		}
	}
	reason := uniquePath(r.e.dirs.quarantine(r.id), v.name) + ".reason.json"
	rj := reasonFile{File: v.name, Bundle: v.id(), Code: v.code, Reason: v.cause.Error(), SHA256: v.sha256,
		Bytes: v.size, Time: r.e.now().UTC()}
	if err := writeJSON(reason, rj); err != nil {
		return &localError{fmt.Errorf("write %s: %w", reason, err)}
	}
	crashpoint("pull.reason-kept")
	return r.logRefusal(v, reason)
}

// id is the refused bundle's id, when its manifest was read.
func (v *verified) id() string {
	if v.m == nil {
		return ""
	}
	return v.m.ID
}

// rejection is the bundle.rejected record of a refused file.
func (r *partnerRun) rejection(v *verified) audit.Record {
	return audit.Record{Event: audit.EvRejected, Outcome: audit.OutcomeRejected, Bundle: v.id(), Kind: v.kind,
		File: v.name, Bytes: v.size, SHA256: v.sha256, Code: v.code, Error: v.cause.Error()}
}

// logRefusal logs the refusal of a file whose reason is written, then
// moves the file beside it.
func (r *partnerRun) logRefusal(v *verified, reason string) error {
	if err := r.record(r.rejection(v), nil); err != nil {
		return err
	}
	crashpoint("pull.rejected")
	return r.moveRefused(v, reason)
}

// moveRefused moves a refused file whose refusal is logged beside its
// reason in quarantine/<p>/.
func (r *partnerRun) moveRefused(v *verified, reason string) error {
	dst := strings.TrimSuffix(reason, ".reason.json")
	if err := fsx.Rename(v.path, dst); err != nil {
		return &localError{fmt.Errorf("quarantine %s: %w", v.name, err)}
	}
	r.res.Refused++
	r.e.logger.Warn("bundle refused", "partner", r.id, "file", v.name, "code", v.code, "err", v.cause, "moved_to", dst)
	return nil
}

// loggedRefusal reports whether the log holds the refusal of this very
// file (same name, same bytes).
func (r *partnerRun) loggedRefusal(in incoming) bool {
	return r.e.loggedWhere(func(l audit.Record) bool {
		return l.Event == audit.EvRejected && l.Partner == r.id && l.File == in.name && l.SHA256 == in.sha256
	})
}

// quarantineRoom reports whether quarantine/<p>/ may keep one more refused
// file of size bytes within limits.quarantine_files (counted by reasons
// kept) and limits.quarantine_size (all bytes in the folder).
func (r *partnerRun) quarantineRoom(size int64) bool {
	lim := r.p.Limits
	ents, err := os.ReadDir(r.e.dirs.quarantine(r.id))
	if err != nil {
		return false
	}
	files, bytes := 0, int64(0)
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), ".") {
			continue // a temporary file, not evidence
		}
		if strings.HasSuffix(de.Name(), ".reason.json") {
			files++
		}
		if fi, err := de.Info(); err == nil {
			bytes += fi.Size()
		}
	}
	return (lim.QuarantineFiles <= 0 || files < lim.QuarantineFiles) &&
		(lim.QuarantineSize <= 0 || bytes+size <= lim.QuarantineSize)
}

// refuseUnkept refuses a file like quarantine does, when quarantine/<p>/ is
// full: the oldest evidence stays, this file is only logged (name, size,
// sha256, reason), answered and deleted.
func (r *partnerRun) refuseUnkept(v *verified) error {
	if v.kind != bundle.KindReceipt {
		if err := r.oweReceipt(v.incoming, v.id(), "", bundle.StatusRejected, v.code, v.cause.Error()); err != nil {
			return err
		}
	}
	rec := r.rejection(v)
	rec.Detail = fmt.Sprintf("not kept: quarantine/%s holds limits.quarantine_files (%d) or limits.quarantine_size (%d bytes) already", r.id, r.p.Limits.QuarantineFiles, r.p.Limits.QuarantineSize)
	if err := r.record(rec, nil); err != nil {
		return err
	}
	crashpoint("pull.rejected-unkept")
	return r.removeRefused(v)
}

// removeRefused deletes a refused file whose refusal is logged, not kept.
func (r *partnerRun) removeRefused(v *verified) error {
	if err := os.Remove(v.path); err != nil {
		return &localError{fmt.Errorf("remove refused file %s: %w", v.path, err)}
	}
	r.res.Refused++
	r.e.logger.Warn("bundle refused; quarantine full, not kept", "partner", r.id, "file", v.name, "code", v.code, "err", v.cause)
	return nil
}

// pendingReason finds the reason an interrupted run wrote for this very
// file (same name, same bytes) but did not move the file beside: "" when
// there is none.
func pendingReason(qdir string, in incoming) string {
	for i := 0; ; i++ {
		p := filepath.Join(qdir, in.name)
		if i > 0 {
			p = fmt.Sprintf("%s.%d", p, i)
		}
		if !exists(p + ".reason.json") {
			return ""
		}
		var rj reasonFile
		if !exists(p) && readJSON(p+".reason.json", &rj) == nil && rj.SHA256 == in.sha256 {
			return p + ".reason.json"
		}
	}
}
