package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fullYAML sets every key for uk-hmrc and only the required ones for de-zoll.
// {{dir}} is replaced by the test's folder.
const fullYAML = `identity:
  id: us-cbp
  private_key: keys/us-cbp.secret.asc
  passphrase_file: secrets/pgp-passphrase
state_dir: state
metrics:
  listen: 127.0.0.1:9464
partners:
  uk-hmrc:
    public_key: keys/uk-hmrc.public.asc
    fingerprints: ["1234 5678 9ABC DEF0 1234  5678 9ABC DEF0 1234 5678", "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"]
    sftp:
      address: sftp.partner.example:2222
      user: us-cbp
      private_key: keys/id_ed25519
      known_hosts: keys/known_hosts
      push_dir: /inbound
      pull_dir: /outbound
      after_pull: move:/outbound/done
      timeout: 45s
      download_deadline: 20m
    schedule:
      push: "@every 5m"
      pull: "*/10 * * * *"
    pgp:
      profile: rfc9580
      compression: zlib
      armor: true
    limits:
      max_bytes: 500MiB
      max_files: 20
      max_refused: 7
      quarantine_files: 50
      quarantine_size: 2GiB
    settle: 1m
    pull_settle: 5s
    run_deadline: 2h
    receipt_due: 12h
    receipts: none
    response_due: 240h
  de-zoll:
    public_key: {{dir}}/keys/de-zoll.public.asc
    fingerprints:
      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
    sftp:
      address: drop.zoll.example
      user: us
      private_key: keys/zoll_ed25519
      known_hosts: keys/known_hosts
      push_dir: in
      pull_dir: out
`

const passphrase = "correct horse battery staple"

// writeFiles creates the files fullYAML names, with safe permissions.
func writeFiles(t testing.TB, dir string) {
	t.Helper()
	files := []struct {
		name string
		mode os.FileMode
		data string
	}{
		{"keys/us-cbp.secret.asc", 0o600, "secret key"},
		{"secrets/pgp-passphrase", 0o600, passphrase + "\n"},
		{"keys/uk-hmrc.public.asc", 0o644, "public key"},
		{"keys/de-zoll.public.asc", 0o644, "public key"},
		{"keys/id_ed25519", 0o600, "ssh key"},
		{"keys/zoll_ed25519", 0o600, "ssh key"},
		{"keys/known_hosts", 0o644, "known hosts"},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // umask-proof
			t.Fatal(err)
		}
	}
}

// writeConfig writes text as dir/sealpost.yaml and returns its path.
func writeConfig(t testing.TB, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "sealpost.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(text, "{{dir}}", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture writes the files and fullYAML into a new temp dir.
func fixture(t *testing.T) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	writeFiles(t, dir)
	return dir, writeConfig(t, dir, fullYAML)
}

