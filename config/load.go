package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults for what a partner leaves out.
const (
	DefaultMaxBytes         int64 = 10 << 30
	DefaultMaxFiles               = 10000
	DefaultSettle                 = 30 * time.Second
	DefaultReceiptDue             = 24 * time.Hour
	DefaultResponseDue            = 720 * time.Hour
	DefaultTimeout                = 30 * time.Second
	DefaultPullSettle             = 10 * time.Second
	DefaultRunDeadline            = 6 * time.Hour
	DefaultDownloadDeadline       = time.Hour
	DefaultMaxRefused             = 100
	DefaultQuarantineFiles        = 1000
	DefaultQuarantineSize   int64 = 20 << 30
)

// Load reads the configuration at path, strictly decodes it (unknown keys are
// errors), resolves relative paths against the file's folder, applies
// defaults and validates values and the files named. Every error is a
// *Error naming the file, line and key at fault.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	data, err := readConfig(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: path, Err: err}
	}
	if err := CheckOwner(abs); err != nil {
		return nil, &Error{File: path, Err: err}
	}
	w := &walker{file: path, dir: filepath.Dir(abs), partnerLines: map[string]int{}}
	root, err := w.parse(data)
	if err != nil {
		return nil, err
	}
	c := &Config{File: abs, Partners: map[string]*Partner{}}
	if err := w.config(c, root); err != nil {
		return nil, err
	}
	return c, nil
}

// walker decodes a yaml.Node tree into a Config, key by key, so that each
// error can name its line.
type walker struct {
	file         string         // the path as given to Load, for errors
	dir          string         // absolute folder of the file, for relative paths
	partnerLines map[string]int // line of each partner's key
}

// field decodes the value v found under the dotted key path, whose key is on line.
type field func(path string, line int, v *yaml.Node) error

// fields maps the keys a mapping may hold to their decoders.
type fields map[string]field

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the root node of the file's one YAML document.
func (w *walker) parse(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, w.errf(0, "", "the file is empty; it needs identity, state_dir and partners")
		}
		return nil, w.syntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, w.errf(extra.Line, "", "the file holds more than one YAML document")
	case !errors.Is(err, io.EOF):
		return nil, w.syntaxError(err)
	}
	if len(doc.Content) == 0 {
		return nil, w.errf(0, "", "the file is empty; it needs identity, state_dir and partners")
	}
	return doc.Content[0], nil
}

// syntaxError moves the line out of a YAML parser error into an *Error.
func (w *walker) syntaxError(err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return w.errf(line, "", "%s", m[2])
	}
	return &Error{File: w.file, Err: err}
}

// config decodes the root mapping and checks what spans sections.
func (w *walker) config(c *Config, root *yaml.Node) error {
	if _, err := w.decodeSection("", root.Line, root, w.rootFields(c), "identity", "state_dir", "partners"); err != nil {
		return err
	}
	auditDefaults(&c.Audit, c.StateDir)
	if _, ok := c.Partners[c.Identity.ID]; ok {
		return w.errf(w.partnerLines[c.Identity.ID], "partners."+c.Identity.ID,
			"is our own identity.id; a partner needs an id of its own")
	}
	return nil
}

// identity decodes the identity section.
func (w *walker) identity(id *Identity) field {
	return func(path string, line int, v *yaml.Node) error {
		keys, err := w.decodeSection(path, line, v, w.identityFields(id), "id", "private_key")
		if err != nil {
			return err
		}
		f, e := keys["passphrase_file"], keys["passphrase_env"]
		if f != nil && e != nil {
			if f.Line > e.Line {
				e = f
			}
			return w.errf(e.Line, join(path, e.Value), "passphrase_file and passphrase_env are both set; keep one")
		}
		return nil
	}
}

// partners decodes the partners mapping: one section per party id.
func (w *walker) partners(ps map[string]*Partner) field {
	return func(path string, line int, v *yaml.Node) error {
		err := w.each(path, v, func(k, v *yaml.Node) error {
			key := join(path, k.Value)
			if !ValidPartyID(k.Value) {
				return w.errf(k.Line, key, "%q is not a valid party id %s", k.Value, partyIDRule)
			}
			p := newPartner(k.Value)
			keys, err := w.decodeSection(key, k.Line, v, w.partnerFields(p), "public_key", "fingerprints")
			if err != nil {
				return err
			}
			if err := w.oneTransport(key, k.Line, keys); err != nil {
				return err
			}
			ps[p.ID] = p
			w.partnerLines[p.ID] = k.Line
			return nil
		})
		if err == nil && len(ps) == 0 {
			return w.errf(line, path, "no partners are configured; add at least one")
		}
		return err
	}
}

