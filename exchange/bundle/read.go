package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/fsx"
	"github.com/sealpost/sealpost/internal/safetext"
)

// Limits bound what Read accepts; zero means no limit.
type Limits struct {
	MaxBytes int64 // the tar stream, and the sum of its entries' sizes
	MaxFiles int   // payload files, and separately folders
}

// Expect names the parties a bundle must be from and to; an empty field is not checked.
type Expect struct {
	Sender, Recipient string
}

// Read reads a bundle's tar stream from src and extracts it into dir, which
// must exist and be empty, with os.Root containment: files 0600, folders
// 0700, manifest.json beside payload/. It returns the manifest only when all
// of SPEC §2's archive and manifest checks hold:
//
//   - entries are regular files and folders only (no links, devices, fifos,
//     pax global headers or sparse files);
//   - names are valid UTF-8, relative, without "..", "." or empty components,
//     backslashes, NUL, or characters that do not show as themselves
//     (controls, format characters, see checkPath), at most 4,096 bytes in at
//     most 64 components of at most 255 bytes, and lie under payload/, except
//     manifest.json at the top; each is refused before anything is created;
//   - entries come grouped by folder closely enough that extracting them
//     reopens at most 8 folders per entry (see folders): the work stays
//     linear in the number of entries;
//   - no name repeats, also after Unicode case folding and NFC normalisation;
//   - manifest.json appears exactly once, anywhere in the archive: our
//     writer puts it last, and a partner's tar may put it first; nothing
//     in it is trusted before every file was checked against it at the end
//     (and the caller verifies the signature over the whole stream);
//   - the manifest is valid (ParseManifest), its sender and recipient are
//     those expected, and every payload file matches its size and sha256,
//     none missing or extra;
//   - the stream and the sum of entry sizes stay within lim.MaxBytes (sizes
//     are checked from the headers before any data is written), and there are
//     at most lim.MaxFiles files and at most lim.MaxFiles folders, whose
//     payload paths add up to at most MaxManifestSize bytes (the manifest
//     must list them all), so that what an archive costs in memory before
//     its signature is checked is bounded whatever the limits.
//
// After the tar's end Read drains src to EOF, so that a verifying reader
// reaches its final check, and refuses trailing bytes that are not zero.
//
// Errors wrap ErrArchive, ErrManifest or ErrLimits and name the entry at
// fault, except that an error returned by src is passed on wrapped with %w
// (so, for example, a decryption reader's sentinel survives). When the archive
// is refused, Read first reads the rest of src: if src then fails, its error
// is returned instead, since unverified data may explain the refusal.
// On any error dir holds partial files; the caller removes it.
func Read(src io.Reader, dir string, lim Limits, exp Expect) (*Manifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the staging folder: %w", err)
	}
	defer root.Close()
	if err := checkEmpty(root, dir); err != nil {
		return nil, err
	}
	x := newExtractor(src, root, lim, exp)
	defer x.dirs.close()
	m, err := x.run()
	if err != nil {
		return nil, x.settle(err)
	}
	return m, nil
}

// newExtractor returns the state of one Read into the staging folder root.
func newExtractor(src io.Reader, root *os.Root, lim Limits, exp Expect) *extractor {
	sr := &srcReader{r: src, max: lim.MaxBytes}
	x := &extractor{
		src:   sr,
		tr:    tar.NewReader(sr),
		dirs:  newFolders(root),
		lim:   lim,
		exp:   exp,
		names: newNameSet(),
		buf:   make([]byte, copyBufferSize),
		files: map[string]File{},
	}
	x.names.onDir = x.mkdir
	return x
}

// checkEmpty refuses a staging folder that holds anything.
func checkEmpty(root *os.Root, dir string) error {
	f, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("opening the staging folder: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("the staging folder %s is not empty", dir)
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading the staging folder %s: %w", dir, err)
	}
	return nil
}

// errOverLimit is what srcReader returns once the stream passes Limits.MaxBytes.
var errOverLimit = errors.New("stream over limit")

// srcReader counts the bytes read from src, stops one byte past max (if
// max > 0), and records src's own error so that it can be told apart from a
// tar format error.
type srcReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
	err  error
}

