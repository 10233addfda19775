package bundle

import (
	"fmt"
	"os"
	"strings"

	"github.com/sealpost/sealpost/internal/safetext"
)

// folders creates folders and files in the staging folder relative to
// their parent. It keeps the chain of folders it last worked in open (at
// most maxPathDepth of them), so that each folder of a path is opened once
// and an entry beside the previous one costs no open at all. An archive
// written folder by folder (as tar and Write do) opens each folder once.
// One whose entries jump between deep folders would make it reopen whole
// chains for every entry: it may open at most reopensPerEntry folders per
// entry beyond one per folder it made, and is refused past that, so the
// work stays linear in the number of entries whatever their order.
type folders struct {
	chain   []openFolder // chain[0] is the staging folder, owned by the caller
	opens   int          // folders opened so far: the work done
	allowed int          // folders it may open, grown by each entry
}

// reopensPerEntry is how many folders an entry may cost beyond the folders
// it makes: enough for entries up to that deep in any order.
const reopensPerEntry = 8

// errJumps is why an archive whose entries jump between deep folders is refused.
var errJumps = fmt.Errorf("the archive's entries jump between deep folders more than %d times per entry "+
	"(entries must come grouped by folder, as tar writes them): %w", reopensPerEntry, ErrArchive)

// openFolder is one open folder of the chain.
type openFolder struct {
	name string // its last component; "" for the staging folder
	root *os.Root
}

// newFolders returns folders working in the staging folder root.
func newFolders(root *os.Root) *folders {
	return &folders{chain: []openFolder{{root: root}}, allowed: maxPathDepth}
}

// mkdir creates the folder name (whose parent exists), mode 0700 whatever the umask.
func (f *folders) mkdir(name string) error {
	f.allowed += 1 + reopensPerEntry
	parent, base, err := f.parent(name)
	if err != nil {
		return err
	}
	if err := parent.Mkdir(base, 0o700); err != nil {
		return fmt.Errorf("creating folder %s in the staging folder: %w", name, err)
	}
	if err := parent.Chmod(base, 0o700); err != nil {
		return fmt.Errorf("setting the mode of folder %s in the staging folder: %w", name, err)
	}
	return nil
}

// create makes the new file name (whose folder exists), mode 0600 whatever the umask.
func (f *folders) create(name string) (*os.File, error) {
	f.allowed += reopensPerEntry
	parent, base, err := f.parent(name)
	if err != nil {
		return nil, err
	}
	file, err := parent.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating %s in the staging folder: %w", name, err)
	}
	if err := file.Chmod(0o600); err != nil {
		file.Close()
		return nil, fmt.Errorf("setting the mode of %s in the staging folder: %w", name, err)
	}
	return file, nil
}

// parent returns the open folder holding name, and name's last component.
func (f *folders) parent(name string) (*os.Root, string, error) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return f.chain[0].root, name, nil
	}
	root, err := f.open(name[:i])
	return root, name[i+1:], err
}

// open returns the open folder dir, keeping the part of the chain it shares
// with dir and opening the rest one component at a time, within the
// allowance of opens.
func (f *folders) open(dir string) (*os.Root, error) {
	comps := strings.Split(dir, "/")
	n := 1
	for n < len(f.chain) && n <= len(comps) && f.chain[n].name == comps[n-1] {
		n++
	}
	f.closeFrom(n)
	for _, c := range comps[n-1:] {
		if f.opens >= f.allowed {
			return nil, fmt.Errorf("at folder %s: %w", safetext.Quote(dir), errJumps)
		}
		root, err := f.chain[len(f.chain)-1].root.OpenRoot(c)
		if err != nil {
			return nil, fmt.Errorf("opening folder %s in the staging folder: %w", dir, err)
		}
		f.opens++
		f.chain = append(f.chain, openFolder{name: c, root: root})
	}
	return f.chain[len(f.chain)-1].root, nil
}

// closeFrom closes the folders of the chain from index n on.
func (f *folders) closeFrom(n int) {
	for i := len(f.chain) - 1; i >= n; i-- {
		f.chain[i].root.Close()
	}
	f.chain = f.chain[:n]
}

// close closes every folder it opened.
func (f *folders) close() {
	f.closeFrom(1)
}
