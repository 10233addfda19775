// Package demo stages a complete exchange on one machine: two parties with
// fresh keys, an in-process SFTP server on loopback playing the partner's
// drop, and a simulated partner (a second sealpost engine) that answers each
// request. It is what `sealpost demo` and `make demo` run.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/sftpd"
)

// The two parties of the demo.
const (
	us      = "us-cbp"
	partner = "uk-hmrc"
)

// Run builds the demo world in dir (which must exist), runs the exchange
// both ways and prints what happened to w. It returns an error if any step
// fails or either side's exchange log does not verify.
func Run(ctx context.Context, dir string, w io.Writer) error {
	if err := os.MkdirAll(filepath.Join(dir, "drop"), 0o700); err != nil {
		return err
	}
	srv, err := sftpd.Start(filepath.Join(dir, "drop"), filepath.Join(dir, "drop-keys"))
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, d := range []string{"to-" + us, "to-" + partner} {
		if err := os.MkdirAll(filepath.Join(srv.Root, d), 0o700); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "== A temporary world in %s\n", dir)
	fmt.Fprintf(w, "   SFTP drop on %s (in-process server, host key pinned in known_hosts)\n", srv.Addr)
	for _, id := range []string{us, partner} {
		fp, err := generate(filepath.Join(dir, id, "keys"), id)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   %s: new Ed25519 OpenPGP key %s\n", id, fp)
	}
	ours, theirs := &party{id: us, peer: partner, dir: filepath.Join(dir, us)}, &party{id: partner, peer: us, dir: filepath.Join(dir, partner)}
	for _, p := range []*party{ours, theirs} {
		if err := configure(dir, p.id, p.peer, srv); err != nil {
			return err
		}
		if err := p.start(); err != nil {
			return err
		}
		defer p.eng.Close()
	}
	return script(ctx, w, ours, theirs)
}

// script is the exchange itself, step by step.
func script(ctx context.Context, w io.Writer, ours, theirs *party) error {
	fmt.Fprintf(w, "\n== 1. %s queues two requests for %s\n", us, partner)
	if err := ours.queueRequests(ctx, w); err != nil {
		return err
	}
	steps := []struct {
		title string
		p     *party
		after func() error
	}{
		{"2. " + us + " pushes: seal, self-check, upload", ours, nil},
		{"3. " + partner + " pulls: verify, file, answer with receipts", theirs, func() error { return theirs.answerRequests(ctx, w) }},
		{"4. " + partner + " pushes its responses", theirs, nil},
		{"5. " + us + " pulls receipts and responses, sends receipts", ours, nil},
		{"6. " + partner + " pulls our receipts", theirs, nil},
	}
	for _, s := range steps {
		fmt.Fprintf(w, "\n== %s\n", s.title)
		if err := s.p.run(ctx, w); err != nil {
			return err
		}
		if s.after != nil {
			if err := s.after(); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "\n== 7. Where things stand\n")
	for _, p := range []*party{ours, theirs} {
		if err := p.summary(w); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nDemo complete: requests sent, receipted and answered; both logs verify.\n")
	return nil
}

// party is one side of the demo: its configuration and running engine.
type party struct {
	id, peer string
	dir      string
	eng      *exchange.Engine
}

// generate writes a fresh key pair for id into keys and returns its
// fingerprint.
func generate(keys, id string) (string, error) {
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return "", err
	}
	secret, public, fp, err := crypto.GenerateKey(id, crypto.KeyEd25519, nil)
	if err != nil {
		return "", err
	}
	if err := fsx.WriteFile(filepath.Join(keys, id+".secret.asc"), secret, 0o600); err != nil {
		return "", err
	}
	if err := fsx.WriteFile(filepath.Join(keys, id+".public.asc"), public, 0o644); err != nil {
		return "", err
	}
	return fp, fsx.WriteFile(filepath.Join(keys, id+".fingerprint"), []byte(fp), 0o644)
}

// configure writes dir/<id>/sealpost.yaml: the partner's key copied in and
// pinned, the shared drop with the folders crossed over.
func configure(dir, id, peer string, srv *sftpd.Server) error {
	home := filepath.Join(dir, id)
	fp, err := os.ReadFile(filepath.Join(dir, peer, "keys", peer+".fingerprint"))
	if err != nil {
		return err
	}
	pub, err := os.ReadFile(filepath.Join(dir, peer, "keys", peer+".public.asc"))
	if err != nil {
		return err
	}
	if err := fsx.WriteFile(filepath.Join(home, "keys", peer+".public.asc"), pub, 0o644); err != nil {
		return err
	}
	yaml := fmt.Sprintf(`identity:
  id: %[1]s
  private_key: keys/%[1]s.secret.asc
state_dir: state
partners:
  %[2]s:
    public_key: keys/%[2]s.public.asc
    fingerprints: ["%[3]s"]
    sftp:
      address: %[4]s
      user: %[1]s
      private_key: %[5]s
      known_hosts: %[6]s
      push_dir: /to-%[2]s
      pull_dir: /to-%[1]s
      after_pull: delete
    schedule:
      push: "@every 1m"
      pull: "@every 1m"
    settle: 0s
    pull_settle: 0s
`, id, peer, strings.TrimSpace(string(fp)), srv.Addr, srv.ClientKey, srv.KnownHosts)
	return fsx.WriteFile(filepath.Join(home, "sealpost.yaml"), []byte(yaml), 0o600)
}

// start loads the party's configuration and starts its engine.
func (p *party) start() error {
	cfg, err := config.Load(filepath.Join(p.dir, "sealpost.yaml"))
	if err != nil {
		return err
	}
	p.eng, err = exchange.New(cfg, nil)
	return err
}

// queueRequests writes two sample case files and queues them with send.
func (p *party) queueRequests(ctx context.Context, w io.Writer) error {
	work := filepath.Join(p.dir, "documents")
	files := map[string]string{
		"CASE-2026-0042/request.txt":          "Request for information under the customs mutual assistance agreement, art. 4.\nSubject: consignment MSKU 1234567, declared as machine parts.\n",
		"CASE-2026-0042/evidence/invoice.csv": "line,description,value_usd\n1,hydraulic pump,12000\n2,control unit,8500\n",
		"CASE-2026-0043/request.txt":          "Request for verification of origin certificates EUR.1 A-778812 to A-778820.\n",
	}
	for name, body := range files {
		path := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := fsx.WriteFile(path, []byte(body), 0o600); err != nil {
			return err
		}
	}
	for _, c := range []struct{ ref, dir string }{{"CASE-2026-0042", "CASE-2026-0042"}, {"CASE-2026-0043", "CASE-2026-0043"}} {
		ents, err := os.ReadDir(filepath.Join(work, c.dir))
		if err != nil {
			return err
		}
		var paths []string
		for _, e := range ents {
			paths = append(paths, filepath.Join(work, c.dir, e.Name()))
		}
		name, err := p.eng.Send(ctx, exchange.SendRequest{To: p.peer, Reference: c.ref, Paths: paths})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "   sealpost send --to %s --ref %s ...  → outbox/%s/%s\n", p.peer, c.ref, p.peer, name)
	}
	return nil
}

