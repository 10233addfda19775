package exchange

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/exchange/sealed"
	"github.com/sealpost/sealpost/internal/chunkpipe"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/progress"
)

// push claims owed receipts and (when items is set) settled outbox items,
// then finishes every claim in work/<p>/out: those of this run and those an
// interrupted run left behind. With items unset only receipts go out.
func (r *partnerRun) push(ctx context.Context, items bool) error {
	if err := r.claimReceipts(); err != nil {
		return err
	}
	if items {
		if err := r.claimOutbox(ctx); err != nil {
			return err
		}
	}
	claims, err := r.claims()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var errs []error
	big := make(chan struct{}, 1)
	forEach(ctx, claims, pushWorkers, func(claim string) {
		if progress.TreeSize(filepath.Join(claim, "item")) > bigClaim {
			big <- struct{}{}
			defer func() { <-big }()
		}
		if err := r.finishClaim(ctx, claim, items); err != nil {
			r.e.logger.Error("push failed", "partner", r.id, "claim", filepath.Base(claim), "err", err)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	if len(claims) > 0 { // finished claims were removed unsynced
		errs = append(errs, fsx.SyncDir(r.e.dirs.workOut(r.id)))
	}
	return errors.Join(errs...)
}

// pushWorkers is how many claims are sealed and uploaded at once over the
// one SSH connection: a small bundle waits mostly on round trips and
// fsyncs, which overlap (the file system commits concurrent fsyncs
// together). Claims whose item is larger than bigClaim go one at a time,
// so memory stays flat.
const (
	pushWorkers = 8
	bigClaim    = 8 << 20
)

// forEach calls fn for each item from n goroutines, and stops handing out
// items once ctx is done.
func forEach(ctx context.Context, items []string, n int, fn func(string)) {
	ch := make(chan string)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		wg.Go(func() {
			for it := range ch {
				fn(it)
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		ch <- it
	}
	close(ch)
	wg.Wait()
}

// finishClaim takes one claim as far as it goes, whether this run made it
// or an interrupted one left it: it reads the claim's state (claimState)
// and takes the next step, until the claim is uploaded, logged and
// removed. The states are tabled in docs/states.md.
func (r *partnerRun) finishClaim(ctx context.Context, claim string, items bool) error {
	for {
		step, meta, err := r.claimState(claim)
		if err != nil || step == pushDone {
			return err
		}
		switch step {
		case pushItemClaimed:
			err = r.writeItemMeta(claim, meta.Item)
		case pushReceiptClaimed:
			err = r.writeReceiptMeta(claim, filepath.Base(claim))
		default:
			if meta.Kind != bundle.KindReceipt && !items {
				return nil // --pull-only: outbox claims wait for a push
			}
			if step == pushLogged {
				// Published and recorded before a crash took the claim's
				// removal: the partner may have taken it off the drop
				// already, so it is not sent again.
				return dropClaim(claim)
			}
			return r.upload(ctx, claim, meta)
		}
		if err != nil {
			return err
		}
	}
}

// upload seals and uploads a claim (state intent) or publishes the bundle
// sealed already (state sealed), logs the upload and removes the claim.
func (r *partnerRun) upload(ctx context.Context, claim string, meta claimMeta) error {
	sent := filepath.Join(r.e.dirs.sent(r.id), meta.ID+".pgp")
	m := r.manifest(meta)
	name := bundle.FileName(m, r.p.PGP.Armor)
	var size int64
	var sum string
	err := r.withRetry(ctx, func(d Transport) error {
		// A bundle already in sent/ (kept by an earlier run or attempt,
		// perhaps published too, its reply lost) is published as it is,
		// never sealed again: the drop, sent/ and the log hold one version.
		if fi, err := os.Stat(sent); err == nil {
			size = fi.Size()
			if sum, err = fileSHA256(sent); err != nil {
				return &localError{err}
			}
			return r.resume(ctx, d, sent, name, size)
		}
		var serr error
		size, sum, serr = r.sealAndUpload(ctx, d, claim, meta, m, sent, name)
		return serr
	})
	var unsafe *unsafeItemError
	if errors.As(err, &unsafe) {
		return r.failClaim(claim, meta.Item, unsafe.Error())
	}
	if err != nil {
		r.record(audit.Record{Event: audit.EvUploaded, Bundle: meta.ID, Kind: meta.Kind, File: name}, err)
		return fmt.Errorf("push %s/%s: %w", r.id, meta.ID, err)
	}
	crashpoint("push.published")
	if err := r.record(audit.Record{Event: audit.EvUploaded, Bundle: meta.ID, Kind: meta.Kind, File: name,
		Bytes: size, SHA256: sum, Reference: meta.Reference, InReplyTo: meta.InReplyTo}, nil); err != nil {
		return err
	}
	r.count(func(res *Result) { res.Pushed++ })
	crashpoint("push.logged")
	return dropClaim(claim)
}

// manifest builds the manifest header for a claim; the files are filled in
// while the tar is written.
func (r *partnerRun) manifest(meta claimMeta) *bundle.Manifest {
	m := &bundle.Manifest{Format: bundle.Format, ID: meta.ID, Kind: meta.Kind,
		Sender: r.e.cfg.Identity.ID, Recipient: r.id, Created: meta.Created,
		Reference: meta.Reference, InReplyTo: meta.InReplyTo, Files: []bundle.File{}, Receipt: meta.Receipt}
	if seq, head, err := r.e.log.Head(); err == nil && seq > 0 {
		m.LogHead = &bundle.LogHead{Seq: seq, SHA256: head}
	}
	return m
}

// unsafeItemError is an outbox item that can never be sent (a link or a
// special file inside a folder, an unreadable bundle.yaml).
type unsafeItemError struct{ err error }

func (e *unsafeItemError) Error() string { return e.err.Error() }
func (e *unsafeItemError) Unwrap() error { return e.err }

// sealAndUpload writes the bundle once, into sent/ (under a temporary
// name), to the drop's hidden .part file and into a self-check at the same
// time: the upload and the self-check each run in their own goroutine and
// take the ciphertext as it is made. Only when the self-check has opened
// the whole bundle as the partner would and found exactly the plaintext
// written does it publish both: sent/<id>.pgp, then the final name on the
// drop after its size is checked.
func (r *partnerRun) sealAndUpload(ctx context.Context, d Transport, claim string, meta claimMeta, m *bundle.Manifest, sent, name string) (int64, string, error) {
	var srcs []bundle.Source
	if meta.Item != "" {
		var err error
		if srcs, err = bundle.SourcesForItem(filepath.Join(claim, "item", meta.Item)); err != nil {
			return 0, "", &localError{&unsafeItemError{err}}
		}
	}
	task := progress.Start(r.e.progress, "push "+name, bundle.SourcesSize(srcs))
	defer task.Done()
	local, err := fsx.CreateTemp(sent, 0o600)
	if err != nil {
		return 0, "", &localError{fmt.Errorf("create %s: %w", sent, err)}
	}
	defer local.Abort() // no-op once committed
	up, err := d.Create(ctx, r.p.Folders().PushDir, name)
	if err != nil {
		r.abandonIfCut(ctx, d, name, err)
		return 0, "", err
	}
	committed := false
	defer func() {
		if !committed {
			r.abandon(ctx, d, name, up)
		}
	}()

	toDrop, toCheck := chunkpipe.New(), chunkpipe.New()
	upErr := make(chan error, 1)
	go func() {
		uw := &errWriter{w: up}
		_, err := io.Copy(uw, toDrop)
		toDrop.CloseRead(err)
		upErr <- uw.err // the upload's own failure, not the sealer's
	}()
	checked := make(chan selfCheckResult, 1)
	go func() {
		res := selfCheck(toCheck, r.e.keys.self)
		toCheck.CloseRead(res.err)
		checked <- res
	}()

	ct, pt := sha256.New(), newPlainSum()
	counter := &countWriter{}
	buf := bufio.NewWriterSize(io.MultiWriter(local, ct, counter, task, toDrop, toCheck), 256<<10)
	serr := r.seal(buf, m, srcs, pt)
	if serr == nil {
		serr = buf.Flush()
	}
	toDrop.CloseWithError(serr)
	toCheck.CloseWithError(serr)
	uerr, check := <-upErr, <-checked
	switch {
	case uerr != nil:
		return 0, "", uerr
	case check.err != nil && (serr == nil || errors.Is(serr, check.err)):
		return 0, "", &localError{fmt.Errorf("self-check of %s: %w", local.Name(), check.err)}
	case serr != nil:
		return 0, "", serr
	case string(check.sum) != string(pt.Sum(nil)):
		return 0, "", &localError{fmt.Errorf("self-check of %s: the sealed bundle does not open to the data sealed", local.Name())}
	}
	if err := local.Commit(); err != nil {
		return 0, "", &localError{err}
	}
	crashpoint("push.sealed")
	if err := up.Commit(ctx, counter.n); err != nil {
		return 0, "", err
	}
	committed = true
	return counter.n, hex.EncodeToString(ct.Sum(nil)), nil
}

// selfCheckResult is the checksum of the plaintext a self-check opened.
type selfCheckResult struct {
	sum []byte
	err error
}

// newPlainSum is the checksum both sides of the self-check take of the
// plaintext: the length and CRC-32C. The cryptographic binding is the
// signature, which the self-check verifies: it is over the SHA-256 of
// the plaintext the signer was given, so a bundle that opens and
// verifies holds exactly that. The checksum adds what the signature
// cannot see, a corruption between the caller and the signer inside the
// sealer, at a fraction of another SHA-256's cost.
func newPlainSum() hash.Hash { return &plainSum{crc: crc32.New(crc32.MakeTable(crc32.Castagnoli))} }

type plainSum struct {
	crc hash.Hash32
	n   uint64
}

func (s *plainSum) Write(p []byte) (int, error) { s.n += uint64(len(p)); return s.crc.Write(p) }
func (s *plainSum) Sum(b []byte) []byte         { return binary.BigEndian.AppendUint64(s.crc.Sum(b), s.n) }
func (s *plainSum) Reset()                      { s.crc.Reset(); s.n = 0 }
func (s *plainSum) Size() int                   { return s.crc.Size() + 8 }
func (s *plainSum) BlockSize() int              { return s.crc.BlockSize() }

// selfCheck opens our own bundle as the partner would (decrypt with our
// key, which every bundle is also encrypted to, verify our signature) and
// checksums the plaintext, then reads src to its end.
func selfCheck(src io.Reader, self *crypto.Self) selfCheckResult {
	msg, err := crypto.Open(src, self, self.Public(), crypto.OpenOptions{})
	if err != nil {
		return selfCheckResult{err: err}
	}
	h := newPlainSum()
	if _, err := io.Copy(h, msg); err != nil {
		return selfCheckResult{err: err}
	}
	if _, err := io.Copy(io.Discard, src); err != nil { // armour's tail
		return selfCheckResult{err: err}
	}
	return selfCheckResult{sum: h.Sum(nil)}
}

// errWriter remembers the first error of the writer it wraps.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// seal writes the bundle's tar through the OpenPGP sealer into w, hashing
// the plaintext into pt for the self-check.
func (r *partnerRun) seal(w io.Writer, m *bundle.Manifest, srcs []bundle.Source, pt hash.Hash) error {
	return sealBundle(w, r.e.keys.self, r.peer, r.p, m, srcs, pt)
}

// sealBundle writes the bundle's tar (manifest last) through an OpenPGP
// sealer for partner p into w, and the plaintext also into pt when set
// (sealed.Pair.Seal). A sealer that cannot be set up, an unsafe source and
// a manifest that cannot be written are local errors.
func sealBundle(w io.Writer, self *crypto.Self, peer *crypto.Peer, p *config.Partner, m *bundle.Manifest, srcs []bundle.Source, pt io.Writer) error {
	err := sealed.Pair{Self: self, Peer: peer, Partner: p}.Seal(w, m, srcs, pt)
	switch {
	case errors.Is(err, bundle.ErrUnsafeSource):
		return &localError{&unsafeItemError{err}}
	case errors.Is(err, sealed.ErrSealer), errors.Is(err, bundle.ErrManifest):
		return &localError{err}
	}
	return err
}

// removeLeftoverPart removes the hidden upload of a bundle found already
// published: a transport that publishes by link and unlink (localdrop) may
// have been cut between the two, leaving it as a second link to the
// bundle, which would keep it in the partner's folder after they take it.
// Failing to remove it is only logged: the bundle is published.
func (r *partnerRun) removeLeftoverPart(ctx context.Context, d Transport, name string) {
	part := pathJoin(r.p.Folders().PushDir, drop.PartName(name))
	if err := d.Remove(ctx, part); err != nil {
		r.e.logger.Warn("cannot remove a leftover upload on the drop", "partner", r.id, "file", part, "error", err)
	}
}

// resume publishes a bundle already durable in sent/ whose upload an
// earlier run did not finish: done if the drop has it under its final name
// with the right size, otherwise uploaded again from sent/.
func (r *partnerRun) resume(ctx context.Context, d Transport, sent, name string, size int64) error {
	final := pathJoin(r.p.Folders().PushDir, name)
	if fi, err := d.Stat(ctx, final); err == nil && fi.Size() == size {
		r.removeLeftoverPart(ctx, d, name)
		return nil
	}
	f, err := os.Open(sent)
	if err != nil {
		return &localError{err}
	}
	defer f.Close()
	up, err := d.Create(ctx, r.p.Folders().PushDir, name)
	if err != nil {
		r.abandonIfCut(ctx, d, name, err)
		return err
	}
	if _, err := io.Copy(up, f); err != nil {
		r.abandon(ctx, d, name, up)
		return err
	}
	if err := up.Commit(ctx, size); err != nil {
		r.abandon(ctx, d, name, up)
		return err
	}
	return nil
}

// abandonTimeout bounds the removal of the hidden upload an attempt that
// did not publish leaves on the drop, also once the run was cancelled: a
// cancelled run must stop at once, so what cannot be removed in this time
// is left for the next attempt, whose Create replaces it.
const abandonTimeout = time.Second

// abandon removes the hidden upload of an attempt on d that did not
// publish, also once ctx has ended. When the upload's own Abort cannot
// reach the drop (the failure, or the cancel that stops a stalled call at
// once, closed d's connection), d is dropped and the file removed over a
// new connection.
func (r *partnerRun) abandon(ctx context.Context, d Transport, name string, up drop.Upload) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	err := up.Abort(ctx)
	if err == nil {
		return
	}
	r.dropIfDead(d, err)
	r.removePart(ctx, name)
}

// dropIfDead makes the retry wrapper forget d when err says its connection
// is gone (not an answer from the far side), so that the next call dials
// anew at once; other workers' calls on a live d are left alone.
func (r *partnerRun) dropIfDead(d Transport, err error) {
	if !drop.IsAnswered(err) {
		r.drop.reset(d)
	}
}

// abandonIfCut removes the hidden upload of a Create on d that the end of
// ctx cut short (failing with err): the server may have made the file
// before the connection was closed under it.
func (r *partnerRun) abandonIfCut(ctx context.Context, d Transport, name string, err error) {
	if ctx.Err() == nil {
		return // a Create that failed by itself made nothing, or the next attempt replaces it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
	defer cancel()
	r.dropIfDead(d, err)
	r.removePart(ctx, name)
}

// removePart removes the hidden upload of name through the retry wrapper,
// which dials anew if the connection failed; failing that, it logs: the
// next attempt's Create replaces the file.
func (r *partnerRun) removePart(ctx context.Context, name string) {
	part := pathJoin(r.p.Folders().PushDir, drop.PartName(name))
	if err := r.withRetry(ctx, func(d Transport) error { return d.Remove(ctx, part) }); err != nil {
		r.e.logger.Warn("cannot remove an abandoned upload on the drop; the next attempt replaces it",
			"partner", r.id, "file", part, "error", err)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct{ n int64 }

// midUpload is where the crash tests kill a push in the middle of its
// upload: once this many bytes are written to sent/ and to the drop.
const midUpload = 256 << 10

func (c *countWriter) Write(p []byte) (int, error) {
	if c.n < midUpload && c.n+int64(len(p)) >= midUpload {
		crashpoint("push.uploading")
	}
	c.n += int64(len(p))
	return len(p), nil
}

// pathJoin joins remote (slash-separated) path elements.
func pathJoin(dir, name string) string {
	if dir == "" || dir[len(dir)-1] == '/' {
		return dir + name
	}
	return dir + "/" + name
}