// newPartner returns a partner with every default set.
func newPartner(id string) *Partner {
	return &Partner{
		ID:   id,
		SFTP: SFTP{AfterPull: "delete", Timeout: DefaultTimeout, DownloadDeadline: DefaultDownloadDeadline},
		PGP:  PGP{Profile: "auto", Compression: "none"},
		Limits: Limits{MaxBytes: DefaultMaxBytes, MaxFiles: DefaultMaxFiles, MaxRefused: DefaultMaxRefused,
			QuarantineFiles: DefaultQuarantineFiles, QuarantineSize: DefaultQuarantineSize},
		Settle:      DefaultSettle,
		PullSettle:  DefaultPullSettle,
		RunDeadline: DefaultRunDeadline,
		ReceiptDue:  DefaultReceiptDue,
		ResponseDue: DefaultResponseDue,
	}
}

// sftp decodes a partner's sftp section and checks its folders against each other.
func (w *walker) sftp(s *SFTP) field {
	return func(path string, line int, v *yaml.Node) error {
		keys, err := w.decodeSection(path, line, v, w.sftpFields(s),
			"address", "user", "private_key", "known_hosts", "push_dir", "pull_dir")
		if err != nil {
			return err
		}
		switch {
		case sameRemoteDir(s.PushDir, s.PullDir):
			return w.errf(keys["pull_dir"].Line, path+".pull_dir",
				"is the same folder as push_dir; we would pull our own bundles")
		case s.AfterPull == "move" && sameRemoteDir(s.MoveDir, s.PullDir):
			return w.errf(keys["after_pull"].Line, path+".after_pull",
				"moves files into pull_dir itself; they would be pulled again")
		}
		return nil
	}
}

// oneTransport checks that a partner has exactly one of sftp (the partner
// hosts the drop) and local (we host it).
func (w *walker) oneTransport(path string, line int, keys map[string]*yaml.Node) error {
	s, l := keys["sftp"], keys["local"]
	switch {
	case s != nil && l != nil:
		later := max(s.Line, l.Line)
		return w.errf(later, path, "sftp and local are both set; keep one (sftp: the partner hosts the drop; local: we host it)")
	case s == nil && l == nil:
		return w.errf(line, join(path, "sftp"), "required key is missing (or local, when we host the drop on this machine)")
	}
	return nil
}

// localDirs are the folders of a local section as written, before they
// are resolved against its root.
type localDirs struct{ push, pull, move string }

// local decodes a partner's local section: the folders are resolved
// against root (or root is found as the deepest folder holding them) and
// kept relative to it.
func (w *walker) local(p *Partner) field {
	return func(path string, line int, v *yaml.Node) error {
		l := &Local{AfterPull: "delete"}
		var dirs localDirs
		keys, err := w.decodeSection(path, line, v, w.localFields(l, &dirs), "push_dir", "pull_dir")
		if err != nil {
			return err
		}
		if err := w.resolveLocal(path, line, keys, l, dirs); err != nil {
			return err
		}
		p.Local = l
		return nil
	}
}