func (s *srcReader) Read(p []byte) (int, error) {
	if s.over {
		return 0, errOverLimit
	}
	// One byte past max may be read: that is how the limit is detected. The
	// sum is not formed (max may be the largest int64).
	if rem := s.max - s.n; s.max > 0 && int64(len(p)) > rem {
		p = p[:rem+1]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	if s.max > 0 && s.n > s.max {
		s.over = true
		return n, errOverLimit
	}
	return n, err
}

// extractor is the state of one Read.
type extractor struct {
	src   *srcReader
	tr    *tar.Reader
	dirs  *folders
	lim   Limits
	exp   Expect
	names *nameSet
	buf   []byte
	files map[string]File
	total int64
	// pathBytes adds up the payload files' paths: the manifest lists
	// every one, so more than MaxManifestSize is refused before it costs
	// memory.
	pathBytes int64
	last      string // name of the last entry read
	manifest  []byte // manifest.json's bytes, once read
	dirErr    error  // why creating a folder failed
}

// run reads the whole stream and checks the manifest against what was extracted.
func (x *extractor) run() (*Manifest, error) {
	for {
		hdr, err := x.tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, x.readErr(x.where("the tar header"), err)
		}
		if err := x.entry(hdr); err != nil {
			return nil, err
		}
		x.last = hdr.Name
	}
	if x.manifest == nil {
		return nil, fmt.Errorf("the archive has no manifest.json: %w", ErrArchive)
	}
	if err := x.drain(); err != nil {
		return nil, err
	}
	m, err := ParseManifest(x.manifest)
	if err != nil {
		return nil, err
	}
	return m, x.check(m)
}

// where names a place in the stream for error messages.
func (x *extractor) where(what string) string {
	if x.last == "" {
		return what + " at the start"
	}
	return fmt.Sprintf("%s after entry %s", what, safetext.Quote(x.last))
}

// readErr classifies an error from reading the tar: src's own error, the
// stream limit, or a malformed archive.
func (x *extractor) readErr(what string, err error) error {
	switch {
	case x.src.err != nil:
		return fmt.Errorf("reading the bundle (%s): %w", what, x.src.err)
	case x.src.over:
		return fmt.Errorf("the tar stream is longer than the limit of %d bytes: %w", x.lim.MaxBytes, ErrLimits)
	}
	return fmt.Errorf("%s: %s: %w", what, safetext.Cut(err.Error(), maxErrText), ErrArchive)
}

// settle gives src's error precedence over a refusal: when the archive is
// refused, it reads the rest of src; whenever src has failed (also in the
// very read that brought the data refused), src's error is returned.
func (x *extractor) settle(err error) error {
	refused := errors.Is(err, ErrArchive) || errors.Is(err, ErrManifest) || errors.Is(err, ErrLimits)
	if refused && x.src.err == nil && !x.src.over {
		for {
			if _, rerr := x.src.Read(x.buf); rerr != nil {
				break
			}
		}
	}
	if x.src.err != nil && !errors.Is(err, x.src.err) {
		return fmt.Errorf("reading the bundle: %w (the archive was already refused: %v)", x.src.err, err)
	}
	return err
}

// entry checks and extracts one tar entry.
func (x *extractor) entry(hdr *tar.Header) error {
	if x.manifest != nil && hdr.Name == manifestName {
		return fmt.Errorf("manifest.json appears twice: %w", ErrArchive)
	}
	name, err := entryName(hdr)
	if err != nil {
		return fmt.Errorf("tar entry %s %v: %w", safetext.Quote(hdr.Name), err, ErrArchive)
	}
	switch {
	case hdr.Typeflag == tar.TypeDir:
		return x.claim(hdr.Name, name, true)
	case name == manifestName:
		return x.readManifest(hdr)
	}
	return x.file(hdr, name)
}

// entryName returns the path of a regular file or folder entry (without a
// folder's trailing slash), or why the entry is not allowed.
func entryName(hdr *tar.Header) (string, error) {
	if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeDir {
		return "", fmt.Errorf("is %s, not a regular file or folder", typeName(hdr.Typeflag))
	}
	if hdr.Typeflag == tar.TypeDir && hdr.Size != 0 {
		return "", fmt.Errorf("is a folder with a size (%d bytes)", hdr.Size)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return "", errors.New("is a sparse file")
		}
	}
	name := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	if err := checkPath(name); err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(name, payloadDir+"/"):
	case hdr.Typeflag == tar.TypeDir && name == payloadDir:
	case hdr.Typeflag == tar.TypeReg && name == manifestName:
	default:
		return "", errors.New("is not under payload/")
	}
	return name, nil
}

// typeName names a tar type flag, with an article, for error messages.
func typeName(flag byte) string {
	switch flag {
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a named pipe"
	case tar.TypeXGlobalHeader:
		return "a pax global header"
	case tar.TypeGNUSparse:
		return "a GNU sparse file"
	}
	return fmt.Sprintf("an entry of type %q", flag)
}

// claim records a path, creating the folders it implies (and the folder itself if dir).
func (x *extractor) claim(entry, name string, dir bool) error {
	add := x.names.add
	if dir {
		add = x.names.addDir
	}
	if err := add(name); err != nil {
		if x.dirErr != nil {
			return x.dirErr
		}
		return fmt.Errorf("tar entry %s: %v: %w", safetext.Quote(entry), err, ErrArchive)
	}
	return nil
}

// mkdir creates a folder in the staging folder, within the folder limit.
func (x *extractor) mkdir(name string) error {
	if x.lim.MaxFiles > 0 && x.names.dirs > x.lim.MaxFiles {
		x.dirErr = fmt.Errorf("the archive holds more than %d folders (at %s): %w", x.lim.MaxFiles, safetext.Quote(name), ErrLimits)
		return x.dirErr
	}
	x.dirErr = x.dirs.mkdir(name)
	return x.dirErr
}

