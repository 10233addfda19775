package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/sealpost/sealpost/internal/progress"
	"github.com/sealpost/sealpost/internal/safeopen"
	"github.com/sealpost/sealpost/internal/safetext"
)

// Source is one thing to put in a bundle: the file or folder at Path, placed
// at payload/<Name> (a folder's contents below it).
type Source struct {
	Path string
	Name string
}

// Names in an outbox folder that are read, not sent.
const (
	ItemMetaName = "bundle.yaml"
	ReadyName    = "READY"
)

// maxItemMetaSize bounds bundle.yaml.
const maxItemMetaSize = 64 << 10

// SourcesForItem returns the sources for an outbox item (SPEC §3): a regular
// file is one source at payload/<its name>; a folder gives one source per
// entry inside it, in lexical order, at payload/<entry name> (the folder's own
// name is not part of the paths), leaving out a top-level bundle.yaml and
// READY. A symbolic link or special file is refused with ErrUnsafeSource.
func SourcesForItem(path string) ([]Source, error) {
	fi, err := lstatSource(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []Source{{Path: path, Name: filepath.Base(path)}}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("reading outbox folder %s: %w", path, err)
	}
	var srcs []Source
	for _, e := range entries {
		if e.Name() == ItemMetaName || e.Name() == ReadyName {
			continue
		}
		srcs = append(srcs, Source{Path: filepath.Join(path, e.Name()), Name: e.Name()})
	}
	return srcs, nil
}

// SourcesForPaths returns the sources for the PATHs given to send or bundle
// seal: each at payload/<its base name>, a folder keeping its name as tar
// does. A symbolic link or special file is refused with ErrUnsafeSource, as
// are two PATHs with the same base name.
func SourcesForPaths(paths []string) ([]Source, error) {
	srcs := make([]Source, 0, len(paths))
	seen := newNameSet()
	for _, p := range paths {
		if _, err := lstatSource(p); err != nil {
			return nil, err
		}
		name := filepath.Base(filepath.Clean(p))
		if err := checkSourceName(p, name); err != nil {
			return nil, err
		}
		if err := seen.add(payloadDir + "/" + name); err != nil {
			return nil, fmt.Errorf("%s: its name in the bundle: %v: %w", p, err, ErrUnsafeSource)
		}
		srcs = append(srcs, Source{Path: p, Name: name})
	}
	return srcs, nil
}

// lstatSource stats path without following it and refuses anything but a regular file or folder.
func lstatSource(path string) (os.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, fmt.Errorf("%s is a %s, not a regular file or folder: %w", path, safeopen.Kind(fi.Mode()), ErrUnsafeSource)
	}
	return fi, nil
}

// checkSourceName refuses a name a bundle cannot carry.
func checkSourceName(path, name string) error {
	if err := checkPath(payloadDir + "/" + name); err != nil {
		return fmt.Errorf("%s: its name in the bundle %q %v: %w", path, name, err, ErrUnsafeSource)
	}
	return nil
}

// itemMeta is bundle.yaml.
type itemMeta struct {
	Reference string `yaml:"reference"`
	InReplyTo string `yaml:"in_reply_to"`
}

// ReadItemMeta reads the optional bundle.yaml of an outbox folder (keys
// reference and in_reply_to, nothing else). A missing file gives empty
// values and no error; in_reply_to, when set, must be a lowercase UUID, and
// reference at most MaxReference bytes.
func ReadItemMeta(folder string) (reference, inReplyTo string, err error) {
	path := filepath.Join(folder, ItemMetaName)
	f, err := openNoFollow(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxItemMetaSize+1))
	if err != nil {
		return "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxItemMetaSize {
		return "", "", fmt.Errorf("%s is larger than %d bytes", path, maxItemMetaSize)
	}
	var meta itemMeta
	if err := decodeStrict(data, &meta); err != nil {
		return "", "", fmt.Errorf("%s: %w", path, err)
	}
	if meta.InReplyTo != "" && !ValidID(meta.InReplyTo) {
		return "", "", fmt.Errorf("%s: in_reply_to %s is not a lowercase bundle id (UUID)", path, safetext.Quote(meta.InReplyTo))
	}
	if len(meta.Reference) > MaxReference {
		return "", "", fmt.Errorf("%s: reference is %d bytes, more than %d", path, len(meta.Reference), MaxReference)
	}
	return meta.Reference, meta.InReplyTo, nil
}

// decodeStrict decodes one YAML document into v, refusing unknown keys and further documents.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && err != io.EOF {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return errors.New("holds more than one YAML document")
	}
	return nil
}

// openNoFollow opens path for reading without following a final symbolic link
// or blocking on a named pipe, and refuses anything but a regular file with
// one link, judged on the open descriptor.
func openNoFollow(path string) (*os.File, error) {
	f, _, err := safeopen.Open(path)
	return f, unsafeSource(err)
}

// unsafeSource marks a safeopen refusal as ErrUnsafeSource, keeping its
// message; other errors are returned as they are.
func unsafeSource(err error) error {
	if errors.Is(err, safeopen.ErrUnsafe) {
		return &sourceError{err}
	}
	return err
}

// sourceError is a safeopen refusal, which is also an ErrUnsafeSource.
type sourceError struct{ err error }

func (e *sourceError) Error() string   { return e.err.Error() }
func (e *sourceError) Unwrap() []error { return []error{e.err, ErrUnsafeSource} }

// SourcesSize adds up the sizes of the regular files at or under srcs,
// not following links and ignoring errors: about what sealing them writes.
func SourcesSize(srcs []Source) int64 {
	var n int64
	for _, s := range srcs {
		n += progress.TreeSize(s.Path)
	}
	return n
}