// resolveLocal sets l's folders from dirs, relative to l.Root, and checks
// them against each other as sftp does.
func (w *walker) resolveLocal(path string, line int, keys map[string]*yaml.Node, l *Local, dirs localDirs) error {
	type folder struct {
		key   string
		given string
		dst   *string
	}
	folders := []folder{{"push_dir", dirs.push, &l.PushDir}, {"pull_dir", dirs.pull, &l.PullDir}}
	if l.AfterPull == "move" {
		folders = append(folders, folder{"after_pull", dirs.move, &l.MoveDir})
	}
	abs := make([]string, len(folders))
	for i, f := range folders {
		switch {
		case filepath.IsAbs(f.given):
			abs[i] = filepath.Clean(f.given)
		case l.Root == "":
			return w.errf(keys[f.key].Line, join(path, f.key), "%q is a relative folder but no root is set; give an absolute folder or set root", f.given)
		default:
			abs[i] = filepath.Join(l.Root, f.given)
		}
	}
	if l.Root == "" {
		if l.Root = commonFolder(abs); l.Root == string(filepath.Separator) {
			return w.errf(line, join(path, "root"), "is not set and the folders share no folder but /; set root to the folder holding the drop")
		}
	}
	for i, f := range folders {
		rel, err := filepath.Rel(l.Root, abs[i])
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return w.errf(keys[f.key].Line, join(path, f.key), "%s is not inside root %s", abs[i], l.Root)
		}
		*f.dst = filepath.ToSlash(rel)
	}
	switch {
	case l.PushDir == l.PullDir:
		return w.errf(keys["pull_dir"].Line, path+".pull_dir", "is the same folder as push_dir; we would pull our own bundles")
	case l.AfterPull == "move" && l.MoveDir == l.PullDir:
		return w.errf(keys["after_pull"].Line, path+".after_pull", "moves files into pull_dir itself; they would be pulled again")
	}
	return nil
}

// commonFolder returns the deepest folder holding every one of the clean
// absolute paths.
func commonFolder(paths []string) string {
	common := paths[0]
	for _, p := range paths[1:] {
		for common != string(filepath.Separator) && p != common && !strings.HasPrefix(p, common+string(filepath.Separator)) {
			common = filepath.Dir(common)
		}
	}
	return common
}

// section returns a field that decodes a nested mapping with fs.
func (w *walker) section(fs fields, required ...string) field {
	return func(path string, line int, v *yaml.Node) error {
		_, err := w.decodeSection(path, line, v, fs, required...)
		return err
	}
}

// decodeSection decodes the mapping v with fs, checks that the required keys
// are there, and returns the key nodes found, by name.
func (w *walker) decodeSection(path string, line int, v *yaml.Node, fs fields, required ...string) (map[string]*yaml.Node, error) {
	keys := map[string]*yaml.Node{}
	err := w.each(path, v, func(k, v *yaml.Node) error {
		key := join(path, k.Value)
		f, ok := fs[k.Value]
		if !ok {
			return w.errf(k.Line, key, "unknown key (known keys: %s)", knownKeys(fs))
		}
		keys[k.Value] = k
		return f(key, k.Line, v)
	})
	if err != nil {
		return nil, err
	}
	for _, k := range required {
		if keys[k] == nil {
			return nil, w.errf(line, join(path, k), "required key is missing")
		}
	}
	return keys, nil
}

// each calls fn for every key and value of the mapping n, refusing other
// nodes, keys that are not plain names and duplicate keys. A null n counts
// as an empty mapping.
func (w *walker) each(path string, n *yaml.Node, fn func(k, v *yaml.Node) error) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return w.errf(n.Line, path, "expected a mapping of keys, got %s", describe(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			return w.errf(k.Line, path, "a key must be a plain name, got %s", describe(k))
		}
		if seen[k.Value] {
			return w.errf(k.Line, join(path, k.Value), "duplicate key")
		}
		seen[k.Value] = true
		if err := fn(k, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// errf returns an *Error for key at line.
func (w *walker) errf(line int, key, format string, args ...any) error {
	return &Error{File: w.file, Line: line, Key: key, Err: fmt.Errorf(format, args...)}
}

// wrap returns an *Error for key at line with err as its reason.
func (w *walker) wrap(line int, key string, err error) error {
	return &Error{File: w.file, Line: line, Key: key, Err: err}
}

// ErrWritableByOthers is wrapped when the configuration file can be
// changed by other users: whoever can write it chooses which keys and
// hosts are trusted.
var ErrWritableByOthers = errors.New("writable by others")

// readConfig reads the configuration file at path after checking, on the
// open file, that it is a regular file that neither another user owns nor
// its group or others may write, as OpenSSH's StrictModes does for its own
// files: the file checked is the file read.
func readConfig(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO must not block the load
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("permissions %04o are too open: the file is %w and decides which keys are trusted; run chmod go-w %s",
			perm, ErrWritableByOthers, path)
	}
	if err := checkFileOwner(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
