package bundle

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Name limits inside a bundle: a component as most file systems allow, and a path.
const (
	maxComponentLen = 255
	maxPathLen      = 4096
)

// Top-level names in a bundle.
const (
	payloadDir   = "payload"
	manifestName = "manifest.json"
)

// checkPath returns why name cannot be a path inside a bundle, or nil: it
// must be valid UTF-8, relative, made of non-empty components other than "."
// and "..", without NUL, backslashes, control or bidirectional-control characters.
func checkPath(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case len(name) > maxPathLen:
		return fmt.Errorf("is longer than %d bytes", maxPathLen)
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8")
	case strings.HasPrefix(name, "/"):
		return errors.New("is absolute")
	}
	for _, r := range name {
		switch {
		case r == 0:
			return errors.New("contains NUL")
		case r == '\\':
			return errors.New("contains a backslash")
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	for c := range strings.SplitSeq(name, "/") {
		switch {
		case c == "":
			return errors.New("has an empty component")
		case c == "." || c == "..":
			return fmt.Errorf("has a %q component", c)
		case len(c) > maxComponentLen:
			return fmt.Errorf("has a component longer than %d bytes", maxComponentLen)
		}
	}
	return nil
}

// checkPayloadPath returns why name cannot be a payload file's path, or nil.
func checkPayloadPath(name string) error {
	if err := checkPath(name); err != nil {
		return err
	}
	if !strings.HasPrefix(name, payloadDir+"/") {
		return errors.New("is not under payload/")
	}
	return nil
}

// nameSet records the paths of a bundle and refuses one that repeats,
// exactly or after Unicode case folding and NFC normalisation, so that no two
// entries land on the same file on a case-insensitive or normalising file
// system. Folders are claimed implicitly by the paths below them; a folder
// and a file may not share a name.
type nameSet struct {
	fold  cases.Caser
	names map[string]*claim
	dirs  int
	// onDir, if set, is called for each new folder, parents first.
	onDir func(name string) error
}

type claim struct {
	name     string
	dir      bool
	explicit bool
}

func newNameSet() *nameSet {
	return &nameSet{fold: cases.Fold(), names: map[string]*claim{}}
}

// key is the name under which two paths collide.
func (s *nameSet) key(name string) string {
	return norm.NFC.String(s.fold.String(norm.NFC.String(name)))
}

// add claims the file path name and the folders above it.
func (s *nameSet) add(name string) error {
	if err := s.parents(name); err != nil {
		return err
	}
	return s.claim(name, false, true)
}

// addDir claims the folder path name (an explicit folder entry) and the folders above it.
func (s *nameSet) addDir(name string) error {
	if err := s.parents(name); err != nil {
		return err
	}
	return s.claim(name, true, true)
}

// parents claims the folders above name.
func (s *nameSet) parents(name string) error {
	for i := range len(name) {
		if name[i] == '/' {
			if err := s.claim(name[:i], true, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// claim records one path, refusing a collision.
func (s *nameSet) claim(name string, dir, explicit bool) error {
	k := s.key(name)
	c, ok := s.names[k]
	switch {
	case !ok:
		s.names[k] = &claim{name: name, dir: dir, explicit: explicit}
		if !dir {
			return nil
		}
		s.dirs++
		if s.onDir == nil {
			return nil
		}
		return s.onDir(name)
	case c.name != name:
		return fmt.Errorf("%+q collides with %+q (the same name after case folding and NFC normalisation)", name, c.name)
	case c.dir != dir:
		return fmt.Errorf("%q is both a file and a folder", name)
	case !dir || explicit && c.explicit:
		return fmt.Errorf("%q appears twice", name)
	}
	c.explicit = c.explicit || explicit
	return nil
}
