package localdrop

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/sshdtest"
)

// TestPartnerThroughSshd: we host the drop and a partner uses the same
// folders through a real OpenSSH sshd with OpenSSH's sftp client, both
// ways: it fetches and deletes what we published, and uploads under a
// hidden .part name then renames, which we list, read and delete.
func TestPartnerThroughSshd(t *testing.T) {
	sshd := sshdtest.Start(t)
	for _, dir := range []string{"to-them", "from-them"} {
		if err := os.Mkdir(filepath.Join(sshd.Root, dir), 0o770); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Open(Config{Root: sshd.Root})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	ours, theirs := randomData(t, 300<<10), randomData(t, 200<<10+3)

	u, err := d.Create(ctx, "to-them", "us_them_request_1.pgp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(ours); err != nil {
		t.Fatal(err)
	}
	if err := u.Commit(ctx, int64(len(ours))); err != nil {
		t.Fatal(err)
	}

	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "response"), theirs, 0o600); err != nil {
		t.Fatal(err)
	}
	partnerSftp(t, sshd, work, `ls -la to-them
get to-them/us_them_request_1.pgp fetched
rm to-them/us_them_request_1.pgp
put response from-them/.them_us_response_2.pgp.part
rename from-them/.them_us_response_2.pgp.part from-them/them_us_response_2.pgp
`)
	if got, err := os.ReadFile(filepath.Join(work, "fetched")); err != nil || !bytes.Equal(got, ours) {
		t.Errorf("the partner fetched %d bytes (%v), not the %d we published", len(got), err, len(ours))
	}
	if names := dirNames(t, filepath.Join(sshd.Root, "to-them")); len(names) != 0 {
		t.Errorf("to-them holds %q after the partner deleted what it fetched", names)
	}

	entries, skipped, err := d.List(ctx, "from-them")
	if err != nil || len(skipped) != 0 || len(entries) != 1 || entries[0].Name != "them_us_response_2.pgp" {
		t.Fatalf("List from-them = %+v, %+v, %v", entries, skipped, err)
	}
	var got bytes.Buffer
	if n, err := d.DownloadListed(ctx, "from-them", entries[0], &got); err != nil || n != int64(len(theirs)) || !bytes.Equal(got.Bytes(), theirs) {
		t.Fatalf("DownloadListed = %d, %v; content equal %v", n, err, bytes.Equal(got.Bytes(), theirs))
	}
	if err := d.Remove(ctx, "from-them/them_us_response_2.pgp"); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, filepath.Join(sshd.Root, "from-them")); len(names) != 0 {
		t.Errorf("from-them holds %q after we deleted what we fetched", names)
	}
}

// partnerSftp runs OpenSSH's sftp client in batch mode in folder work,
// with the drop's root as its remote folder.
func partnerSftp(t *testing.T, sshd *sshdtest.Sshd, work, batch string) {
	t.Helper()
	host, port, _ := strings.Cut(sshd.Addr, ":")
	cmd := exec.Command("sftp", "-b", "-", "-P", port, "-i", sshd.ClientKey,
		"-o", "UserKnownHostsFile="+sshd.KnownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-F", "none",
		sshd.User+"@"+host+":"+sshd.Root+"/")
	cmd.Dir = work
	cmd.Stdin = strings.NewReader(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("partner's sftp: %v\n%s", err, out)
	}
}

// randomData returns n random bytes.
func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