// run is one `sealpost run` of the party, printed.
func (p *party) run(ctx context.Context, w io.Writer) error {
	res := p.eng.RunPartner(ctx, exchange.RunOptions{Partner: p.peer})
	fmt.Fprintf(w, "   %s: pushed %d, filed %d, receipts received %d, refused %d\n",
		p.id, res.Pushed, res.Filed, res.Receipts, res.Refused)
	return res.Err
}

// answerRequests plays the partner's operator: each request filed in the
// inbox is answered with a response that refers to it.
func (p *party) answerRequests(ctx context.Context, w io.Writer) error {
	inbox := filepath.Join(p.dir, "state", "inbox", p.peer)
	ents, err := os.ReadDir(inbox)
	if err != nil {
		return err
	}
	for _, e := range ents {
		var m struct{ Kind, Reference string }
		data, err := os.ReadFile(filepath.Join(inbox, e.Name(), "manifest.json"))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		if m.Kind != "request" {
			continue
		}
		answer := filepath.Join(p.dir, "answer-"+e.Name()+".txt")
		body := fmt.Sprintf("Response to %s (%s): records attached; the consignee is known to us.\n", m.Reference, e.Name())
		if err := fsx.WriteFile(answer, []byte(body), 0o600); err != nil {
			return err
		}
		if _, err := p.eng.Send(ctx, exchange.SendRequest{To: p.peer, Reference: m.Reference, ReplyTo: e.Name(), Paths: []string{answer}}); err != nil {
			return err
		}
		fmt.Fprintf(w, "   %s's operator answers %s (%s)\n", p.id, m.Reference, e.Name())
	}
	return nil
}

// summary prints the party's status and verifies its exchange log.
func (p *party) summary(w io.Writer) error {
	sts, err := p.eng.Status(p.peer)
	if err != nil {
		return err
	}
	st := sts[0]
	sum, err := audit.Verify(filepath.Join(p.dir, "state", "audit"))
	if err != nil {
		return fmt.Errorf("%s: exchange log does not verify: %w", p.id, err)
	}
	fmt.Fprintf(w, "   %s: inbox %d, awaiting receipt %d, awaiting response %d, quarantine %d; log verified (%d records, head %s…)\n",
		p.id, st.Inbox, len(st.AwaitingReceipt), len(st.AwaitingResponse), st.Quarantine, sum.Records, sum.HeadSHA256[:16])
	return nil
}
