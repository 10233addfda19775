// Package gpgpartner holds no code: its test runs the shell scripts of
// contrib/gpg-partner (a partner with only gpg, tar, sha256sum, jq and
// OpenSSH sftp) against sealpost over a real OpenSSH sshd, both ways, so
// that docs/partner-without-sealpost.md cannot rot.
package gpgpartner
