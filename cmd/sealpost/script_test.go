package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/internal/testworld"
)

// TestScripts runs the command-line contract in testdata/script/*.txtar:
// help, usage errors and exit statuses of every command, and the commands
// that need no SFTP server (keys, check, send, status, bundle, audit
// verify). Each script runs the sealpost command in a new $WORK folder.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": scriptExits,
			"world": scriptWorld,
		},
	})
}

// scriptExits is "exits CODE COMMAND [ARGS]": it runs COMMAND as exec does
// (its stdout and stderr are there for the next checks) and fails unless
// it exits with CODE.
func scriptExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE COMMAND [ARGS]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// scriptWorld is "world": two parties, us-cbp and uk-hmrc, in $WORK/us and
// $WORK/uk, each with its secret key, the other's public key pinned, and
// an SFTP login to a drop nobody listens on (the scripts run no server).
// It sets $US and $UK to their configuration files.
func scriptWorld(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: world")
	}
	work := ts.Getenv("WORK")
	sshKey, knownHosts := scriptSSH(ts, work)
	ids := map[string]string{"us": us, "uk": uk}
	fps := map[string]string{}
	for dir, id := range ids {
		secret, public, fp, err := crypto.GenerateKey(id, crypto.KeyEd25519, nil)
		ts.Check(err)
		ts.Check(os.MkdirAll(filepath.Join(work, dir, "keys"), 0o700))
		ts.Check(os.WriteFile(filepath.Join(work, dir, "keys", id+".secret.asc"), secret, 0o600))
		ts.Check(os.WriteFile(filepath.Join(work, id+".public.asc"), public, 0o644))
		fps[id] = fp
	}
	for dir, id := range ids {
		peer := map[string]string{us: uk, uk: us}[id]
		conf := testworld.Config{ID: id, PrivateKey: "keys/" + id + ".secret.asc", Partners: []testworld.Partner{{
			ID: peer, PublicKey: "../" + peer + ".public.asc", Fingerprints: []string{fps[peer]},
			Server:  testworld.Server{Addr: "127.0.0.1:9", User: id, ClientKey: sshKey, KnownHosts: knownHosts},
			PushDir: "/" + id + "-to-" + peer, PullDir: "/" + peer + "-to-" + id,
		}}}
		path := filepath.Join(work, dir, "sealpost.yaml")
		ts.Check(os.WriteFile(path, []byte(conf.YAML()), 0o600))
		ts.Setenv(map[string]string{us: "US", uk: "UK"}[id], path)
	}
}

// scriptSSH writes an SSH client key and a known_hosts line for the drop's
// address, and returns their paths.
func scriptSSH(ts *testscript.TestScript, work string) (key, hosts string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	ts.Check(err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	ts.Check(err)
	key = filepath.Join(work, "ssh", "id_ed25519")
	ts.Check(os.MkdirAll(filepath.Dir(key), 0o700))
	ts.Check(os.WriteFile(key, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	ts.Check(err)
	hosts = filepath.Join(work, "ssh", "known_hosts")
	ts.Check(os.WriteFile(hosts, []byte(knownhosts.Line([]string{"127.0.0.1:9"}, signer.PublicKey())+"\n"), 0o644))
	return key, hosts
}