func TestLoadFull(t *testing.T) {
	dir, path := fixture(t)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	abs := func(p string) string { return filepath.Join(dir, p) }
	want := &Config{
		File: path,
		Identity: Identity{
			ID:             "us-cbp",
			PrivateKey:     abs("keys/us-cbp.secret.asc"),
			PassphraseFile: abs("secrets/pgp-passphrase"),
		},
		StateDir: abs("state"),
		Metrics:  Metrics{Listen: "127.0.0.1:9464"},
		Audit:    Audit{Rotate: "monthly", CheckpointDir: abs("state/checkpoints")},
		Partners: map[string]*Partner{
			"uk-hmrc": {
				ID:        "uk-hmrc",
				PublicKey: abs("keys/uk-hmrc.public.asc"),
				Fingerprints: []string{
					"123456789abcdef0123456789abcdef012345678",
					"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
				},
				SFTP: SFTP{
					Address: "sftp.partner.example:2222", User: "us-cbp",
					PrivateKey: abs("keys/id_ed25519"), KnownHosts: abs("keys/known_hosts"),
					PushDir: "/inbound", PullDir: "/outbound",
					AfterPull: "move", MoveDir: "/outbound/done", Timeout: 45 * time.Second,
					DownloadDeadline: 20 * time.Minute,
				},
				Schedule: Schedule{Push: "@every 5m", Pull: "*/10 * * * *"},
				PGP:      PGP{Profile: "rfc9580", Compression: "zlib", Armor: true},
				Limits: Limits{MaxBytes: 500 << 20, MaxFiles: 20, MaxRefused: 7,
					QuarantineFiles: 50, QuarantineSize: 2 << 30},
				Settle:      time.Minute,
				PullSettle:  5 * time.Second,
				RunDeadline: 2 * time.Hour,
				ReceiptDue:  12 * time.Hour,
				NoReceipts:  true,
				ResponseDue: 240 * time.Hour,
			},
			"de-zoll": {
				ID:           "de-zoll",
				PublicKey:    abs("keys/de-zoll.public.asc"),
				Fingerprints: []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
				SFTP: SFTP{
					Address: "drop.zoll.example:22", User: "us",
					PrivateKey: abs("keys/zoll_ed25519"), KnownHosts: abs("keys/known_hosts"),
					PushDir: "in", PullDir: "out",
					AfterPull: "delete", Timeout: 30 * time.Second,
					DownloadDeadline: time.Hour,
				},
				PGP: PGP{Profile: "auto", Compression: "none"},
				Limits: Limits{MaxBytes: 10 << 30, MaxFiles: 10000, MaxRefused: 100,
					QuarantineFiles: 1000, QuarantineSize: 20 << 30},
				Settle:      30 * time.Second,
				PullSettle:  10 * time.Second,
				RunDeadline: 6 * time.Hour,
				ReceiptDue:  24 * time.Hour,
				ResponseDue: 720 * time.Hour,
			},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
		for id := range want.Partners {
			t.Errorf("partner %s:\n got %+v\nwant %+v", id, c.Partners[id], want.Partners[id])
		}
	}
}

func TestLoadReceiptsExpected(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir)
	c, err := Load(writeConfig(t, dir, strings.Replace(fullYAML, "receipts: none", "receipts: expected", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Partners["uk-hmrc"].NoReceipts || c.Partners["de-zoll"].NoReceipts {
		t.Errorf("receipts: expected (and the default) gave NoReceipts true")
	}
}

// lineOf returns the 1-based line of the first occurrence of s in text.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	i := strings.Index(text, s)
	if i < 0 {
		t.Fatalf("%q not in the config", s)
	}
	return strings.Count(text[:i], "\n") + 1
}

func chmod(name string, mode os.FileMode) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func remove(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace the first old in fullYAML with new
		setup    func(t *testing.T, dir string)
		at       string // the error's line is where this first appears; default new
		key      string
		want     string
	}{
		{name: "unknown top key", old: "state_dir: state", new: "state_dir: state\nversion: 1",
			at: "version", key: "version", want: "unknown key (known keys: audit, identity, metrics, partners, state_dir)"},
		{name: "unknown nested key", old: "    schedule:", new: "    schedul:",
			key: "partners.uk-hmrc.schedul", want: "unknown key"},
		{name: "duplicate key", old: "      user: us-cbp", new: "      user: us-cbp\n      user: other",
			at: "user: other", key: "partners.uk-hmrc.sftp.user", want: "duplicate key"},
		{name: "section not a mapping", old: "    pgp:\n      profile: rfc9580\n      compression: zlib\n      armor: true",
			new: "    pgp: rfc9580", key: "partners.uk-hmrc.pgp", want: `expected a mapping of keys, got "rfc9580"`},
		{name: "string given a list", old: "user: us-cbp", new: "user: [a, b]",
			key: "partners.uk-hmrc.sftp.user", want: "expected a string, got a list"},
		{name: "empty value", old: "user: us-cbp", new: "user:",
			key: "partners.uk-hmrc.sftp.user", want: "is empty"},
		{name: "bool wrong type", old: "armor: true", new: "armor: yes",
			key: "partners.uk-hmrc.pgp.armor", want: `"yes" is not true or false`},
		{name: "count wrong type", old: "max_files: 20", new: "max_files: many",
			key: "partners.uk-hmrc.limits.max_files", want: `"many" is not a whole number`},
		{name: "count zero", old: "max_files: 20", new: "max_files: 0",
			key: "partners.uk-hmrc.limits.max_files", want: "at least 1"},
		{name: "bad size", old: "max_bytes: 500MiB", new: `max_bytes: "10 GiBs"`,
			key: "partners.uk-hmrc.limits.max_bytes", want: `"10 GiBs" is not a size (use e.g. 500MiB or 10GiB)`},
		{name: "zero size", old: "max_bytes: 500MiB", new: "max_bytes: 0GiB",
			key: "partners.uk-hmrc.limits.max_bytes", want: "more than 0"},
		{name: "bad duration", old: "settle: 1m", new: "settle: 30",
			key: "partners.uk-hmrc.settle", want: `"30" is not a duration`},
		{name: "negative duration", old: "receipt_due: 12h", new: "receipt_due: -1h",
			key: "partners.uk-hmrc.receipt_due", want: "too short"},
		{name: "receipts unknown", old: "receipts: none", new: "receipts: never",
			key: "partners.uk-hmrc.receipts", want: `"never" is not "expected" or "none"`},
		{name: "receipts a list", old: "receipts: none", new: "receipts: [none]",
			key: "partners.uk-hmrc.receipts", want: "expected a string, got a list"},
		{name: "zero timeout", old: "timeout: 45s", new: "timeout: 0s",
			key: "partners.uk-hmrc.sftp.timeout", want: "too short; the least allowed is 1s"},
		{name: "zero download deadline", old: "download_deadline: 20m", new: "download_deadline: 0s",
			key: "partners.uk-hmrc.sftp.download_deadline", want: "too short; the least allowed is 1s"},
		{name: "zero run deadline", old: "run_deadline: 2h", new: "run_deadline: 0s",
			key: "partners.uk-hmrc.run_deadline", want: "too short; the least allowed is 1s"},
		{name: "negative pull settle", old: "pull_settle: 5s", new: "pull_settle: -5s",
			key: "partners.uk-hmrc.pull_settle", want: "too short"},
		{name: "zero refusal budget", old: "max_refused: 7", new: "max_refused: 0",
			key: "partners.uk-hmrc.limits.max_refused", want: "at least 1"},
		{name: "zero quarantine files", old: "quarantine_files: 50", new: "quarantine_files: 0",
			key: "partners.uk-hmrc.limits.quarantine_files", want: "at least 1"},
		{name: "zero quarantine size", old: "quarantine_size: 2GiB", new: "quarantine_size: 0",
			key: "partners.uk-hmrc.limits.quarantine_size", want: "more than 0"},
		{name: "bad identity id", old: "id: us-cbp", new: "id: US_CBP",
			key: "identity.id", want: `"US_CBP" is not a valid party id`},
		{name: "bad partner id", old: "  de-zoll:", new: "  -de-zoll:",
			key: "partners.-de-zoll", want: "is not a valid party id"},
		{name: "partner id too long", old: "  de-zoll:", new: "  " + strings.Repeat("a", 33) + ":",
			key: "partners." + strings.Repeat("a", 33), want: "at most 32 characters"},
		{name: "identity is a partner", old: "  de-zoll:", new: "  us-cbp:",
			key: "partners.us-cbp", want: "is our own identity.id"},
		{name: "fingerprint too short", old: "      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", new: "      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			key: "partners.de-zoll.fingerprints[0]", want: "is not a fingerprint (40 or 64 hex digits)"},
		{name: "fingerprint not hex", old: "      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", new: "      - 1\n      - GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			at: "      - 1", key: "partners.de-zoll.fingerprints[0]", want: `"1" is not a fingerprint`},
		{name: "second fingerprint bad", old: "      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", new: "      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n      - xyz",
			at: "- xyz", key: "partners.de-zoll.fingerprints[1]", want: `"xyz"`},
		{name: "no fingerprints", old: "    fingerprints:\n      - AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", new: "    fingerprints: []",
			key: "partners.de-zoll.fingerprints", want: "one or more fingerprints"},
		{name: "missing public key file", setup: remove("keys/uk-hmrc.public.asc"),
			at: "public_key: keys/uk-hmrc.public.asc", key: "partners.uk-hmrc.public_key", want: "keys/uk-hmrc.public.asc does not exist"},
		{name: "missing identity key", setup: remove("keys/us-cbp.secret.asc"),
			at: "private_key: keys/us-cbp", key: "identity.private_key", want: "does not exist"},
		{name: "missing sftp key", setup: remove("keys/id_ed25519"),
			at: "private_key: keys/id_ed25519", key: "partners.uk-hmrc.sftp.private_key", want: "does not exist"},
		{name: "missing known_hosts file", setup: remove("keys/known_hosts"),
			at: "known_hosts: keys/known_hosts", key: "partners.uk-hmrc.sftp.known_hosts", want: "keys/known_hosts does not exist"},
		{name: "missing passphrase file", setup: remove("secrets/pgp-passphrase"),
			at: "passphrase_file:", key: "identity.passphrase_file", want: "does not exist"},
		{name: "known_hosts is a folder", old: "known_hosts: keys/known_hosts", new: "known_hosts: keys",
			key: "partners.uk-hmrc.sftp.known_hosts", want: "is not a regular file"},
		{name: "known_hosts missing", old: "      known_hosts: keys/known_hosts\n", new: "",
			at: "    sftp:", key: "partners.uk-hmrc.sftp.known_hosts", want: "required key is missing"},
		{name: "identity key 0644", setup: chmod("keys/us-cbp.secret.asc", 0o644),
			at: "private_key: keys/us-cbp", key: "identity.private_key", want: "permissions 0644 for "},
		{name: "sftp key 0640", setup: chmod("keys/id_ed25519", 0o640),
			at: "private_key: keys/id_ed25519", key: "partners.uk-hmrc.sftp.private_key", want: "permissions 0640 for "},
		{name: "passphrase file 0604", setup: chmod("secrets/pgp-passphrase", 0o604),
			at: "passphrase_file:", key: "identity.passphrase_file", want: "are too open; run chmod 600 "},
		{name: "both passphrase sources", old: "state_dir: state", new: "  passphrase_env: PGP_PASS\nstate_dir: state",
			at: "passphrase_env", key: "identity.passphrase_env", want: "both set; keep one"},
		{name: "both passphrase sources, file last", old: "  passphrase_file:", new: "  passphrase_env: PGP_PASS\n  passphrase_file:",
			at: "  passphrase_file", key: "identity.passphrase_file", want: "both set; keep one"},
		{name: "bad cron", old: `pull: "*/10 * * * *"`, new: `pull: "61 * * * *"`,
			key: "partners.uk-hmrc.schedule.pull", want: `"61 * * * *" is not a cron spec`},
		{name: "seconds field refused", old: `pull: "*/10 * * * *"`, new: `pull: "0 */10 * * * *"`,
			key: "partners.uk-hmrc.schedule.pull", want: "is not a cron spec"},
		{name: "time zone alone", old: `pull: "*/10 * * * *"`, new: `pull: "CRON_TZ=UTC"`,
			key: "partners.uk-hmrc.schedule.pull", want: "a schedule must follow the time zone"},
		{name: "unknown time zone", old: `push: "@every 5m"`, new: `push: "CRON_TZ=Mars/Olympus @daily"`,
			key: "partners.uk-hmrc.schedule.push", want: "is not a cron spec"},
		{name: "bad after_pull", old: "after_pull: move:/outbound/done", new: "after_pull: archive",
			key: "partners.uk-hmrc.sftp.after_pull", want: `"archive" is not "delete" or "move:/remote/folder"`},
		{name: "move without folder", old: "after_pull: move:/outbound/done", new: "after_pull: 'move:'",
			key: "partners.uk-hmrc.sftp.after_pull", want: "is not"},
		{name: "move into pull_dir", old: "after_pull: move:/outbound/done", new: "after_pull: move:/outbound/",
			key: "partners.uk-hmrc.sftp.after_pull", want: "into pull_dir itself"},
		{name: "push_dir is pull_dir", old: "pull_dir: /outbound", new: "pull_dir: /inbound",
			key: "partners.uk-hmrc.sftp.pull_dir", want: "same folder as push_dir"},
		{name: "bad profile", old: "profile: rfc9580", new: "profile: gnupg",
			key: "partners.uk-hmrc.pgp.profile", want: `"gnupg" is not one of: auto, rfc4880, rfc9580`},
		{name: "bad compression", old: "compression: zlib", new: "compression: bzip2",
			key: "partners.uk-hmrc.pgp.compression", want: "is not one of: none, zlib"},
		{name: "listen without port", old: "listen: 127.0.0.1:9464", new: "listen: localhost",
			key: "metrics.listen", want: `"localhost" is not host:port`},
		{name: "listen bad port", old: "listen: 127.0.0.1:9464", new: "listen: 127.0.0.1:99999",
			key: "metrics.listen", want: "is not host:port"},
		{name: "listen on every interface by default", old: "listen: 127.0.0.1:9464", new: `listen: ":9464"`,
			key: "metrics.listen", want: "would listen on every interface; use 127.0.0.1:9464"},
		{name: "bad address", old: "address: sftp.partner.example:2222", new: "address: a:b:c",
			key: "partners.uk-hmrc.sftp.address", want: `"a:b:c" is not a host:port address`},
		{name: "no partners", old: "partners:", new: "partners: {}\nunused:",
			at: "partners:", key: "partners", want: "no partners are configured"},
		{name: "missing top key", old: "state_dir: state\n", new: "",
			at: "identity:", key: "state_dir", want: "required key is missing"},
		{name: "yaml syntax", old: "    settle: 1m", new: "    settle: 1m: x",
			want: "mapping values are not allowed in this context"},
		{name: "two documents", old: "identity:", new: "---\nidentity:", setup: func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "sealpost.yaml"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("---\nsecond: doc\n"); err != nil {
				t.Fatal(err)
			}
		}, at: "---\nsecond", want: "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir)
			text := strings.Replace(fullYAML, tt.old, tt.new, 1)
			if tt.old != "" && text == fullYAML {
				t.Fatalf("%q not in fullYAML", tt.old)
			}
			path := writeConfig(t, dir, text)
			if tt.setup != nil {
				tt.setup(t, dir)
				text = readFile(t, path)
			}
			at := tt.at
			if at == "" {
				at = tt.new
			}
			_, err := Load(path)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load: got %v, want a *config.Error", err)
			}
			if line := lineOf(t, text, at); e.Line != line || e.Key != tt.key || e.File != path {
				t.Errorf("Load: got %s:%d key %q, want %s:%d key %q", e.File, e.Line, e.Key, path, line, tt.key)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Load: got %q, want it to mention %q and %q", err, tt.key, tt.want)
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestErrorMessage checks the whole sentence for a path given relative to
// the working folder.
func TestErrorMessage(t *testing.T) {
	dir, _ := fixture(t)
	text := strings.Replace(fullYAML, "max_bytes: 500MiB", `max_bytes: "10 GiBs"`, 1)
	writeConfig(t, dir, text)
	t.Chdir(dir)
	_, err := Load("sealpost.yaml")
	want := `sealpost.yaml:30: partners.uk-hmrc.limits.max_bytes: "10 GiBs" is not a size (use e.g. 500MiB or 10GiB)`
	if err == nil || err.Error() != want {
		t.Errorf("Load: got %v, want %s", err, want)
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, text, want string }{
		{"missing", "", "no such file"},
		{"empty", "\n", "the file is empty"},
		{"comments only", "# nothing\n", "the file is empty"},
		{"not a mapping", "- a\n- b\n", "expected a mapping of keys, got a list"},
		{"control character", "identity:\x01\n", "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".yaml")
			if tt.text != "" {
				if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(path)
			var e *Error
			if !errors.As(err, &e) || e.File != path || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %v, want a *config.Error for %s saying %q", err, path, tt.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: got %v, want fs.ErrNotExist", err)
	}
}

// TestRelativePaths loads a config through a relative path from another
// folder: paths still resolve against the config's own folder.
func TestRelativePaths(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "etc", "sealpost")
	writeFiles(t, dir)
	writeConfig(t, dir, fullYAML)
	t.Chdir(top)
	c, err := Load(filepath.Join("etc", "sealpost", "sealpost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.File, c.StateDir, c.Identity.PrivateKey, c.Partners["uk-hmrc"].SFTP.KnownHosts, c.Partners["de-zoll"].PublicKey}
	want := []string{"sealpost.yaml", "state", "keys/us-cbp.secret.asc", "keys/known_hosts", "keys/de-zoll.public.asc"}
	for i := range got {
		if w := filepath.Join(dir, want[i]); got[i] != w {
			t.Errorf("path %d: got %s, want %s", i, got[i], w)
		}
	}
}

func TestSchedules(t *testing.T) {
	for _, spec := range []string{
		"CRON_TZ=Europe/London 30 2 * * 1-5",
		"TZ=UTC @daily",
		"CRON_TZ=UTC @every 90s",
		"@hourly",
		"0 0 1 jan *",
		"",
	} {
		t.Run(spec, func(t *testing.T) {
			dir, _ := fixture(t)
			path := writeConfig(t, dir, strings.Replace(fullYAML, `"@every 5m"`, `"`+spec+`"`, 1))
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Partners["uk-hmrc"].Schedule.Push; got != spec {
				t.Errorf("Schedule.Push: got %q, want %q", got, spec)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"0", 0, true},
		{"512B", 512, true},
		{"500MB", 500e6, true},
		{"500MiB", 500 << 20, true},
		{"10GiB", 10 << 30, true},
		{"10 GiB", 10 << 30, true},
		{"2TB", 2e12, true},
		{"1KiB", 1024, true},
		{"8388607TiB", 8388607 << 40, true},
		{"8388608TiB", 0, false},
		{"99999999999999999999", 0, false},
		{"10 GiBs", 0, false},
		{"10gib", 0, false},
		{"1.5GiB", 0, false},
		{"-1", 0, false},
		{"GiB", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestValidPartyID(t *testing.T) {
	tests := map[string]bool{
		"us-cbp": true, "uk-hmrc": true, "a": true, "0": true, "a-": true,
		strings.Repeat("a", 32): true, strings.Repeat("a", 33): false,
		"": false, "-a": false, "Us": false, "us_cbp": false, "us.cbp": false, "us cbp": false,
	}
	for id, want := range tests {
		if got := ValidPartyID(id); got != want {
			t.Errorf("ValidPartyID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestCheckPrivateFile(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if err := os.Chmod(key, mode); err != nil {
			t.Fatal(err)
		}
		if err := CheckPrivateFile(key); err != nil {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		if err := os.Chmod(key, mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPrivateFile(key)
		want := fmt.Sprintf("permissions %04o for %s are too open; run chmod 600 %s", mode, key, key)
		if !errors.Is(err, ErrTooOpen) || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %04o: got %v, want ErrTooOpen saying %q", mode, err, want)
		}
	}
	if err := CheckPrivateFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: got %v, want not a regular file", err)
	}
	if err := CheckPrivateFile(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: got %v, want fs.ErrNotExist", err)
	}
}

func TestPassphrase(t *testing.T) {
	_, path := fixture(t)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Identity.Passphrase()
	if err != nil || string(got) != passphrase {
		t.Errorf("Passphrase from file: got %q, %v; want %q", got, err, passphrase)
	}

	// The file's permissions are checked again when it is read.
	file := c.Identity.PassphraseFile
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identity.Passphrase(); !errors.Is(err, ErrTooOpen) || strings.Contains(err.Error(), passphrase) {
		t.Errorf("Passphrase from a 0644 file: got %v, want ErrTooOpen without the passphrase", err)
	}
	if err := os.WriteFile(file, []byte("\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identity.Passphrase(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("Passphrase from an empty file: got %v, want an error saying it is empty", err)
	}

	env := Identity{PassphraseEnv: "SEALPOST_TEST_PASSPHRASE"}
	t.Setenv("SEALPOST_TEST_PASSPHRASE", passphrase)
	if got, err := env.Passphrase(); err != nil || string(got) != passphrase {
		t.Errorf("Passphrase from env: got %q, %v; want %q", got, err, passphrase)
	}
	t.Setenv("SEALPOST_TEST_PASSPHRASE", "")
	if _, err := env.Passphrase(); err == nil || !strings.Contains(err.Error(), "SEALPOST_TEST_PASSPHRASE is not set") {
		t.Errorf("Passphrase from an empty env var: got %v, want it named", err)
	}
	if got, err := (Identity{}).Passphrase(); got != nil || err != nil {
		t.Errorf("Passphrase with neither: got %q, %v; want nil, nil", got, err)
	}
}

// TestPassphraseEnvLoad loads a config naming an environment variable: Load
// does not need it set, and a passphrase written in its place is not echoed.
func TestPassphraseEnvLoad(t *testing.T) {
	dir, _ := fixture(t)
	path := writeConfig(t, dir, strings.Replace(fullYAML, "passphrase_file: secrets/pgp-passphrase", "passphrase_env: SEALPOST_UNSET_VAR", 1))
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity.PassphraseEnv != "SEALPOST_UNSET_VAR" || c.Identity.PassphraseFile != "" {
		t.Errorf("Identity: got %+v", c.Identity)
	}
	if _, err := c.Identity.Passphrase(); err == nil || !strings.Contains(err.Error(), "SEALPOST_UNSET_VAR") {
		t.Errorf("Passphrase: got %v, want an error naming SEALPOST_UNSET_VAR", err)
	}

	path = writeConfig(t, dir, strings.Replace(fullYAML, "passphrase_file: secrets/pgp-passphrase", "passphrase_env: "+passphrase, 1))
	_, err = Load(path)
	if err == nil || strings.Contains(err.Error(), passphrase) || !strings.Contains(err.Error(), "identity.passphrase_env") {
		t.Errorf("Load with a passphrase in passphrase_env: got %v, want an error that does not echo it", err)
	}
}

func TestPartner(t *testing.T) {
	_, path := fixture(t)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PartnerIDs(); !reflect.DeepEqual(got, []string{"de-zoll", "uk-hmrc"}) {
		t.Errorf("PartnerIDs: got %v", got)
	}
	if p, err := c.Partner("uk-hmrc"); err != nil || p.ID != "uk-hmrc" {
		t.Errorf("Partner(uk-hmrc): got %v, %v", p, err)
	}
	_, err = c.Partner("fr-dgddi")
	if !errors.Is(err, ErrUnknownPartner) || !strings.Contains(err.Error(), `"fr-dgddi" (known: de-zoll, uk-hmrc)`) {
		t.Errorf("Partner(fr-dgddi): got %v, want ErrUnknownPartner listing the known ones", err)
	}
}

// TestExampleConfig loads config.example.yaml (with the files it names made
// in a temp copy) and checks that it shows every key the code knows.
func TestExampleConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir)
	path := writeConfig(t, dir, string(example))
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Partners["uk-hmrc"]
	if c.Identity.ID != "us-cbp" || p == nil || p.Limits.MaxBytes != DefaultMaxBytes || p.SFTP.Timeout != DefaultTimeout {
		t.Errorf("example loads as %+v, partner %+v", c, p)
	}
	if l := c.Partners["de-zoll"].Local; l == nil || *l != (Local{Root: "/srv/sealpost-drop/de-zoll",
		PushDir: "to-de-zoll", PullDir: "from-de-zoll", AfterPull: "move", MoveDir: "from-de-zoll/done"}) {
		t.Errorf("example's local drop loads as %+v", l)
	}

	var root yaml.Node
	if err := yaml.Unmarshal(example, &root); err != nil {
		t.Fatal(err)
	}
	w := &walker{}
	sections := map[string]fields{
		"":                          w.rootFields(&Config{}),
		"identity":                  w.identityFields(&Identity{}),
		"metrics":                   w.metricsFields(&Metrics{}),
		"partners.uk-hmrc":          w.partnerFields(&Partner{}),
		"partners.uk-hmrc.sftp":     w.sftpFields(&SFTP{}),
		"partners.de-zoll.local":    w.localFields(&Local{}, &localDirs{}),
		"partners.uk-hmrc.schedule": w.scheduleFields(&Schedule{}),
		"partners.uk-hmrc.pgp":      w.pgpFields(&PGP{}),
		"partners.uk-hmrc.limits":   w.limitsFields(&Limits{}),
	}
	for section, fs := range sections {
		for key := range fs {
			full := join(section, key)
			if full == "partners.uk-hmrc.local" {
				continue // a partner has sftp or local: local is shown under de-zoll
			}
			if full == "identity.passphrase_env" {
				if !bytes.Contains(example, []byte("# passphrase_env: ")) {
					t.Errorf("config.example.yaml does not show %s in a comment", full)
				}
				continue
			}
			if lookup(root.Content[0], strings.Split(full, ".")) == nil {
				t.Errorf("config.example.yaml does not set %s", full)
			}
		}
	}
}

// lookup returns the value at the key path in a mapping node, or nil.
func lookup(n *yaml.Node, path []string) *yaml.Node {
	if len(path) == 0 {
		return n
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Kind == yaml.MappingNode && n.Content[i].Value == path[0] {
			return lookup(n.Content[i+1], path[1:])
		}
	}
	return nil
}

// FuzzLoad writes each input as a config beside the files fullYAML names
// (one folder per fuzz process; inputs run one at a time) and loads it: Load must not panic, must return only *Error, and must never
// reveal the passphrase file's contents.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(fullYAML, "{{dir}}/", "")))
	f.Add([]byte("partners: &a {x: *a}\n"))
	dir := f.TempDir()
	writeFiles(f, dir)
	path := filepath.Join(dir, "sealpost.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Load: %T %v is not a *config.Error", err, err)
		}
		if err != nil && !bytes.Contains(data, []byte(passphrase)) && strings.Contains(err.Error(), passphrase) {
			t.Fatalf("Load revealed the passphrase: %v", err)
		}
	})
}

// TestConfigWritableByOthers checks that a configuration file that group
// or others may write is refused: it decides which keys are trusted.
func TestConfigWritableByOthers(t *testing.T) {
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		dir := t.TempDir()
		path := filepath.Join(dir, "sealpost.yaml")
		if err := os.WriteFile(path, []byte("identity:\n  id: us-cbp\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		var ce *Error
		if !errors.As(err, &ce) || !errors.Is(err, ErrWritableByOthers) || !strings.Contains(err.Error(), "chmod go-w") {
			t.Fatalf("mode %04o: got %v, want a *config.Error wrapping ErrWritableByOthers with a chmod hint", mode, err)
		}
	}
}
