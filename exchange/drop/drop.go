// Package drop is the vocabulary every transport of bundle files shares:
// the entries a drop folder lists, an upload under a temporary name, the
// sentinel errors the engine branches on, how an error is classified for
// retrying, and the rules for file names on a drop.
package drop

import (
	"context"
	"time"
)

// Entry is a bundle file waiting in a drop folder.
type Entry struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Skipped is a folder entry a listing refused to return, with the reason.
// Name is the raw name from the far side: print it quoted (%q).
type Skipped struct{ Name, Reason string }

// Upload is a file being written under a hidden temporary name in a drop
// folder. Nothing appears under the final name until Commit. After any
// error the upload is spoiled: the caller must Abort it. An Upload is used
// by one goroutine at a time.
type Upload interface {
	// Write adds p to the file.
	Write(p []byte) (int, error)
	// Commit finishes the file, checks that it holds exactly size bytes
	// (else ErrSize) and publishes it under its final name.
	Commit(ctx context.Context, size int64) error
	// Abort removes the temporary file; one already gone is not an error.
	Abort(ctx context.Context) error
	// Name returns the final path (dir/name).
	Name() string
}

// PartName is the hidden name a file is uploaded under before it is
// published as name (docs/format.md: ".<name>.part").
func PartName(name string) string { return "." + name + ".part" }
