package exchange

import (
	"context"
	"io"
	"io/fs"

	"github.com/sealpost/sealpost/exchange/drop"
)

// Transport is what the engine needs of a partner's drop: list, download,
// upload under a temporary name and publish, stat, remove and move. Paths
// are slash-separated, as the configuration gives them. Every method
// refuses to start once its context has ended and stops at once when it
// ends. Implementations are pointers (the retry
// tells connections apart by identity) and are used from several
// goroutines; errors are classified for the retry by drop.IsPermanent and
// drop.IsAnswered. *sftpdrop.Drop is one.
type Transport interface {
	// List returns the bundle files waiting in dir, sorted by name, and
	// the entries refused with their reasons.
	List(ctx context.Context, dir string) ([]drop.Entry, []drop.Skipped, error)
	// DownloadListed copies a file as List returned it into w and returns
	// the byte count; drop.ErrChanged when it no longer is what was listed.
	DownloadListed(ctx context.Context, dir string, ent drop.Entry, w io.Writer) (int64, error)
	// Create starts an upload of dir/name under a hidden temporary name,
	// created afresh; ctx bounds the upload's writes.
	Create(ctx context.Context, dir, name string) (drop.Upload, error)
	// Stat returns the attributes of the file at path.
	Stat(ctx context.Context, path string) (fs.FileInfo, error)
	// Remove deletes the file at path; one already gone is not an error.
	Remove(ctx context.Context, path string) error
	// Rename moves oldpath to newpath.
	Rename(ctx context.Context, oldpath, newpath string) error
	// Address names the drop for the exchange log (host:port, a folder).
	Address() string
	// HostKey returns the fingerprint of the drop's key ("" when it has none).
	HostKey() string
	// Close ends the connection.
	Close() error
}
