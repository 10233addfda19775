package bundle

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/safetext"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Name limits inside a bundle: a component as most file systems allow, a
// path as Linux's PATH_MAX, and a depth (components, payload/ included) far
// beyond any real folder tree. The depth bound keeps the work of extracting a
// path small: each component costs one open of a folder at most.
const (
	maxComponentLen = 255
	maxPathLen      = 4096
	maxPathDepth    = 64
)

// Top-level names in a bundle.
const (
	payloadDir   = "payload"
	manifestName = "manifest.json"
)

// checkPath returns why name cannot be a path inside a bundle, or nil: it
// must be valid UTF-8, relative, at most maxPathLen bytes in at most
// maxPathDepth components of at most maxComponentLen bytes, none empty, "."
// or "..", without NUL, backslashes, or characters that do not show as
// themselves (safetext.Invisible: controls, bidirectional and other format
// characters, separators, private-use, noncharacters). It takes time linear
// in len(name).
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
	case strings.Count(name, "/") >= maxPathDepth:
		return fmt.Errorf("is more than %d folders deep", maxPathDepth)
	}
	for _, r := range name {
		switch {
		case r == 0:
			return errors.New("contains NUL")
		case r == '\\':
			return errors.New("contains a backslash")
		case safetext.Invisible(r):
			return fmt.Errorf("contains the invisible or control character %U", r)
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
// and a file may not share a name. The paths form a tree keyed by folded
// component, so claiming a path costs time linear in its length, however
// deep it is and however many paths came before; it keeps a copy of each
// component only, not the names it was given.
type nameSet struct {
	fold cases.Caser
	top  *claim
	dirs int
	// onDir, if set, is called for each new folder, parents first.
	onDir func(name string) error
}

// claim is one path of the tree: a file or a folder.
type claim struct {
	comp     string // its last component, as first claimed
	parent   *claim // nil for the top
	dir      bool
	explicit bool
	kids     map[string]*claim // by folded component; nil for a file
}

func newNameSet() *nameSet {
	return &nameSet{fold: cases.Fold(), top: &claim{dir: true, kids: map[string]*claim{}}}
}

// key is the name under which two components collide. Folding and NFC
// normalisation never join characters across a "/", so two paths collide
// exactly when their components do, one by one.
func (s *nameSet) key(comp string) string {
	if isASCII(comp) { // the common case, cheaply: ASCII folds to lowercase ASCII, already NFC
		return strings.ToLower(comp)
	}
	return norm.NFC.String(s.fold.String(norm.NFC.String(comp)))
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// add claims the file path name and the folders above it.
func (s *nameSet) add(name string) error {
	return s.claimPath(name, false)
}

// addDir claims the folder path name (an explicit folder entry) and the folders above it.
func (s *nameSet) addDir(name string) error {
	return s.claimPath(name, true)
}

// claimPath walks name from the top, claiming each folder above it and
// then name itself.
func (s *nameSet) claimPath(name string, dir bool) error {
	parent := s.top
	for start := 0; ; {
		end := strings.IndexByte(name[start:], '/')
		if end < 0 {
			_, err := s.claim(parent, name, start, dir, true)
			return err
		}
		next, err := s.claim(parent, name[:start+end], start, true, false)
		if err != nil {
			return err
		}
		parent, start = next, start+end+1
	}
}

// claim records the path name, whose last component starts at start, below
// parent, refusing a collision, and returns its node.
func (s *nameSet) claim(parent *claim, name string, start int, dir, explicit bool) (*claim, error) {
	comp := name[start:]
	k := s.key(comp)
	c, ok := parent.kids[k]
	switch {
	case !ok:
		c = &claim{comp: strings.Clone(comp), parent: parent, dir: dir, explicit: explicit}
		return c, s.create(strings.Clone(k), name, c)
	case c.comp != comp:
		return nil, fmt.Errorf("%s collides with %s (the same name after case folding and NFC normalisation)",
			safetext.Quote(name), safetext.Quote(c.path()))
	case c.dir != dir:
		return nil, fmt.Errorf("%s is both a file and a folder", safetext.Quote(name))
	case !dir || explicit && c.explicit:
		return nil, fmt.Errorf("%s appears twice", safetext.Quote(name))
	}
	c.explicit = c.explicit || explicit
	return c, nil
}

// create adds the new node c, of path name, below its parent under key k,
// telling onDir of a folder.
func (s *nameSet) create(k, name string, c *claim) error {
	c.parent.kids[k] = c
	if !c.dir {
		return nil
	}
	c.kids = map[string]*claim{}
	s.dirs++
	if s.onDir == nil {
		return nil
	}
	return s.onDir(name)
}

// path returns the path of c as first claimed.
func (c *claim) path() string {
	var comps []string
	for ; c.parent != nil; c = c.parent {
		comps = append(comps, c.comp)
	}
	slices.Reverse(comps)
	return strings.Join(comps, "/")
}