// count adds an entry's size to the total, refusing it before its data is read if over the limit.
func (x *extractor) count(hdr *tar.Header) error {
	x.total += hdr.Size
	if x.lim.MaxBytes > 0 && x.total > x.lim.MaxBytes {
		return fmt.Errorf("tar entry %s (%d bytes) brings the bundle to %d bytes, more than the limit of %d: %w",
			safetext.Quote(hdr.Name), hdr.Size, x.total, x.lim.MaxBytes, ErrLimits)
	}
	return nil
}

// readManifest reads manifest.json into memory and writes it to the staging folder.
func (x *extractor) readManifest(hdr *tar.Header) error {
	if hdr.Size > MaxManifestSize {
		return fmt.Errorf("manifest.json is %d bytes, more than %d: %w", hdr.Size, MaxManifestSize, ErrLimits)
	}
	if err := x.count(hdr); err != nil {
		return err
	}
	if err := x.claim(hdr.Name, manifestName, false); err != nil {
		return err
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(x.tr, data); err != nil {
		return x.readErr("tar entry \"manifest.json\"", err)
	}
	f, err := x.dirs.create(manifestName)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing manifest.json in the staging folder: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing manifest.json in the staging folder: %w", err)
	}
	x.manifest = data
	return nil
}

// file extracts one payload file, hashing it as it is written.
func (x *extractor) file(hdr *tar.Header, name string) error {
	if x.lim.MaxFiles > 0 && len(x.files) >= x.lim.MaxFiles {
		return fmt.Errorf("tar entry %s is more than the limit of %d files: %w", safetext.Quote(name), x.lim.MaxFiles, ErrLimits)
	}
	if x.pathBytes += int64(len(name)); x.pathBytes > MaxManifestSize {
		return fmt.Errorf("tar entry %s: the payload's paths add up to more than %d bytes, more than manifest.json may list: %w", safetext.Quote(name), MaxManifestSize, ErrLimits)
	}
	if err := x.count(hdr); err != nil {
		return err
	}
	if err := x.claim(hdr.Name, name, false); err != nil {
		return err
	}
	f, err := x.dirs.create(name)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := x.copyEntry(io.MultiWriter(fsx.Writeback(f), h), name)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s in the staging folder: %w", name, cerr)
	}
	if err != nil {
		return err
	}
	x.files[name] = File{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

// copyEntry copies the current entry's data to w.
func (x *extractor) copyEntry(w io.Writer, name string) (int64, error) {
	var n int64
	for {
		k, rerr := x.tr.Read(x.buf)
		if k > 0 {
			if _, err := w.Write(x.buf[:k]); err != nil {
				return n, fmt.Errorf("writing %s in the staging folder: %w", name, err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, x.readErr("tar entry "+safetext.Quote(name), rerr)
		}
	}
}

// drain reads src to its end after the tar's end, refusing bytes that are not zero.
func (x *extractor) drain() error {
	for {
		k, err := x.src.Read(x.buf)
		for _, b := range x.buf[:k] {
			if b != 0 {
				return fmt.Errorf("non-zero data follows the end of the tar archive: %w", ErrArchive)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return x.readErr("after the end of the tar archive", err)
		}
	}
}

// check compares the manifest with the parties expected and the files extracted.
func (x *extractor) check(m *Manifest) error {
	if x.exp.Sender != "" && m.Sender != x.exp.Sender {
		return fmt.Errorf("manifest.json names the sender %s, not %q: %w", safetext.Quote(m.Sender), x.exp.Sender, ErrManifest)
	}
	if x.exp.Recipient != "" && m.Recipient != x.exp.Recipient {
		return fmt.Errorf("manifest.json names the recipient %s, not %q: %w", safetext.Quote(m.Recipient), x.exp.Recipient, ErrManifest)
	}
	for _, want := range m.Files {
		got, ok := x.files[want.Path]
		switch {
		case !ok:
			return fmt.Errorf("payload file %s is in manifest.json but not in the archive: %w", safetext.Quote(want.Path), ErrManifest)
		case got.Size != want.Size:
			return fmt.Errorf("payload file %s is %d bytes, manifest.json says %d: %w", safetext.Quote(want.Path), got.Size, want.Size, ErrManifest)
		case got.SHA256 != want.SHA256:
			return fmt.Errorf("payload file %s has sha256 %s, manifest.json says %s: %w", safetext.Quote(want.Path), got.SHA256, want.SHA256, ErrManifest)
		}
		delete(x.files, want.Path)
	}
	if len(x.files) > 0 {
		extra := slices.Sorted(maps.Keys(x.files))
		return fmt.Errorf("payload file %s is in the archive but not in manifest.json: %w", safetext.Quote(extra[0]), ErrManifest)
	}
	return nil
}
